"""Answers over a real product manual nobody here wrote: the Galaxy S10 e-manual and 50 real
user questions with annotated answers (../shared/eval-data/qa-emanual-s10, all answerable).

    python -m bench.emanual_answers [--cache DIR] [--out FILE]

The manual goes through the product's own ingestion (one HTML file) into a cached eval index;
each question is searched (hybrid, 5 passages) and answered by the extractive generator. The
annotated answers are long (often a whole section), so an answer is judged by: refused (every
question is answerable: each refusal is a false one), quoted (every citation's quote lies inside
the annotated answer: 80% of its content words), and coverage (the share of the annotated
answer's content words the answer holds).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from pathlib import Path
from typing import Any

from bench.provenance import provenance
from core.protocols import SearchFilter
from eval.datasets import Corpus, fingerprint
from eval.gate import DATA as _DATA
from eval.index import IndexRecipe, cache_root, open_index
from eval.metrics import percentile
from retrieval.stopwords import STOP_WORDS

DATA = Path(os.environ.get("SOURCEBOOK_EVAL_DATA", _DATA))  # a worktree sees it elsewhere
SET = DATA / "qa-emanual-s10"
_WORD = re.compile(r"[a-z0-9]+")


def _words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in STOP_WORDS}


def manual_and_questions(cache: Path | None) -> tuple[Corpus, list[dict[str, Any]]]:
    """The manual as a corpus of its own (the set's folder also holds its questions, so the manual
    is linked into the eval cache) and the set's dev questions."""
    folder = (cache or cache_root()) / "emanual-corpus"
    folder.mkdir(parents=True, exist_ok=True)
    manual = folder / "galaxy-s10-user-manual.html"
    if not manual.exists():
        manual.symlink_to(SET / manual.name)
    corpus = Corpus(SET.name, fingerprint([manual], folder), folder=folder)
    questions = [
        json.loads(line) for line in (SET / "dev" / "questions.jsonl").read_text().splitlines() if line
    ]
    return corpus, questions


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    from ingest.embed import create_embedder
    from retrieval.extractive import ExtractiveGenerator
    from retrieval.search import Searcher

    corpus, questions = manual_and_questions(args.cache)
    embedder = create_embedder("minilm")
    generator = ExtractiveGenerator(embedder)
    rows = []
    with open_index(corpus, IndexRecipe(), embedder, cache=args.cache) as index:
        searcher = Searcher(index.store, embedder, None, fusion="dbsf")
        for q in questions:
            started = time.perf_counter()
            passages = searcher.search(q["question"], SearchFilter(), limit=5, mode="hybrid")
            answer = generator.answer(q["question"], passages)
            ms = (time.perf_counter() - started) * 1000
            gold = _words(q["answer"])
            quoted = [
                len(_words(c.quote) & gold) / max(len(_words(c.quote)), 1) >= 0.8 for c in answer.citations
            ]
            rows.append(
                {
                    "id": q["id"],
                    "question": q["question"],
                    "refused": answer.refused,
                    "answer": answer.text,
                    "quoted": bool(quoted) and all(quoted),
                    "coverage": len(_words(answer.text) & gold) / max(len(gold), 1)
                    if not answer.refused
                    else 0.0,
                    "ms": ms,
                }
            )
    n = len(rows)
    summary = {
        "questions": n,
        "refused": round(sum(r["refused"] for r in rows) / n, 4),
        "quoted_in_annotated_answer": round(sum(r["quoted"] for r in rows) / n, 4),
        "coverage": round(sum(r["coverage"] for r in rows) / n, 4),
        "p95_ms": round(percentile([r["ms"] for r in rows], 95), 1),
    }
    print(json.dumps(summary, indent=2))
    if args.out:
        made = provenance({k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()})
        args.out.write_text(json.dumps({"provenance": made, "summary": summary, "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
