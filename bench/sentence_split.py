"""Query-time sentence splitting: the same spans as spaCy's whole-passage sentencizer, for less.

    python -m bench.sentence_split [--search OLD_TREE] [--points 20000] [--home DIR] [--rounds 3]

``retrieval.sentences`` used to run spaCy's tokenizer and sentencizer over every unit of every
retrieved passage; it now tokenises only the pieces around the stop characters
(``retrieval.sentencizer``). This bench checks, on every text at hand, that both give the same sentence
starts and the same ``split_sentences`` spans (it fails on any difference), and times both on the
SciFact abstracts with the cache cold. ``--search OLD_TREE`` also times
``Services.answering.search`` (hashing embedder, sentence reranker) over 40 SciFact train queries
on a ``--points`` collection, in alternating processes: this tree, then OLD_TREE (a checkout of
the code before, e.g. a ``git worktree`` of main). Writes bench/results/sentence-split.json.
"""

from __future__ import annotations

import argparse
import html
import importlib
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from unittest import mock

from bench.ingest_compare import DATA
from bench.provenance import write_result

ROOT = Path(__file__).resolve().parents[1]

# Texts that have tripped sentence splitters: abbreviations, numbers, stops without a space after
# them, closing marks and citation markers after a stop, runs of whitespace, non-Latin stops.
ADVERSARIAL = (
    "Use a 3.5 mm key, e.g. the one supplied. Then press OK!",
    "It weighs approx. 2 kg. Dr. Smith et al. agree, i.e. it is light. See Fig. 3.",
    "The rate fell by 0.5%. The p-value was <.001. Mean 4.2 ± .3 years.",
    "Install firmware 4.2.1 first. Open 192.168.4.1 in a browser. Version v2.0.0-rc.1 is out.",
    "It ended.Next it began.And so on.",
    'He said "stop." Then he left. She asked "why?" and waited. (It rained.) [Really.] {Yes.}',
    "Press Restart. [1] A reset erases schedules. [2][3] It takes 8 minutes [1]. Do not cut power [2].",
    "Results were significant (p < 0.05).[12] Further work [13,14] is needed.[15-17] Done.",
    "中文句子。另一个句子。最后！ Is it? Yes!! Really?! No… Maybe... fine. Wait…. Ok",
    "Ende。Anfang ¿Qué? ¡Sí! «Fin.» „Gut.“ ‘Quote.’ “Double.” Done.",
    "Hmm . . . what? Then  two spaces.  And   three.\tA tab. A\u00a0no-break.\u00a0Space. \u3000Wide.",
    "Trailing stop with spaces.   ",
    "...leading dots. ?! Odd start. . Lone stop . here",
    "Menu: Settings > Picture > Expert Settings. Call +44 (0)117 496 0000. Ext. 5. No. 7 is free.",
    "U.S.A. is big. U.K. too. Mr. and Mrs. Jones went to St. Ives at 5 p.m. on Jan. 3.",
    "Email a.b@example.com. Visit https://example.com/a.b?c=d. Then www.example.org. Ok.",
    "Temperatures (approx. 20 °C) vary. Ranges 1.-3. are shown. 3. Item three. a) option.",
    "A sentence! Another one? Yes. 'Quoted.' Then (parenthetical!) text. End.) Next.] More.",
    "!!! ??? ... !?! .",
    "Version 1.0. 2.0. 3.0. The end.",
    "ℹ Note. ★ Star. • Bullet. – Dash. — Em. ‼ Double. ⁇ Query. ﹒Small.",
    "Ein Satz. Noch einer! Und? Ja. 日本語の文。次の文！ Русский текст. Ещё один?",
    "x.Y z!W a?B c.d e.F. Ab.Cd. The IL-6. TNF-α. Ca2+. pH 7.4. 5'-UTR. 3′ end.",
)


def reference_starts() -> Callable[[str], list[int]]:
    """spaCy's sentencizer over the whole line, as ``split_sentences`` used to run it: the
    character offsets of the sentences after the first."""
    import spacy

    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")

    def starts(line: str) -> list[int]:
        return [sent.start_char for sent in list(nlp(line).sents)[1:]]

    return starts


def scifact_abstracts() -> list[str]:
    path = DATA / "beir-scifact" / "corpus.jsonl"
    return _jsonl(path, "text") if path.exists() else []


def _jsonl(path: Path, field: str) -> list[str]:
    with path.open() as lines:
        return [json.loads(line)[field] for line in lines]


