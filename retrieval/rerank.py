"""Rerankers: re-order a search's best candidates with evidence the first stage did not use.

No cross-encoder ships in any installable package (shared/research/models.md), so the reranker
here works at sentence level with the embedder the product already has: a passage often answers
with one sentence among many unrelated ones, and its whole-passage vector blurs that sentence.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from core.domain import Passage
from core.protocols import Embedder, Query, Vectors
from retrieval.sentences import split_sentences


class SentenceReranker:
    """score = (1 - weight) · first-stage score (min-max over the pool) + weight · best sentence cosine.

    Only the top ``depth`` candidates are re-scored; the rest keep their order behind them. A
    passage ingested with its sentence vectors costs a dot product; one ingested before costs an
    embedding per sentence (give it a caching embedder, so a sentence seen before costs nothing).
    """

    def __init__(self, embedder: Embedder, *, weight: float = 0.5, depth: int = 20) -> None:
        self.embedder = embedder
        self.weight = weight
        self.depth = depth

    def rerank(self, query: str | Query, passages: Sequence[Passage], limit: int) -> list[Passage]:
        head, tail = list(passages[: self.depth]), list(passages[self.depth :])
        if len(head) < 2:
            return (head + tail)[:limit]
        scores = np.array([p.score for p in head], dtype=np.float32)
        spread = float(scores.max() - scores.min()) or 1.0
        first_stage = (scores - scores.min()) / spread
        query_vector = _vector(query, self.embedder)
        best = self._best_sentences(head, query_vector)
        combined = (1 - self.weight) * first_stage + self.weight * best
        order = np.argsort(-combined, kind="stable")
        reranked = [replace(head[i], score=float(combined[i])) for i in order]
        return (reranked + tail)[:limit]

    def _best_sentences(self, passages: Sequence[Passage], query_vector: Vectors) -> Vectors:
        """Each passage's best sentence cosine. A passage ingested with its sentence vectors
        brings them (nothing to embed); the sentences of all the others go in one embedding call
        (one trip to the model thread, one batch), not one call per passage."""
        best = np.zeros(len(passages), dtype=np.float32)
        per_passage = []
        for at, passage in enumerate(passages):
            if passage.sentences is not None:
                best[at] = float(np.max(passage.sentences.vectors @ query_vector))
                continue
            sentences = [s.text for s in split_sentences(passage.text)] or [passage.text]
            if passage.section_path:
                sentences.append(" > ".join(passage.section_path))
            per_passage.append((at, sentences))
        if not per_passage:
            return best
        cosines = self.embedder.embed([s for _, sentences in per_passage for s in sentences]) @ query_vector
        bounds = np.cumsum([0, *(len(sentences) for _, sentences in per_passage)])
        for (at, _), (a, b) in zip(per_passage, itertools.pairwise(bounds), strict=True):
            best[at] = cosines[a:b].max()
        return best


def _vector(query: str | Query, embedder: Embedder) -> Vectors:
    """The query's vector: the one it travels with, else embedded here."""
    if isinstance(query, Query) and query.vector is not None:
        return query.vector
    text = query.text if isinstance(query, Query) else query
    vector: Vectors = embedder.embed([text])[0]
    return vector
