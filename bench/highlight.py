"""Do highlighted citations land on the cited words? Box recall and precision, and what keeping the
boxes costs at ingest.

    python -m bench.highlight            # writes bench/results/highlight.json

Text PDFs (shared/eval-data/docs-docling/pdf): each chunk's sentences are cited as the answer
composer cites them (document offsets of a sentence of a passage); the highlight is what the API
draws (the chunk's stored boxes, packed and unpacked, merged per line). The truth comes another
way, straight from PDFium: the quote is found in the page's raw text (whitespace and line-end
hyphens aside) and its glyphs' boxes are merged per printed line.

Scans (shared/eval-data/ocr-sroie-receipts/dev): real receipt scans whose annotators drew a box
around every text line. Each annotated line is a quote: it is found in the OCR'd text (fuzzy, as
OCR misreads characters; lines found nowhere are counted apart) and highlighted; the truth is
the annotated box.

Per quote: recall = the share of the truth's area the highlight covers; line recall = the share
of each truth line's width covered by highlight boxes centred on that line (an annotator's box
has padding above and below that a tight word box never fills); precision = the share of the
highlight's area on the truth (the truth widened by 0.5% of the page, for the padding a glyph box
leaves). A quote is *covered* at recall >= 0.9 (*covered along the line* at line recall >= 0.9),
*on target* at precision >= 0.9. Areas are measured on a 1000 x 1000 grid per page. A receipt
line printed twice (or found twice in the OCR text) is skipped: which copy is cited is unknowable.

Ingest cost: parsing the same fixtures with this checkout and with the parsers of a baseline
commit (default: the merge base with main), alternated in child processes; the packed boxes'
bytes per page.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core.layout import Box, highlight, pack, unpack
from ingest import detect
from ingest.chunk import Chunker, document_text
from ingest.parse import ParseLimits, parse

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "eval-data"
RESULTS = Path(__file__).resolve().parent / "results"
LIMITS = ParseLimits(max_image_pixels=80_000_000, max_pages=200)
GRID = 1000
SLACK = 0.005
COVERED = 0.9
_SENTENCE = re.compile(r"[^.!?]+[.!?]")


@dataclass
class Score:
    recall: float
    precision: float
    along: float  # the share of each truth box's width covered by drawn boxes on its line


def _along(drawn: list[Box], truth: list[Box]) -> float:
    """Line recall: for each truth box, how much of its width drawn boxes centred in its height
    cover. An annotator's line box has padding above and below that tight word boxes never fill."""
    covered = total = 0.0
    for t in truth:
        row = np.zeros(GRID, dtype=bool)
        for d in drawn:
            if d.page == t.page and t.y0 <= (d.y0 + d.y1) / 2 <= t.y1:
                row[max(int(d.x0 * GRID), 0) : min(int(np.ceil(d.x1 * GRID)), GRID)] = True
        lo, hi = max(int(t.x0 * GRID), 0), min(int(np.ceil(t.x1 * GRID)), GRID)
        covered += float(row[lo:hi].sum())
        total += max(hi - lo, 0)
    return covered / total if total else 0.0


def _mask(boxes: Iterable[Box], grow: float = 0.0) -> np.ndarray:
    mask = np.zeros((GRID, GRID), dtype=bool)
    for b in boxes:
        x0, y0 = max(int((b.x0 - grow) * GRID), 0), max(int((b.y0 - grow) * GRID), 0)
        x1, y1 = min(int(np.ceil((b.x1 + grow) * GRID)), GRID), min(int(np.ceil((b.y1 + grow) * GRID)), GRID)
        mask[y0:y1, x0:x1] = True
    return mask


def score(drawn: list[Box], truth: list[Box]) -> Score:
    pages = {b.page for b in drawn} | {b.page for b in truth}
    covered = truth_area = on = drawn_area = 0
    for page in pages:
        t = _mask(b for b in truth if b.page == page)
        d = _mask(b for b in drawn if b.page == page)
        wide = _mask((b for b in truth if b.page == page), SLACK)
        covered += int((t & d).sum())
        truth_area += int(t.sum())
        on += int((d & wide).sum())
        drawn_area += int(d.sum())
    precision = on / max(drawn_area, 1) if drawn_area else 0.0
    return Score(covered / max(truth_area, 1), precision, _along(drawn, truth))


