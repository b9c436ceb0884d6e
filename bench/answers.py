"""Answer quality of the extractive generator, and the calibration of its refusal threshold.

    python -m bench.answers [--cache DIR]

Built on ``eval/`` (the loaders, the cached indexes and the metrics of ``sourcebook eval
answers``). Corpora: XQuAD's 240 English paragraphs (one chunk each) and the 56 CMU Wikipedia
articles (chunked as the product chunks). Answerable questions: XQuAD dev against XQuAD, CMU dev
against CMU. Questions the knowledge base cannot answer: each set's questions asked of the
*other* corpus (plus CMU's own unanswerable ones). Every question is answered once without a
threshold; the threshold that gives the best refusal F1 on the CMU side is then applied to the
XQuAD side (held out). Writes bench/results/answers.json.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from core.domain import Answer
from core.protocols import SearchFilter
from eval.datasets import AnswerCase, load_qa
from eval.gate import DATA
from eval.index import IndexRecipe, open_index
from eval.runner import aggregate_answers, case_record

RESULTS = Path(__file__).resolve().parent / "results"
Answered = list[tuple[AnswerCase, Answer, float]]


def _support(answer: Answer) -> float:
    return max((c.support for c in answer.citations), default=-1.0)


def evaluate(answered: Answered, threshold: float) -> dict[str, Any]:
    """The eval metrics as if the generator had refused below ``threshold``."""
    records = []
    for case, answer, ms in answered:
        if _support(answer) < threshold:
            answer = replace(answer, refused=True, citations=())
        records.append(case_record(case, answer, ms))
    return aggregate_answers(records)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cache", type=Path, default=None, help="index cache (default: the eval cache)")
    args = parser.parse_args()
    if not DATA.exists():
        print(f"skipped: {DATA} is not on this machine")
        return 0
    import time

    from ingest.embed import MiniLMEmbedder
    from retrieval.extractive import ExtractiveGenerator
    from retrieval.search import Searcher

    embedder = MiniLMEmbedder()
    generator = ExtractiveGenerator(embedder, threshold=-1.0)  # never refuse: the sweep decides
    sets = {
        "xquad": load_qa(DATA / "qa-xquad", "dev"),
        "cmu": load_qa(DATA / "qa-cmu-wikipedia-s10", "dev"),
    }
    runs: dict[str, Answered] = {}
    for name, own in sets.items():
        other = sets["cmu" if name == "xquad" else "xquad"]
        with open_index(own.corpus, IndexRecipe(), embedder, cache=args.cache) as index:
            searcher = Searcher(index.store, embedder)
            for case in own.with_unanswerable(other).cases:
                started = time.perf_counter()
                passages = searcher.search(case.question, SearchFilter(), limit=5)
                answer = generator.answer(case.question, passages)
                runs.setdefault(name, []).append((case, answer, (time.perf_counter() - started) * 1000))
    best = max((t / 100 for t in range(0, 80)), key=lambda t: _f1(evaluate(runs["cmu"], t)))
    report = {
        "threshold": best,
        "cmu (chosen here)": evaluate(runs["cmu"], best),
        "xquad (held out)": evaluate(runs["xquad"], best),
        "xquad, never refusing": evaluate(runs["xquad"], -1.0),
    }
    print(json.dumps(report, indent=2))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "answers.json").write_text(json.dumps(report, indent=2))
    return 0


def _f1(m: dict[str, Any]) -> float:
    p, r = m["refusal_precision"], m["refusal_recall"]
    return float(2 * p * r / (p + r)) if p + r else 0.0


if __name__ == "__main__":
    sys.exit(main())
