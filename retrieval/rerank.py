"""Rerankers: re-order a search's best candidates with evidence the first stage did not use.

No cross-encoder ships in any installable package (shared/research/models.md), so the reranker
here works at sentence level with the embedder the product already has: a passage often answers
with one sentence among many unrelated ones, and its whole-passage vector blurs that sentence.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from core.domain import Passage
from core.protocols import Embedder, Reranker, Vectors
from retrieval.sentences import split_sentences


class SentenceReranker:
    """score = (1 - weight) · first-stage score (min-max over the pool) + weight · best sentence cosine.

    Only the top ``depth`` candidates are re-scored (each costs one embedding per sentence, cached
    across queries); the rest keep their order behind them.
    """

    def __init__(
        self, embedder: Embedder, *, weight: float = 0.5, depth: int = 20, cache_size: int = 50_000
    ) -> None:
        self.embedder = embedder
        self.weight = weight
        self.depth = depth
        self.cache_size = cache_size
        self._cache: dict[str, Vectors] = {}

    def rerank(self, query: str, passages: Sequence[Passage], limit: int) -> list[Passage]:
        head, tail = list(passages[: self.depth]), list(passages[self.depth :])
        if len(head) < 2:
            return (head + tail)[:limit]
        scores = np.array([p.score for p in head], dtype=np.float32)
        spread = float(scores.max() - scores.min()) or 1.0
        first_stage = (scores - scores.min()) / spread
        query_vector = self.embedder.embed([query])[0]
        best = np.array([self._best_sentence(p, query_vector) for p in head], dtype=np.float32)
        combined = (1 - self.weight) * first_stage + self.weight * best
        order = np.argsort(-combined, kind="stable")
        reranked = [replace(head[i], score=float(combined[i])) for i in order]
        return (reranked + tail)[:limit]

    def _best_sentence(self, passage: Passage, query_vector: Vectors) -> float:
        sentences = [s.text for s in split_sentences(passage.text)] or [passage.text]
        if passage.section_path:
            sentences.append(" > ".join(passage.section_path))
        return float(np.max(self._vectors(sentences) @ query_vector))

    def _vectors(self, texts: list[str]) -> Vectors:
        missing = [t for t in dict.fromkeys(texts) if t not in self._cache]
        if missing:
            for text, vector in zip(missing, self.embedder.embed(missing), strict=True):
                self._cache[text] = vector
            while len(self._cache) > self.cache_size:
                self._cache.pop(next(iter(self._cache)))
        return np.stack([self._cache[t] for t in texts])


def candidates_for_bench(embedder: Embedder) -> dict[str, Reranker]:
    """The rerankers bench/retrieval.py compares (on top of hybrid search)."""
    return {
        f"hybrid+sentence(w={w},d={d})": SentenceReranker(embedder, weight=w, depth=d)
        for w, d in ((0.5, 20), (0.5, 10))
    }
