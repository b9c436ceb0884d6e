"""OCR quality: character error rate of Sourcebook's OCR against ground-truth transcripts.

    python -m bench.ocr

Sets: Tesseract's own test images (including rotated copies of ``phototest``, read through our
orientation detection) and the SROIE receipt scans (dev split). CER = edit distance / reference
length after collapsing whitespace. Writes bench/results/ocr.json.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

from PIL import Image
from rapidfuzz.distance import Levenshtein

from bench.provenance import write_result
from ingest.parse.ocr import ocr_image

DATA = Path(__file__).resolve().parents[2] / "shared" / "eval-data"
RESULTS = Path(__file__).resolve().parent / "results"


def _normalise(text: str) -> str:
    return " ".join(text.split())


def _pairs() -> dict[str, list[tuple[Path, Path]]]:
    tess = DATA / "ocr-tesseract-testimages"
    pairs: list[tuple[Path, Path]] = []
    for image in sorted((tess / "images").iterdir()):
        if image.suffix not in {".tif", ".png"}:
            continue
        stem = "phototest" if image.stem.startswith("phototest") else image.stem
        truth = tess / "groundtruth" / f"{stem}.txt"
        if truth.exists():
            pairs.append((image, truth))
    sroie = DATA / "ocr-sroie-receipts" / "dev"
    receipts = [(img, sroie / "text" / f"{img.stem}.txt") for img in sorted((sroie / "images").glob("*.jpg"))]
    return {"tesseract-testimages": pairs, "sroie-receipts-dev": [p for p in receipts if p[1].exists()]}


def main() -> int:
    if not DATA.exists():
        print(f"skipped: {DATA} is not on this machine")
        return 0
    report: dict[str, dict[str, object]] = {}
    for name, pairs in _pairs().items():
        rows = []
        for image_path, truth_path in pairs:
            reference = _normalise(truth_path.read_text(errors="replace"))
            started = time.perf_counter()
            with Image.open(image_path) as image:
                result = ocr_image(image.copy())
            seconds = time.perf_counter() - started
            hypothesis = _normalise(" ".join(result.paragraphs))
            cer = Levenshtein.distance(hypothesis, reference) / max(len(reference), 1)
            rows.append(
                {
                    "image": image_path.name,
                    "cer": round(cer, 4),
                    "seconds": round(seconds, 2),
                    "rotation": result.rotation,
                }
            )
            print(f"{name:22} {image_path.name:28} CER {cer:6.3f}  {seconds:5.2f} s  rot {result.rotation}")
        cers = [float(r["cer"]) for r in rows]  # type: ignore[arg-type]
        report[name] = {
            "images": len(rows),
            "mean_cer": round(statistics.mean(cers), 4),
            "median_cer": round(statistics.median(cers), 4),
            "char_accuracy_mean": round(1 - statistics.mean(cers), 4),
            "seconds_per_image": round(statistics.mean(float(r["seconds"]) for r in rows), 2),  # type: ignore[arg-type]
            "rows": rows,
        }
    print()
    print(f"{'set':22} {'images':>6} {'mean CER':>9} {'median':>7} {'accuracy':>9} {'s/image':>8}")
    for name, r in report.items():
        print(
            f"{name:22} {r['images']:>6} {r['mean_cer']:>9} {r['median_cer']:>7} "
            f"{r['char_accuracy_mean']:>9} {r['seconds_per_image']:>8}"
        )
    import pytesseract

    settings = {"tesseract": str(pytesseract.get_tesseract_version()), "omp_thread_limit": 1}
    write_result("ocr", report, settings=settings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
