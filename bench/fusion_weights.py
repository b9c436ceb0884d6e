"""Whether weighting the two sides of hybrid retrieval lifts SciFact dev, for the packaged model and
for a tuned one (issue 16's remaining lever for its 0.78 goal).

    python -m bench.fusion_weights [MODEL ...]        # default: minilm and var/bench-tune's scifact-e1h0-1

The engines fuse dense and BM25 with equal weight (Qdrant's DBSF takes none). Here each query is
searched dense-only and BM25-only (200 candidates each, as the gate's ``hybrid-dbsf``), and the
two lists are fused in Python the way DBSF does (each list's scores mapped from mean ± 3 standard
deviations onto 0..1, then summed), with the dense side weighted ``w`` and BM25 ``1 - w``. At
``w = 0.5`` this must reproduce the engine's own fusion (checked: the report gives both).

Choosing ``w`` on the dev queries and reporting dev would flatter it, so the report's headline is
5-fold cross-validation over the dev queries: ``w`` chosen on four folds, scored on the fifth.
The data folder is ``var/bench-tune`` (``python -m bench.tune scifact e1h0`` makes the tuned model
and both models' SciFact indexes there). Writes ``bench/results/fusion-weights.json``.
"""

from __future__ import annotations

import os
import statistics
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from bench.provenance import ROOT, provenance, write_result
from eval.metrics import Qrels

SCIFACT = (
    Path(os.environ.get("SOURCEBOOK_EVAL_DATA") or ROOT.parent / "shared" / "eval-data") / "beir-scifact"
)
WEIGHTS = [round(0.05 * i, 2) for i in range(4, 17)]  # 0.20 .. 0.80
FOLDS = 5
CANDIDATES = 200
HOME = ROOT / "var" / "bench-tune"
K = TypeVar("K")  # what a score list is keyed by: chunk ids here, corpus rows in bench.fusion_learned


def dbsf_normalised(scores: Mapping[K, float]) -> dict[K, float]:
    """DBSF's normalisation: mean ± 3 sample standard deviations of the list mapped onto 0..1."""
    if not scores:
        return {}
    values = list(scores.values())
    mean = statistics.fmean(values)
    spread = statistics.stdev(values) if len(values) > 1 else 0.0
    low, high = mean - 3 * spread, mean + 3 * spread
    if high <= low:
        return dict.fromkeys(scores, 0.5)
    return {key: (value - low) / (high - low) for key, value in scores.items()}


def fused_scores(dense: dict[str, float], sparse: dict[str, float], weight: float) -> dict[str, float]:
    """Each chunk's fused score: ``weight`` on the dense side, ``1 - weight`` on BM25 (at 0.5, half
    the score the engine's DBSF gives, which sums the two)."""
    d, s = dbsf_normalised(dense), dbsf_normalised(sparse)
    return {key: weight * d.get(key, 0.0) + (1 - weight) * s.get(key, 0.0) for key in d.keys() | s.keys()}


def fused(dense: dict[str, float], sparse: dict[str, float], weight: float) -> list[str]:
    """Chunk ids best first (equal scores by id)."""
    score = fused_scores(dense, sparse, weight)
    return sorted(score, key=lambda key: (-score[key], key))


def _lists(model: str) -> tuple[dict[str, Any], dict[str, list[str]], dict[str, Qrels]]:
    """Per query: the dense and BM25 candidate lists (chunk id -> score), the engine's own DBSF
    ranking of documents, and the qrels; plus each chunk's document."""
    from core.protocols import SearchRequest
    from eval.config import EvalConfig, with_embedder
    from eval.datasets import load_beir
    from eval.index import open_index
    from eval.runner import _embedder, by_score, ranked

    dataset = load_beir(SCIFACT, "dev")
    config = with_embedder(EvalConfig(), model)
    embedder = _embedder(config)
    ids = list(dataset.queries)
    vectors = embedder.embed([dataset.queries[q] for q in ids])
    per_query: dict[str, Any] = {}
    engine: dict[str, list[str]] = {}
    with open_index(dataset.corpus, config.index, embedder) as index:
        for qid, vector in zip(ids, vectors, strict=True):
            text, found = dataset.queries[qid], {}
            for mode in ("dense", "sparse", "hybrid"):
                request = SearchRequest(
                    text, vector.tolist(), CANDIDATES, mode, candidates=CANDIDATES, fusion="dbsf",
                    with_sentences=False,
                )  # fmt: skip
                found[mode] = by_score(index.store.search(request))
            per_query[qid] = {
                "dense": {p.chunk_id: p.score for p in found["dense"]},
                "sparse": {p.chunk_id: p.score for p in found["sparse"]},
                "document": {p.chunk_id: p.document_id for m in found.values() for p in m},
            }
            engine[qid] = ranked(found["hybrid"][:100])
    return per_query, engine, {q: dataset.qrels[q] for q in ids}


def _ndcg(per_query: dict[str, Any], qrels: dict[str, Qrels], qids: Sequence[str], weight: float) -> float:
    from eval import metrics as M

    total = 0.0
    for qid in qids:
        lists = per_query[qid]
        chunks = fused(lists["dense"], lists["sparse"], weight)
        total += M.ndcg_at(M.dedupe(lists["document"][c] for c in chunks), qrels[qid], 10)
    return total / len(qids)


def measure(model: str) -> dict[str, Any]:
    from eval import metrics as M

    per_query, engine, qrels = _lists(model)
    qids = sorted(per_query)
    grid = {str(w): round(_ndcg(per_query, qrels, qids, w), 4) for w in WEIGHTS}
    folds = [qids[i::FOLDS] for i in range(FOLDS)]
    held_out: list[float] = []
    chosen: list[float] = []
    for fold in folds:
        train = [q for q in qids if q not in set(fold)]
        best = max(WEIGHTS, key=lambda w: (_ndcg(per_query, qrels, train, w), -abs(w - 0.5)))
        chosen.append(best)
        held_out += [_ndcg(per_query, qrels, [q], best) for q in fold]
    return {
        "model": model,
        "queries": len(qids),
        "engine_dbsf_ndcg@10": round(statistics.fmean(M.ndcg_at(engine[q], qrels[q], 10) for q in qids), 4),
        "python_dbsf_equal_weights_ndcg@10": grid["0.5"],
        "ndcg@10_by_dense_weight": grid,
        "cross_validated": {
            "folds": FOLDS,
            "weights_chosen": chosen,
            "ndcg@10": round(statistics.fmean(held_out), 4),
        },
    }


def main(models: list[str]) -> None:
    started = provenance({})
    # bench.tune's data folder: its registry of tuned models, and its eval cache, which holds the
    # SciFact index of each model it evaluated.
    os.environ["SOURCEBOOK_HOME"] = str(HOME)
    rows = []
    for model in models:
        row = measure(model)
        rows.append(row)
        print(
            f"{model}: engine DBSF {row['engine_dbsf_ndcg@10']}, equal weights here "
            f"{row['python_dbsf_equal_weights_ndcg@10']}, best on dev "
            f"{max(row['ndcg@10_by_dense_weight'].values())}, cross-validated "
            f"{row['cross_validated']['ndcg@10']} (w {row['cross_validated']['weights_chosen']})",
            flush=True,
        )
    settings = {"models": models, "weights": WEIGHTS, "folds": FOLDS, "candidates": CANDIDATES}
    write_result("fusion-weights", {"rows": rows}, settings=settings, started=started)


if __name__ == "__main__":
    main(sys.argv[1:] or ["minilm", "scifact-e1h0-1"])
