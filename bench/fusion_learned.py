"""Two levers for hybrid retrieval beyond the fusion weights (issue 16's 0.78 goal): BM25's own
length normalisation, and a fusion learned on SciFact's train claims instead of DBSF's fixed sum.

    python -m bench.fusion_learned [MODEL ...]     # default: minilm

BM25 here is the product's (qdrant-edge's ``Bm25``: its tokenizer, stemmer and stopwords, and the
document weights it computes at ingest), scored with the IDF the engine applies at query time, so
each setting of ``k``, ``b`` and ``avg_len`` is one pass over the corpus rather than a re-index.
Qdrant's default ``avg_len`` is 256 tokens, while a SciFact abstract holds about 150 BM25 tokens and
a 220-token chunk of the product about 100: the document weights are normalised against a length
no document has. Dense is the model's cosine; hybrid fuses the two top-200 lists the way DBSF does
(mean ± 3 sample standard deviations onto 0..1, summed), which reproduces the engine's own figure
(``bench.fusion_weights`` checked it).

The learned fusion is a logistic regression over each candidate's scores (both normalised scores,
the raw cosine and BM25 score, both ranks, which lists hold it, its distance to the best dense
score) fitted on the 809 train claims' candidates and scored on the 50 dev claims: the two splits
share no claim. Every BM25 setting is scored on train as well, so a choice is not made on the 50
dev claims alone; for a model tuned on SciFact train its train figures are in-sample. Corpus
vectors are cached under ``var/bench-fusion``. Writes ``bench/results/fusion-learned.json``.
"""

from __future__ import annotations

import math
import os
import statistics
import sys
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bench.fusion_weights import dbsf_normalised
from bench.provenance import ROOT, provenance, write_result
from eval.metrics import Qrels, ndcg_at

SCIFACT = (
    Path(os.environ.get("SOURCEBOOK_EVAL_DATA") or ROOT.parent / "shared" / "eval-data") / "beir-scifact"
)
CACHE = ROOT / "var" / "bench-fusion"
CANDIDATES = 200
# (k, b, avg_len); None: qdrant-edge's default. "corpus": the corpus's own mean length.
BM25_SETTINGS: list[tuple[float | None, float | None, float | str | None]] = [
    (None, None, None),  # the product today: k 1.2, b 0.75, avg_len 256
    (1.2, 0.75, "corpus"),  # textbook BM25
    (0.9, 0.4, "corpus"),  # Anserini's BEIR setting
    (1.2, 0.75, 100.0),  # the length of a full 220-token chunk
]
REGULARISATION = [0.1, 1.0, 10.0]


class Corpus:
    """SciFact's abstracts as the eval index holds them: one chunk each, its title as the heading."""

    def __init__(self) -> None:
        from core.domain import Chunk
        from eval.datasets import load_beir

        self.splits = {split: load_beir(SCIFACT, split) for split in ("train", "dev")}
        docs = self.splits["dev"].corpus.docs
        self.ids = [d.id for d in docs]
        self.texts = [
            Chunk(d.id, 0, d.text, (1,), (d.title,) if d.title else (), 0, len(d.text)).embedding_text
            for d in docs
        ]
        self.fingerprint = self.splits["dev"].corpus.fingerprint[:12]

    def queries(self, split: str) -> tuple[list[str], list[str], list[Qrels]]:
        data = self.splits[split]
        ids = list(data.queries)
        return ids, [data.queries[q] for q in ids], [data.qrels[q] for q in ids]


def _bm25(k: float | None, b: float | None, avg_len: float | None) -> Any:
    from qdrant_edge import Bm25, Bm25Config

    return Bm25(Bm25Config(k=k, b=b, avg_len=avg_len, language="english"))


def corpus_length(texts: Sequence[str]) -> float:
    """Mean BM25 tokens a document: with no length normalisation and a saturation that never
    bites, a document's weights are its term counts."""
    counting = _bm25(1e9, 0.0, None)
    return statistics.fmean(sum(counting.embed_document(t).values) for t in texts)


