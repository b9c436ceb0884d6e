"""Retrieval quality on BEIR SciFact: nDCG@10 and recall@100 of each search mode.

    python -m bench.retrieval [--split dev|train] [--home /tmp/sourcebook-scifact]

The 5,183 abstracts are indexed once (one chunk each, title as its heading) with
all-MiniLM-L6-v2; the embeddings are cached beside the index. Published figures for
comparison (full test set): BM25 0.665-0.679, all-MiniLM-L6-v2 0.645, BM25 + cross-encoder
0.688. Tune on ``--split train`` (809 queries); report ``dev`` (50). Writes
bench/results/retrieval-<split>.json.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import numpy as np

from core.domain import Passage
from core.protocols import Embedder, Reranker, SearchFilter, SearchMode, SearchRequest, VectorStore

DATA = Path(__file__).resolve().parents[2] / "shared" / "eval-data" / "beir-scifact"
RESULTS = Path(__file__).resolve().parent / "results"
PUBLISHED = {"BM25 (published)": 0.665, "all-MiniLM-L6-v2 (published)": 0.645, "BM25+CE (published)": 0.688}


def build(home: Path) -> VectorStore:
    from core.domain import Chunk, Document, DocumentStatus
    from ingest.embed import MiniLMEmbedder
    from retrieval.stores.edge import EdgeVectorStore

    store = EdgeVectorStore(home / "qdrant", 384)
    docs = [json.loads(line) for line in (DATA / "corpus.jsonl").read_text().splitlines()]
    if store.count() == len(docs):
        return store
    cache = home / "scifact-minilm.npy"
    if cache.exists():
        vectors = np.load(cache)
    else:
        print(f"embedding {len(docs)} abstracts (minutes, once)…", flush=True)
        vectors = MiniLMEmbedder().embed([f"{d['title']}\n\n{d['text']}" for d in docs])
        np.save(cache, vectors)
    for i, d in enumerate(docs):
        doc = Document(
            d["_id"], "scifact", d["_id"], "text/plain", "", 0, DocumentStatus.READY, team="research"
        )
        chunk = Chunk(d["_id"], 0, d["text"], (1,), (d["title"],), 0, len(d["text"]))
        store.upsert(doc, [chunk], vectors[i : i + 1])
    return store


def ndcg_at_10(ranked: list[str], relevant: dict[str, int]) -> float:
    dcg = sum(relevant.get(doc, 0) / math.log2(i + 2) for i, doc in enumerate(ranked[:10]))
    ideal = sum(1 / math.log2(i + 2) for i in range(min(len(relevant), 10)))
    return dcg / ideal if ideal else 0.0


def recall_at_100(ranked: list[str], relevant: dict[str, int]) -> float:
    return len(set(ranked[:100]) & set(relevant)) / len(relevant)


def load(split: str) -> tuple[dict[str, str], dict[str, dict[str, int]]]:
    queries = {
        q["_id"]: q["text"]
        for q in map(json.loads, (DATA / split / "queries.jsonl").read_text().splitlines())
    }
    qrels: dict[str, dict[str, int]] = {}
    for line in next((DATA / split / "qrels").glob("*.tsv")).read_text().splitlines()[1:]:
        qid, doc, score = line.split("\t")
        qrels.setdefault(qid, {})[doc] = int(score)
    return {q: t for q, t in queries.items() if q in qrels}, qrels


def ranked_ids(passages: list[Passage]) -> list[str]:
    seen: dict[str, None] = {}
    for p in passages:
        seen.setdefault(p.document_id, None)
    return list(seen)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--split", choices=["dev", "train"], default="dev")
    parser.add_argument("--home", type=Path, default=Path("/tmp/sourcebook-scifact"))
    parser.add_argument("--limit", type=int, default=0, help="only the first N queries (0: all)")
    args = parser.parse_args()
    if not DATA.exists():
        print(f"skipped: {DATA} is not on this machine")
        return 0
    from ingest.embed import MiniLMEmbedder
    from retrieval.search import Searcher

    args.home.mkdir(parents=True, exist_ok=True)
    store = build(args.home)
    embedder = MiniLMEmbedder()
    queries, qrels = load(args.split)
    if args.limit:
        queries = dict(list(queries.items())[: args.limit])
    vectors = dict(zip(queries, embedder.embed(list(queries.values())), strict=True))

    def engine(
        mode: SearchMode, fusion: Literal["rrf", "dbsf"] = "rrf"
    ) -> Callable[[str, str], list[Passage]]:
        def run(qid: str, text: str) -> list[Passage]:
            request = SearchRequest(text, vectors[qid].tolist(), 100, mode, candidates=200, fusion=fusion)
            return store.search(request)

        return run

    def reranked(reranker: Reranker) -> Callable[[str, str], list[Passage]]:
        searcher = Searcher(store, embedder, reranker, candidates=100, duplicate_threshold=1.01)
        return lambda _qid, text: searcher.search(text, SearchFilter(), limit=100)

    methods: dict[str, Callable[[str, str], list[Passage]]] = {
        "dense": engine("dense"),
        "sparse": engine("sparse"),
        "hybrid-rrf": engine("hybrid", "rrf"),
        "hybrid-dbsf": engine("hybrid", "dbsf"),
    }
    for name, reranker in _rerankers(embedder).items():
        methods[name] = reranked(reranker)
    rows = []
    for name, method in methods.items():
        started = time.perf_counter()
        ndcg = recall = 0.0
        for qid, text in queries.items():
            ranked = ranked_ids(method(qid, text))
            ndcg += ndcg_at_10(ranked, qrels[qid])
            recall += recall_at_100(ranked, qrels[qid])
        ms = (time.perf_counter() - started) / len(queries) * 1000
        rows.append(
            {
                "method": name,
                "ndcg@10": round(ndcg / len(queries), 4),
                "recall@100": round(recall / len(queries), 4),
                "ms_per_query": round(ms, 1),
            }
        )
        print(
            f"{name:28} nDCG@10 {rows[-1]['ndcg@10']:.4f}  recall@100 {rows[-1]['recall@100']:.4f}  {ms:6.1f} ms/q",
            flush=True,
        )
    for name, value in PUBLISHED.items():
        print(f"{name:28} nDCG@10 {value:.3f}")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"retrieval-{args.split}{f'-{args.limit}' if args.limit else ''}.json").write_text(
        json.dumps({"queries": len(queries), "rows": rows}, indent=2)
    )
    store.close()
    return 0


def _rerankers(embedder: Embedder) -> dict[str, Reranker]:
    from retrieval.rerank import candidates_for_bench

    return candidates_for_bench(embedder)


if __name__ == "__main__":
    sys.exit(main())