def _tokenize(text: str) -> list[int]:
    return list(range(len(text.split())))


def _chunks(document_id: str, path: Path, media_type: str) -> tuple[str, list[Any], int]:
    parsed = parse(path, media_type, LIMITS)
    chunks = Chunker(_tokenize, 200, 20).chunk(document_id, parsed.elements)
    return document_text(parsed.elements), chunks, parsed.page_count


def _stored(chunk: Any) -> list[Any]:
    return unpack(pack(chunk.boxes, chunk.char_start), chunk.char_start) if chunk.boxes else []


# -- text PDFs ---------------------------------------------------------------------------------


def _squash(text: str) -> tuple[str, list[int]]:
    """Text with whitespace runs as one space and line-end hyphens dropped, and for each kept
    character its index in ``text``."""
    out: list[str] = []
    where: list[int] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char in "-\u00ad\x02" and i + 1 < len(text) and text[i + 1] in "\r\n":
            i += 1
            while i < len(text) and text[i].isspace():
                i += 1
            continue
        if char.isspace() or char == "\x00":
            if out and out[-1] != " ":
                out.append(" ")
                where.append(i)
        else:
            out.append(char)
            where.append(i)
        i += 1
    return "".join(out), where


def _pdf_truth(path: Path) -> dict[int, tuple[str, list[int], list[Box], Any]]:
    """Per page: PDFium's raw text squashed, the raw index of each squashed char, each raw char's
    box (unturned: lines are merged, then placed on the page as shown)."""
    import pypdfium2 as pdfium

    from ingest.parse.pdf import _Frame

    pages = {}
    pdf = pdfium.PdfDocument(path)
    try:
        for number in range(1, len(pdf) + 1):
            page = pdf[number - 1]
            textpage = page.get_textpage()
            raw = str(textpage.get_text_range())
            frame = _Frame.of(page, number)
            boxes = [frame.glyph(textpage.get_charbox(i, loose=True)) for i in range(textpage.count_chars())]
            squashed, where = _squash(raw)
            pages[number] = (squashed, where, boxes, frame)
            textpage.close()
            page.close()
    finally:
        pdf.close()
    return pages


def _lines(boxes: list[Box]) -> list[Box]:
    """Glyph boxes in reading order merged per printed line."""
    from core.layout import TextBox

    return highlight([TextBox(i, i + 1, b) for i, b in enumerate(boxes)], 0, len(boxes))


def _squash_quote(quote: str) -> str:
    return _squash(quote)[0].strip()


def text_pdfs(limit_per_doc: int) -> dict[str, Any]:
    rows = []
    skipped = 0
    for path in sorted((DATA / "docs-docling" / "pdf" / "sources").glob("*.pdf")):
        try:
            text, chunks, _ = _chunks(path.stem, path, detect.PDF)
        except Exception as exc:  # noqa: BLE001 - a fixture the parser refuses is reported, not fatal
            print(f"{path.name}: not parsed ({exc})")
            continue
        truth_pages = _pdf_truth(path)
        taken = 0
        for chunk in chunks:
            if chunk.kind.value == "table" or taken >= limit_per_doc:
                continue
            for match in _SENTENCE.finditer(chunk.text):
                quote = match.group().strip()
                if len(quote) < 30 or taken >= limit_per_doc:
                    continue
                start = chunk.char_start + match.start() + (len(match.group()) - len(match.group().lstrip()))
                end = start + len(quote)
                assert text[start:end] == quote
                truth = _find(truth_pages, chunk.pages, quote)
                if truth is None:
                    skipped += 1
                    continue
                drawn = highlight(_stored(chunk), start, end)
                s = score(drawn, truth)
                rows.append(_row(path.name, quote, s))
                taken += 1
    return _summary(rows, {"quotes_not_found_in_pdfium_text": skipped})


