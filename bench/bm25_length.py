"""Whether BM25's length normalisation, set to the corpus's real average, lifts hybrid retrieval
(issue 16's 0.78 goal, from the sparse side).

    python -m bench.bm25_length [MODEL ...]     # default: minilm and var/bench-tune's scifact-e1h0-1

Qdrant's BM25 (``qdrant_edge.Bm25``, the product's sparse vectors) normalises a term's frequency
by the document's length against ``avg_len``, 256 terms by default. SciFact's abstracts hold 151
BM25 terms on average (title and text, measured here), and a full chunk of the product's 220
MiniLM tokens about 100 (0.45 a token). Each setting's sparse vectors are scored here exactly as
the engine scores them (a document's BM25 weights times the query terms' IDF,
ln(1 + (N - n + 0.5) / (n + 0.5)); at 256 this reproduces the engine's sparse nDCG@10), the
dense candidates come from the model's eval index, and the two lists (200 candidates each) are
fused as the engine's DBSF fuses them (``bench.fusion_weights``). Queries: SciFact dev (50), and
train (809) for the packaged model, which was not trained on them. The data folder is
``var/bench-tune`` (``python -m bench.tune scifact e1h0`` makes the tuned model and both indexes).
Writes ``bench/results/bm25-length.json``.
"""

from __future__ import annotations

import os
import statistics
import sys
from typing import Any

import numpy as np

from bench.fusion_weights import CANDIDATES, HOME, SCIFACT, fused_scores
from bench.provenance import provenance, write_result

LENGTHS = (256.0, 151.0, 100.0)  # Qdrant's default, SciFact's average, a full 220-token chunk


def _bm25_lists(texts: list[str], ids: list[str], queries: dict[str, str], avg_len: float) -> dict[str, Any]:
    """Per query, the 200 best documents by BM25 with this ``avg_len``: document id -> score."""
    from qdrant_edge import Bm25, Bm25Config

    model = Bm25(Bm25Config(language="english", avg_len=avg_len))
    postings: dict[int, tuple[list[int], list[float]]] = {}
    for row, text in enumerate(texts):
        vector = model.embed_document(text)
        for term, weight in zip(vector.indices, vector.values, strict=True):
            docs, weights = postings.setdefault(term, ([], []))
            docs.append(row)
            weights.append(weight)
    found = {}
    for qid, question in queries.items():
        scores = np.zeros(len(texts))
        vector = model.embed_query(question)
        for term, value in zip(vector.indices, vector.values, strict=True):
            if term in postings:
                docs, weights = postings[term]
                idf = np.log(1 + (len(texts) - len(docs) + 0.5) / (len(docs) + 0.5))
                np.add.at(scores, docs, value * idf * np.asarray(weights))
        best = np.argsort(-scores)[:CANDIDATES]
        found[qid] = {ids[i]: float(scores[i]) for i in best if scores[i] > 0}
    return found


def _ndcg(lists: dict[str, dict[str, float]], qrels: dict[str, Any]) -> float:
    from eval import metrics as M

    return statistics.fmean(
        M.ndcg_at([d for d, _ in sorted(found.items(), key=lambda kv: (-kv[1], kv[0]))], qrels[q], 10)
        for q, found in lists.items()
    )


def _fused(
    dense: dict[str, dict[str, float]], bm25: dict[str, dict[str, float]]
) -> dict[str, dict[str, float]]:
    """Per query, the two lists fused at equal weights, as the engine's DBSF ranks them."""
    return {q: fused_scores(dense[q], bm25[q], 0.5) for q in dense}


def measure(model: str, split: str) -> dict[str, Any]:
    from core.protocols import SearchMode, SearchRequest
    from eval.config import EvalConfig, with_embedder
    from eval.datasets import load_beir
    from eval.index import open_index
    from eval.runner import _embedder, by_score

    dataset = load_beir(SCIFACT, split)
    config = with_embedder(EvalConfig(), model)
    embedder = _embedder(config)
    qids = list(dataset.queries)
    vectors = embedder.embed([dataset.queries[q] for q in qids])
    dense: dict[str, dict[str, float]] = {}
    engine_bm25: dict[str, dict[str, float]] = {}
    with open_index(dataset.corpus, config.index, embedder) as index:
        for qid, vector in zip(qids, vectors, strict=True):
            modes: tuple[tuple[SearchMode, dict[str, dict[str, float]]], ...] = (
                ("dense", dense),
                ("sparse", engine_bm25),
            )
            for mode, into in modes:
                request = SearchRequest(
                    dataset.queries[qid], vector.tolist(), CANDIDATES, mode, candidates=CANDIDATES,
                    fusion="dbsf", with_sentences=False,
                )  # fmt: skip
                into[qid] = {p.document_id: p.score for p in by_score(index.store.search(request))}
    qrels = {q: dataset.qrels[q] for q in qids}
    docs = dataset.corpus.docs
    texts = [f"{d.title}\n{d.text}" if d.title else d.text for d in docs]  # as Chunk.embedding_text
    row: dict[str, Any] = {
        "model": model,
        "split": split,
        "queries": len(qids),
        "dense_ndcg@10": round(_ndcg(dense, qrels), 4),
        "engine": {
            "bm25": round(_ndcg(engine_bm25, qrels), 4),
            "hybrid": round(_ndcg(_fused(dense, engine_bm25), qrels), 4),
        },
        "by_avg_len": {},
    }
    for avg_len in LENGTHS:
        bm25 = _bm25_lists(texts, [d.id for d in docs], dict(dataset.queries), avg_len)
        row["by_avg_len"][str(avg_len)] = {
            "bm25": round(_ndcg(bm25, qrels), 4),
            "hybrid": round(_ndcg(_fused(dense, bm25), qrels), 4),
        }
    return row


def main(models: list[str]) -> None:
    started = provenance({})
    os.environ["SOURCEBOOK_HOME"] = str(HOME)  # bench.tune's registry and eval cache
    rows = []
    for model in models:
        for split in ("dev", "train") if model == "minilm" else ("dev",):
            rows.append(measure(model, split))
            print(rows[-1], flush=True)
    settings = {"models": models, "avg_len": LENGTHS, "candidates": CANDIDATES}
    write_result("bm25-length", {"rows": rows}, settings=settings, started=started)


if __name__ == "__main__":
    main(sys.argv[1:] or ["minilm", "scifact-e1h0-1"])
