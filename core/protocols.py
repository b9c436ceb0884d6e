"""The roles that adapters play. ``sourcebook/wiring.py`` (the composition root) picks the
adapters; everything else receives them as constructor arguments."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from core.domain import Answer, AnswerHints, Chunk, Document, Passage, SentenceVectors

Vectors = npt.NDArray[np.float32]
SearchMode = Literal["dense", "sparse", "hybrid"]
# The spans of a chunk's text whose vectors are stored with it: what the query side's reranker
# and composer read as sentences (retrieval's splitter, handed to ingestion by the shell).
SentenceSpans = Callable[[Chunk], Sequence[tuple[int, int]]]


class Embedder(Protocol):
    """Turns text into unit-length dense vectors; ``tokenize`` is its own tokenizer (for chunking)."""

    @property
    def name(self) -> str: ...

    @property
    def dimension(self) -> int: ...

    def tokenize(self, text: str) -> list[int]: ...

    def embed(self, texts: Sequence[str]) -> Vectors: ...


@runtime_checkable
class SpanEmbedder(Embedder, Protocol):
    """An embedder that also pools a vector for spans of each text out of the same forward pass."""

    def embed_spans(
        self, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]]
    ) -> tuple[Vectors, list[Vectors]]: ...


@dataclass(frozen=True, slots=True)
class Query:
    """A question with its dense vector: embedded once per request, then handed along."""

    text: str
    vector: Vectors | None = None  # None: not embedded (a sparse-only search)
    model: str | None = None  # the embedder that made ``vector``: a search with another re-embeds


@dataclass(frozen=True, slots=True)
class SearchFilter:
    """Restricts a search. Applied inside the vector query, never afterwards."""

    collections: tuple[str, ...] = ()
    teams: tuple[str, ...] | None = None  # None: no team restriction (admin and CLI)
    document_ids: tuple[str, ...] = ()
    media_types: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    ingested_after: float | None = None  # Unix seconds
    ingested_before: float | None = None


@dataclass(frozen=True, slots=True)
class SearchRequest:
    text: str
    vector: Sequence[float] | None
    limit: int = 10
    mode: SearchMode = "dense"
    filter: SearchFilter = field(default_factory=SearchFilter)
    candidates: int = 100  # per prefetch, for hybrid fusion
    fusion: Literal["rrf", "dbsf"] = "rrf"  # rank fusion, or distribution-based score fusion
    with_sentences: bool = True  # bring each passage's stored sentence vectors, where it has them


class VectorStore(Protocol):
    """Chunks with a dense vector and a BM25 sparse vector, and a payload for filtering."""

    def upsert(
        self,
        document: Document,
        chunks: Sequence[Chunk],
        vectors: Vectors,
        sentences: Sequence[SentenceVectors] | None = None,
    ) -> None:
        """``sentences``: each chunk's sentence vectors, kept where the store can (an index made
        before they were stored keeps none: its passages come back without them)."""
        ...

    def delete_document(self, document_id: str) -> None: ...

    def delete_chunks_from(self, document_id: str, first_index: int) -> None:
        """Delete a document's chunks whose index is ``first_index`` or more (stale after a rewrite)."""
        ...

    def count(self, *, document_id: str | None = None, collection: str | None = None) -> int: ...

    def search(self, request: SearchRequest) -> list[Passage]: ...

    def attach_sentences(self, passages: Sequence[Passage]) -> list[Passage]:
        """The passages with their stored sentence vectors, where the index holds them: for a
        search that left them out (``with_sentences=False``) and needs them for its head only."""
        ...

    def optimize(self) -> None: ...

    def warm(self) -> int:
        """Read every point's payload once, so that the first searches after a start do not
        fault in, one page at a time, the storage they read; the points read (0 where the index
        lives in another process, which keeps its own memory warm)."""
        ...

    def close(self) -> None: ...


class Reranker(Protocol):
    """Re-orders a search's candidates; returns at most ``limit`` of them, best first. Only the
    first ``depth`` candidates are re-scored (the rest keep their order behind them)."""

    depth: int

    def rerank(self, query: Query, passages: Sequence[Passage], limit: int) -> list[Passage]: ...


class Generator(Protocol):
    """Writes an answer from passages; every sentence cites one, or the answer is a refusal.

    A ``Query`` brings the question's vector from the search, so it is not embedded again."""

    def answer(
        self, question: str | Query, passages: Sequence[Passage], hints: AnswerHints | None = None
    ) -> Answer: ...


class Redactor(Protocol):
    """Replaces personal data in a text; returns the redacted text and what it found."""

    def redact(self, text: str) -> tuple[str, Sequence[object]]: ...
