"""Search as the product runs it: hybrid retrieval in the engine, then rerank, then collapse
near-duplicate passages."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from core.domain import Passage
from core.protocols import Embedder, Query, Reranker, SearchFilter, SearchMode, SearchRequest, VectorStore
from retrieval.stores.switching import LiveIndex

_WORD = re.compile(r"\w+")


@dataclass(frozen=True, slots=True)
class Retrieval:
    """A search's passages, the question as searched and the model whose index they came from."""

    query: Query
    passages: list[Passage]
    model: str


class Searcher:
    def __init__(
        self,
        store: VectorStore,
        embedder: Embedder,
        reranker: Reranker | None = None,
        *,
        candidates: int = 50,
        duplicate_threshold: float = 0.9,
        fusion: Literal["rrf", "dbsf"] = "dbsf",
    ) -> None:
        self.fusion = fusion
        # A live index brings its own model: the question is embedded by the model of the index
        # it is searched in, even when a switch comes between the two.
        self.index = store if isinstance(store, LiveIndex) else LiveIndex.fixed(store, embedder)
        self.reranker = reranker
        self.candidates = candidates
        self.duplicate_threshold = duplicate_threshold

    @property
    def store(self) -> VectorStore:
        return self.index.live.store

    @property
    def embedder(self) -> Embedder:
        return self.index.live.embedder

    def embed(self, text: str) -> Query:
        embedder = self.index.live.embedder
        return Query(text, embedder.embed([text])[0], embedder.name)

    def search(
        self,
        query: str | Query,
        search_filter: SearchFilter,
        *,
        limit: int = 10,
        mode: SearchMode = "hybrid",
        rerank: bool = True,
    ) -> list[Passage]:
        """The best passages for a question; a ``Query`` that carries its vector is not embedded again."""
        return self.retrieve(query, search_filter, limit=limit, mode=mode, rerank=rerank).passages

    def retrieve(
        self,
        query: str | Query,
        search_filter: SearchFilter,
        *,
        limit: int = 10,
        mode: SearchMode = "hybrid",
        rerank: bool = True,
    ) -> Retrieval:
        """``search``, saying which model's index answered."""
        if isinstance(query, str):
            query = Query(query)
        with self.index.reading() as live:
            stale = query.model is not None and query.model != live.embedder.name
            if mode != "sparse" and (query.vector is None or stale):
                query = Query(query.text, live.embedder.embed([query.text])[0], live.embedder.name)
            found = self._search(live.store, query, search_filter, limit, mode, rerank)
            return Retrieval(query, found, live.embedder.name)

    def _search(
        self,
        store: VectorStore,
        query: Query,
        search_filter: SearchFilter,
        limit: int,
        mode: SearchMode,
        rerank: bool,
    ) -> list[Passage]:
        vector = query.vector.tolist() if mode != "sparse" and query.vector is not None else None
        reranker = self.reranker if rerank else None
        pool = max(limit, self.candidates) if reranker else limit * 2
        # The candidates come without their sentence vectors, which only the head needs (the
        # passages the reranker re-scores, and those returned): reading them back for the whole
        # pool was half a search's time in the store, with the GIL held.
        request = SearchRequest(
            query.text,
            vector,
            pool,
            mode,
            search_filter,
            candidates=max(pool, 100),
            fusion=self.fusion,
            with_sentences=False,
        )
        # Equal scores in the order of chunk ids: the engines promise no order for ties (RRF's
        # rank sums tie often), and evaluation runs must be reproducible.
        hits = sorted(store.search(request), key=lambda p: (-p.score, p.chunk_id))
        # Only the head is ever returned (the reranker re-scores it, and ``limit`` is within it),
        # so the collapse stops there: comparing each of 50 candidates' words with every kept
        # one's took 4.5 ms of a 33 ms search on 100k chunks, with the interpreter held.
        head = max(limit, reranker.depth) if reranker else limit
        found = store.attach_sentences(collapse_duplicates(hits, self.duplicate_threshold, keep=head))
        if reranker is not None:
            return reranker.rerank(query, found, limit)
        return found[:limit]


def collapse_duplicates(
    passages: Sequence[Passage], threshold: float = 0.9, keep: int | None = None
) -> list[Passage]:
    """Drop a passage whose words mostly repeat a better-ranked one (the same text in two files,
    or the overlap of neighbouring chunks); stop once ``keep`` passages are kept."""
    kept: list[Passage] = []
    seen: list[set[str]] = []
    texts: set[str] = set()
    for passage in passages:
        if keep is not None and len(kept) >= keep:
            break
        if threshold <= 1.0 and passage.text in texts:  # the same text again: no words to compare
            continue
        words = set(_WORD.findall(passage.text.lower()))
        if any(_overlap(words, other) >= threshold for other in seen):
            continue
        kept.append(passage)
        seen.append(words)
        texts.add(passage.text)
    return kept


def _overlap(a: set[str], b: set[str]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / min(len(a), len(b))
