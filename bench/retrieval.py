"""Retrieval quality on BEIR SciFact: nDCG@10 and recall@100 of each search mode.

    python -m bench.retrieval [--split dev|train] [--limit N] [--rerank]

A thin layer over ``eval/`` (the same loaders, cached index, runner and metrics as
``sourcebook eval retrieval``): the 5,183 abstracts are indexed once (one chunk each, title as
its heading) with all-MiniLM-L6-v2 into the eval cache. Published figures for comparison (full
test set): BM25 0.665-0.679, all-MiniLM-L6-v2 0.645, BM25 + cross-encoder 0.688. Tune on
``--split train`` (809 queries); report ``dev`` (50). Writes bench/results/retrieval-<split>.json.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bench.provenance import write_result
from eval.config import DEFAULT_SYSTEMS, EvalConfig, SystemConfig
from eval.datasets import load_beir
from eval.gate import DATA as EVAL_DATA
from eval.runner import evaluate_retrieval

DATA = EVAL_DATA / "beir-scifact"
RESULTS = Path(__file__).resolve().parent / "results"
PUBLISHED = {"BM25 (published)": 0.665, "all-MiniLM-L6-v2 (published)": 0.645, "BM25+CE (published)": 0.688}


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--split", choices=["dev", "train"], default="dev")
    parser.add_argument("--limit", type=int, default=0, help="only the first N queries (0: all)")
    parser.add_argument(
        "--rerank", action="store_true", help="also hybrid + the sentence reranker (seconds per query)"
    )
    parser.add_argument("--cache", type=Path, default=None, help="index cache (default: the eval cache)")
    args = parser.parse_args()
    if not DATA.exists():
        print(f"skipped: {DATA} is not on this machine")
        return 0
    systems = dict(DEFAULT_SYSTEMS)
    if args.rerank:
        systems["hybrid-dbsf+sentence"] = SystemConfig(mode="hybrid", fusion="dbsf", reranker="sentence")
    dataset = load_beir(DATA, args.split).limited(args.limit)
    run = evaluate_retrieval(dataset, EvalConfig(systems=systems), cache=args.cache)
    rows = []
    for name, system in run["systems"].items():
        m = system["metrics"]
        rows.append(
            {
                "method": name,
                "ndcg@10": m["ndcg@10"],
                "recall@100": m["recall@100"],
                "ms_per_query": round(
                    sum(q["ms"] for q in system["per_query"].values()) / len(dataset.queries), 1
                ),
            }
        )
        print(
            f"{name:28} nDCG@10 {m['ndcg@10']:.4f}  recall@100 {m['recall@100']:.4f}  {rows[-1]['ms_per_query']:6.1f} ms/q",
            flush=True,
        )
    for name, value in PUBLISHED.items():
        print(f"{name:28} nDCG@10 {value:.3f}")
    write_result(
        f"retrieval-{args.split}{f'-{args.limit}' if args.limit else ''}",
        {"queries": len(dataset.queries), "rows": rows},
        settings=vars(args) | {"cache": str(args.cache) if args.cache else None},
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