def bm25_scores(texts: Sequence[str], questions: Sequence[str], model: Any) -> np.ndarray:
    """questions × documents: the document weights the model stored, times the engine's IDF."""
    postings: dict[int, list[tuple[int, float]]] = defaultdict(list)
    for at, text in enumerate(texts):
        vector = model.embed_document(text)
        for term, weight in zip(vector.indices, vector.values, strict=True):
            postings[term].append((at, weight))
    total = len(texts)
    scores = np.zeros((len(questions), total), dtype=np.float32)
    for row, question in enumerate(questions):
        vector = model.embed_query(question)
        for term, weight in zip(vector.indices, vector.values, strict=True):
            found = postings.get(term, [])
            idf = math.log(1 + (total - len(found) + 0.5) / (len(found) + 0.5))
            for at, value in found:
                scores[row, at] += weight * idf * value
    return scores


def dense_scores(corpus: Corpus, model: str, questions: dict[str, list[str]]) -> dict[str, np.ndarray]:
    from eval.config import EvalConfig, with_embedder
    from eval.runner import _embedder

    embedder = _embedder(with_embedder(EvalConfig(), model))
    cached = CACHE / f"{model}-{corpus.fingerprint}.npy"
    if cached.exists():
        documents = np.load(cached)
    else:
        documents = np.vstack(
            [embedder.embed(corpus.texts[i : i + 128]) for i in range(0, len(corpus.texts), 128)]
        )
        CACHE.mkdir(parents=True, exist_ok=True)
        np.save(cached, documents)
    return {split: embedder.embed(texts) @ documents.T for split, texts in questions.items()}