def _strip_html(text: str) -> str:
    text = re.sub(r"(?is)<(script|style)\b.*?</\1>", " ", text)
    text = re.sub(r"(?i)<(br|/p|/div|/li|/h\d|/tr)\b[^>]*>", "\n", text)
    return html.unescape(re.sub(r"<[^>]+>", " ", text))


def corpora() -> Iterator[tuple[str, list[str]]]:
    """(name, texts) for every text this machine has: the eval data, the samples, the adversarial set."""
    yield "adversarial", list(ADVERSARIAL)
    yield "scifact", scifact_abstracts()
    xquad = DATA / "qa-xquad"
    if xquad.exists():
        yield "xquad-en", _jsonl(xquad / "corpus_passages.jsonl", "text")
        for lang in ("de", "es", "zh"):
            squad = json.loads((xquad / "dev" / f"xquad.{lang}.dev.json").read_text())
            contexts = [p["context"] for a in squad["data"] for p in a["paragraphs"]]
            yield f"xquad-{lang}", contexts
    cmu = DATA / "qa-cmu-wikipedia-s10" / "articles_text"
    if cmu.exists():
        yield "cmu-wikipedia", [p.read_text(errors="replace") for p in sorted(cmu.glob("*.txt"))]
    emanual = DATA / "qa-emanual-s10"
    if emanual.exists():
        page = _strip_html((emanual / "galaxy-s10-user-manual.html").read_text(errors="replace"))
        answers = _jsonl(emanual / "dev" / "questions.jsonl", "answer")
        yield "emanual", [page, *answers]
    yield "acme-support", _samples()


def _samples() -> list[str]:
    folder = ROOT / "samples"
    texts: list[str] = []
    for path in sorted((folder / "acme-support").iterdir()):
        if path.suffix in {".md", ".txt", ".eml"}:
            texts.append(path.read_text(errors="replace"))
        elif path.suffix == ".html":
            texts.append(_strip_html(path.read_text(errors="replace")))
    sys.path.insert(0, str(folder))
    try:
        content = importlib.import_module("_content")
    finally:
        sys.path.remove(str(folder))

    def strings(value: Any) -> Iterator[str]:
        if isinstance(value, str):
            yield value
        elif isinstance(value, list | tuple):
            for item in value:
                yield from strings(item)
        elif isinstance(value, dict):
            for item in value.values():
                yield from strings(item)

    found = [s for name, v in vars(content).items() if name.isupper() for s in strings(v)]
    return texts + found + ["\n".join(found)]


def compare() -> dict[str, Any]:
    """Old and new on every text: sentence starts on every line (and on the whole text with its
    line breaks made spaces), and the spans ``split_sentences`` returns."""
    from retrieval import sentences, sentencizer

    reference = reference_starts()
    rows: dict[str, Any] = {}
    for name, texts in corpora():
        lines = [t.replace("\n", " ") for t in texts] + [u for t in texts for u in t.splitlines()]
        start_diffs = [line for line in lines if sentencizer.sentence_starts(line) != reference(line)]
        new = [sentences._split.__wrapped__(t) for t in texts]
        with mock.patch.object(sentences, "sentence_starts", reference):
            old = [sentences._split.__wrapped__(t) for t in texts]
        span_diffs = sum(a != b for a, b in zip(old, new, strict=True))
        rows[name] = {
            "texts": len(texts),
            "lines": len(lines),
            "chars": sum(map(len, texts)),
            "spans": sum(map(len, new)),
            "lines_with_other_starts": len(start_diffs),
            "texts_with_other_spans": span_diffs,
        }
        print(name, json.dumps(rows[name]), flush=True)
        for line in start_diffs[:5]:
            print("  differs:", repr(line[:300]), file=sys.stderr)
    return rows


def time_split(rounds: int) -> dict[str, Any]:
    """CPU ms (the machine is shared) per ``split_sentences`` over the SciFact abstracts, old and
    new alternating: cold (a fresh spaCy vocabulary for the old, an empty memo for the new:
    passages never seen, as most retrieved ones are), then warm (the same abstracts again)."""
    from retrieval import sentences, sentencizer

    abstracts = scifact_abstracts()
    split = sentences._split.__wrapped__
    sentencizer.sentence_starts("Warm up. The pipeline is built outside the timing.")
    times: dict[str, list[float]] = {
        f"{side}_{state}": [] for side in ("old", "new") for state in ("cold", "warm")
    }
    for _ in range(rounds):
        for side in ("old", "new"):
            sentencizer._memo.clear()
            starts = reference_starts() if side == "old" else sentencizer.sentence_starts
            with mock.patch.object(sentences, "sentence_starts", starts):
                for state in ("cold", "warm"):
                    started = time.process_time()
                    for text in abstracts:
                        split(text)
                    times[f"{side}_{state}"].append((time.process_time() - started) * 1000 / len(abstracts))
    best = {k: min(v) for k, v in times.items()}
    return {
        "abstracts": len(abstracts),
        "cpu_ms_per_split": {k: round(v, 3) for k, v in best.items()},
        "speedup_cold": round(best["old_cold"] / best["new_cold"], 1),
        "speedup_warm": round(best["old_warm"] / best["new_warm"], 1),
        "runs_cpu_ms": {k: [round(x, 3) for x in v] for k, v in times.items()},
    }