def _find(
    pages: dict[int, tuple[str, list[int], list[Box], Any]], candidates: tuple[int, ...], quote: str
) -> list[Box] | None:
    needle = _squash_quote(quote)
    for number in candidates:
        if number not in pages:
            continue
        squashed, where, boxes, frame = pages[number]
        at = squashed.find(needle)
        if at < 0 or squashed.find(needle, at + 1) >= 0:  # absent or ambiguous on this page
            continue
        raw = [where[k] for k in range(at, at + len(needle)) if squashed[k] != " "]
        return [frame.place(b) for b in _lines([boxes[i] for i in raw if i < len(boxes)])]
    return None


# -- scans -------------------------------------------------------------------------------------


def scans() -> dict[str, Any]:
    from PIL import Image
    from rapidfuzz import fuzz

    folder = DATA / "ocr-sroie-receipts" / "dev"
    rows = []
    not_found = ambiguous = 0
    for image_path in sorted((folder / "images").glob("*.jpg")):
        boxes_path = folder / "boxes" / f"{image_path.stem}.csv"
        if not boxes_path.exists():
            continue
        with Image.open(image_path) as image:
            width, height = image.size
        text, chunks, _ = _chunks(image_path.stem, image_path, "image/jpeg")
        stored = [b for c in chunks for b in _stored(c)]
        folded = text.lower()
        annotated = [line.split(",", 8) for line in boxes_path.read_text(errors="replace").splitlines()]
        annotated = [parts for parts in annotated if len(parts) == 9]
        seen = [" ".join(parts[8].split()).lower() for parts in annotated]
        for parts in annotated:
            quote = " ".join(parts[8].split())
            if len(quote) < 8 or len(quote.split()) < 2:
                continue
            if seen.count(quote.lower()) > 1 or folded.count(quote.lower()) > 1:
                ambiguous += 1  # printed twice on the receipt: which copy is cited is unknowable
                continue
            xs, ys = [float(v) for v in parts[0:8:2]], [float(v) for v in parts[1:8:2]]
            truth = [Box(1, min(xs) / width, min(ys) / height, max(xs) / width, max(ys) / height)]
            found = fuzz.partial_ratio_alignment(quote.lower(), folded, score_cutoff=80)
            if found is None:
                not_found += 1
                continue
            drawn = highlight(stored, found.dest_start, found.dest_end)
            s = score(drawn, truth)
            rows.append(_row(image_path.name, quote, s))
    return _summary(
        rows,
        {"annotated_lines_not_found_in_ocr_text": not_found, "lines_printed_twice_skipped": ambiguous},
    )


def _row(doc: str, quote: str, s: Score) -> dict[str, Any]:
    return {
        "doc": doc,
        "quote": quote[:80],
        "recall": s.recall,
        "precision": s.precision,
        "line_recall": s.along,
    }


def _summary(rows: list[dict[str, Any]], extra: dict[str, Any]) -> dict[str, Any]:
    recalls = [float(r["recall"]) for r in rows]
    precisions = [float(r["precision"]) for r in rows]
    along = [float(r["line_recall"]) for r in rows]
    return {
        "quotes": len(rows),
        "documents": len({r["doc"] for r in rows}),
        "covered_share": round(sum(r >= COVERED for r in recalls) / max(len(rows), 1), 4),
        "line_covered_share": round(sum(r >= COVERED for r in along) / max(len(rows), 1), 4),
        "mean_line_recall": round(statistics.mean(along), 4) if rows else None,
        "on_target_share": round(sum(p >= COVERED for p in precisions) / max(len(rows), 1), 4),
        "mean_recall": round(statistics.mean(recalls), 4) if rows else None,
        "mean_precision": round(statistics.mean(precisions), 4) if rows else None,
        **extra,
        "worst": sorted(
            ({**r, **{k: round(r[k], 3) for k in ("recall", "precision", "line_recall")}} for r in rows),
            key=lambda r: min(r["recall"], r["precision"]),
        )[:8],
    }


# -- ingest cost -------------------------------------------------------------------------------

_PARSE_ALL = """
import sys, time
from pathlib import Path
from ingest.parse import ParseLimits, parse
limits = ParseLimits(max_image_pixels=80_000_000, max_pages=200)
started = time.process_time()
pages = 0
for arg in sys.argv[1:]:
    media, path = arg.split("=", 1)
    pages += parse(Path(path), media, limits).page_count
print(time.process_time() - started, pages)
"""