def candidates(dense: np.ndarray, sparse: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One question's candidates (the union of both top lists) and their features."""
    top_dense = np.argsort(-dense, kind="stable")[:CANDIDATES]
    top_sparse = [i for i in np.argsort(-sparse, kind="stable")[:CANDIDATES] if sparse[i] > 0]
    union = np.array(sorted(set(top_dense.tolist()) | set(top_sparse)))
    dense_norm = dbsf_normalised({doc: float(dense[doc]) for doc in top_dense.tolist()})
    sparse_norm = dbsf_normalised({doc: float(sparse[doc]) for doc in top_sparse})
    dense_rank = {doc: rank for rank, doc in enumerate(top_dense.tolist())}
    sparse_rank = {doc: rank for rank, doc in enumerate(top_sparse)}
    best_sparse = max(float(sparse.max()), 1e-9)
    rows = [
        [
            dense_norm.get(doc, 0.0),
            sparse_norm.get(doc, 0.0),
            dense[doc],
            sparse[doc] / best_sparse,
            1 / (1 + dense_rank.get(doc, CANDIDATES)),
            1 / (1 + sparse_rank.get(doc, CANDIDATES)),
            float(doc in dense_norm),
            float(doc in sparse_norm),
            dense[doc] - dense[top_dense[0]],
        ]
        for doc in union.tolist()
    ]
    return union, np.array(rows, dtype=np.float64)


def _ndcg(order: np.ndarray, ids: list[str], qrels: Qrels) -> float:
    """nDCG@10 of corpus rows best first."""
    return ndcg_at([ids[doc] for doc in order[:10]], qrels, 10)


def _per_query(
    corpus: Corpus, relevant: list[Qrels], dense: np.ndarray, sparse: np.ndarray
) -> tuple[dict[str, list[float]], list[tuple[np.ndarray, np.ndarray, Qrels]]]:
    scores: dict[str, list[float]] = {"dense": [], "sparse": [], "hybrid": []}
    pools = []
    for row, gold in enumerate(relevant):
        union, features = candidates(dense[row], sparse[row])
        fused = features[:, 0] + features[:, 1]
        scores["dense"].append(_ndcg(np.argsort(-dense[row], kind="stable"), corpus.ids, gold))
        ranked_sparse = np.array(
            [i for i in np.argsort(-sparse[row], kind="stable")[:CANDIDATES] if sparse[row, i] > 0]
        )
        scores["sparse"].append(_ndcg(ranked_sparse, corpus.ids, gold))
        scores["hybrid"].append(_ndcg(union[np.argsort(-fused, kind="stable")], corpus.ids, gold))
        pools.append((union, features, gold))
    return scores, pools


def _interval(before: list[float], after: list[float]) -> list[float]:
    from eval.compare import paired_bootstrap

    rows_a, rows_b = [{"v": v} for v in before], [{"v": v} for v in after]
    low, high = paired_bootstrap(
        rows_a, rows_b, lambda rows: {"v": statistics.fmean(r["v"] for r in rows)}, ["v"]
    )["v"]
    return [round(low, 4), round(high, 4)]


def _mean(values: list[float]) -> float:
    return round(statistics.fmean(values), 4)


def measure(corpus: Corpus, model: str) -> dict[str, Any]:
    from sklearn.linear_model import LogisticRegression

    queries = {split: corpus.queries(split) for split in ("train", "dev")}
    dense = dense_scores(corpus, model, {split: q[1] for split, q in queries.items()})
    length = corpus_length(corpus.texts)
    settings, baseline = [], None
    learned: list[dict[str, Any]] = []
    for k, b, avg_len in BM25_SETTINGS:
        avg = length if avg_len == "corpus" else avg_len
        bm25 = _bm25(k, b, avg if isinstance(avg, float) else None)
        row: dict[str, Any] = {
            "k": k or 1.2,
            "b": b or 0.75,
            "avg_len": round(avg, 1) if isinstance(avg, float) else 256,
        }
        pools = {}
        for split, (_, texts, relevant) in queries.items():
            scores, pools[split] = _per_query(
                corpus, relevant, dense[split], bm25_scores(corpus.texts, texts, bm25)
            )
            row[split] = {name: _mean(values) for name, values in scores.items()}
            if split == "dev":
                baseline = baseline or scores["hybrid"]
                row["dev"]["hybrid_change_interval"] = _interval(baseline, scores["hybrid"])
                dev_hybrid = scores["hybrid"]
        settings.append(row)
        print(
            f"{model} BM25 {row['k']}/{row['b']}/{row['avg_len']}: train {row['train']}, dev {row['dev']}",
            flush=True,
        )
        if avg_len is not None:
            continue
        features = np.vstack([f for _, f, _ in pools["train"]])
        labels = np.concatenate(
            [[gold.get(corpus.ids[d], 0) > 0 for d in union] for union, _, gold in pools["train"]]
        )
        for strength in REGULARISATION:
            fitted = LogisticRegression(C=strength, max_iter=5000).fit(features, labels)
            outcome: dict[str, Any] = {"C": strength, "coefficients": np.round(fitted.coef_[0], 3).tolist()}
            for split in ("train", "dev"):
                values = [
                    _ndcg(union[np.argsort(-fitted.decision_function(f), kind="stable")], corpus.ids, gold)
                    for union, f, gold in pools[split]
                ]
                outcome[split] = _mean(values)
                if split == "dev":
                    outcome["dev_change_interval"] = _interval(dev_hybrid, values)
            learned.append(outcome)
            print(
                f"{model} learned fusion C={strength}: train {outcome['train']}, dev {outcome['dev']}",
                flush=True,
            )
    return {
        "model": model,
        "queries": {split: len(q[0]) for split, q in queries.items()},
        "corpus_mean_bm25_tokens": round(length, 1),
        "bm25": settings,
        "learned_fusion": learned,
    }


def main(models: list[str]) -> None:
    started = provenance({})
    os.environ.setdefault("SOURCEBOOK_HOME", str(ROOT / "var" / "bench-tune"))  # bench.tune's models
    corpus = Corpus()
    rows = [measure(corpus, model) for model in models]
    settings = {"models": models, "candidates": CANDIDATES, "bm25": BM25_SETTINGS, "C": REGULARISATION}
    write_result("fusion-learned", {"rows": rows}, settings=settings, started=started)


if __name__ == "__main__":
    main(sys.argv[1:] or ["minilm"])