_SEARCH_CHILD = """
import json, sys, time
from pathlib import Path
from core.access import Principal, Role
from core.protocols import SearchFilter
from core.settings import Settings
from sourcebook.wiring import Services
home, queries = Path(sys.argv[1]), json.loads(sys.argv[2])
services = Services.open(Settings(home=home, embedder="hashing", generator="extractive",
    reranker="sentence", rate_limit_user_per_minute=0, rate_limit_team_per_minute=0))
admin = Principal("bench", Role.ADMIN, ())
services.answering.search(admin, "warm up the sentence splitter", SearchFilter(), limit=10)
wall, cpu = [], []
for q in queries:
    t, c = time.perf_counter(), time.process_time()
    services.answering.search(admin, q, SearchFilter(), limit=10)
    wall.append((time.perf_counter() - t) * 1000)
    cpu.append((time.process_time() - c) * 1000)
print(json.dumps({"wall": wall, "cpu": cpu}))
"""


def time_search(old_tree: Path, home: Path, points: int, rounds: int) -> dict[str, Any]:
    """``answering.search`` over 40 SciFact train queries, this tree and ``old_tree`` alternating,
    each round in fresh processes on one collection; wall and CPU ms a search (the machine is
    shared: CPU time is the steadier figure)."""
    from bench import collection

    collection.DATA = DATA / "beir-scifact"
    home.mkdir(parents=True, exist_ok=True)
    built = collection.build(home, points, embedder="hashing")
    questions = collection.queries("train")[:40]
    runs: dict[str, dict[str, list[float]]] = {side: {"wall": [], "cpu": []} for side in ("new", "old")}
    for _ in range(rounds):
        for side, tree in (("new", ROOT), ("old", old_tree)):
            env = os.environ | {"PYTHONPATH": str(tree), "SOURCEBOOK_HOME": str(home)}
            done = subprocess.run(
                [sys.executable, "-c", _SEARCH_CHILD, str(home), json.dumps(questions)],
                cwd=tree,
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            ms = json.loads(done.stdout.strip().splitlines()[-1])
            for kind in ("wall", "cpu"):
                runs[side][kind].append(statistics.mean(ms[kind]))
            print(
                side,
                f"wall {runs[side]['wall'][-1]:.1f} cpu {runs[side]['cpu'][-1]:.1f} ms a search",
                flush=True,
            )
    best = {side: {kind: min(v) for kind, v in kinds.items()} for side, kinds in runs.items()}
    return {
        "points": points,
        "queries": len(questions),
        "build_s": built,
        "best_ms_per_search": best,
        "speedup_cpu": round(best["old"]["cpu"] / best["new"]["cpu"], 2),
        "speedup_wall": round(best["old"]["wall"] / best["new"]["wall"], 2),
        "runs_ms": {
            side: {kind: [round(x, 1) for x in v] for kind, v in kinds.items()}
            for side, kinds in runs.items()
        },
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--search", type=Path, help="a checkout of the old code: also time answering.search")
    parser.add_argument("--points", type=int, default=20_000)
    parser.add_argument("--home", type=Path, help="where the collection is built (kept for reruns)")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    result: dict[str, Any] = {"equivalence": compare()}
    differing = sum(
        r["lines_with_other_starts"] + r["texts_with_other_spans"] for r in result["equivalence"].values()
    )
    result["split"] = time_split(args.rounds)
    print("split", json.dumps(result["split"]), flush=True)
    if args.search:
        home = args.home or Path(tempfile.gettempdir()) / f"sentence-split-{args.points}"
        result["search"] = time_search(args.search.resolve(), home, args.points, args.rounds)
        print("search", json.dumps(result["search"]), flush=True)
    write_result("sentence-split", result, settings=vars(args) | {"differences": differing})
    return 1 if differing else 0


if __name__ == "__main__":
    raise SystemExit(main())