def ingest_cost(baseline: str, rounds: int) -> dict[str, Any]:
    files = [f"{detect.PDF}={p}" for p in sorted((DATA / "docs-docling" / "pdf" / "sources").glob("*.pdf"))]
    scans_ = sorted((DATA / "docs-docling" / "ocr" / "sources").glob("ocr_test*.pdf"))[:2]
    files += [f"{detect.PDF}={p}" for p in scans_]
    storage, pages = 0, 0
    for arg in files:
        media, path = arg.split("=", 1)
        _, chunks, page_count = _chunks("cost", Path(path), media)
        storage += sum(len(pack(c.boxes, c.char_start)) for c in chunks if c.boxes)
        pages += page_count
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            f"git -C {ROOT} archive {baseline} core ingest | tar -x -C {tmp}", shell=True, check=True
        )
        times: dict[str, list[float]] = {"with_boxes": [], "baseline": []}
        for _ in range(rounds):
            for name, path in (("baseline", tmp), ("with_boxes", str(ROOT))):
                env = {**os.environ, "PYTHONPATH": path, "OMP_THREAD_LIMIT": "1"}
                out = subprocess.run(
                    [sys.executable, "-c", _PARSE_ALL, *files],
                    env=env,
                    capture_output=True,
                    text=True,
                    check=True,
                )
                times[name].append(float(out.stdout.split()[0]))
    base, new = statistics.median(times["baseline"]), statistics.median(times["with_boxes"])
    return {
        "files": len(files),
        "pages": pages,
        "baseline_commit": _git("rev-parse", baseline),
        "parse_cpu_s_baseline_median": round(base, 3),
        "parse_cpu_s_with_boxes_median": round(new, 3),
        "extra_cpu_ms_per_page": round((new - base) * 1000 / max(pages, 1), 2),
        "ratio": round(new / base, 3),
        "rounds": times,
        "packed_box_bytes_per_page": round(storage / max(pages, 1)),
    }


def _git(*args: str) -> str:
    return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True).stdout.strip()


def _cpu_flags() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                wanted = ("avx", "avx2", "avx512f", "avx512_bf16", "amx_bf16", "fma", "sse4_2")
                return " ".join(f for f in line.split(":", 1)[1].split() if f in wanted)
    except OSError:
        pass
    return ""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--per-doc", type=int, default=40, help="quotes per text PDF")
    parser.add_argument(
        "--baseline", default=_git("merge-base", "HEAD", "main"), help="commit to compare cost"
    )
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if not DATA.exists():
        print(f"skipped: {DATA} is not on this machine")
        return 0
    report: dict[str, Any] = {
        "commit": _git("rev-parse", "HEAD"),
        "dirty": bool(_git("status", "--porcelain", "--untracked-files=no")),
        "settings": {"per_doc": args.per_doc, "grid": GRID, "slack": SLACK, "covered_at": COVERED},
        "machine": {
            "cpu": platform.processor() or platform.machine(),
            "cpu_flags": _cpu_flags(),
            "cpus": os.cpu_count(),
            "load_avg": os.getloadavg(),
            "python": platform.python_version(),
        },
    }
    started = time.perf_counter()
    report["text_pdfs"] = text_pdfs(args.per_doc)
    report["scans"] = scans()
    report["ingest_cost"] = ingest_cost(args.baseline, args.rounds)
    report["seconds"] = round(time.perf_counter() - started, 1)
    for name in ("text_pdfs", "scans"):
        r = report[name]
        print(
            f"{name:10} quotes {r['quotes']:4}  covered {r['covered_share']:.3f} (along the line "
            f"{r['line_covered_share']:.3f})  on target {r['on_target_share']:.3f}  mean recall "
            f"{r['mean_recall']} (line {r['mean_line_recall']})  mean precision {r['mean_precision']}"
        )
    cost = report["ingest_cost"]
    print(
        f"ingest: {cost['extra_cpu_ms_per_page']} ms CPU per page extra (x{cost['ratio']}), "
        f"{cost['packed_box_bytes_per_page']} bytes of boxes per page"
    )
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "highlight.json").write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
