"""What every store keeps beside a chunk's vectors, and the BM25 model both stores share.

Sparse vectors hold BM25 term frequencies (Qdrant's own BM25 tokenizer, stemmer and stopwords,
from qdrant-edge); the engine applies IDF at query time (``Modifier.Idf``), so the statistics
always match the collection as it is now.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import numpy as np

from core.domain import Chunk, Document, Passage, SentenceVectors
from core.protocols import SearchFilter

DENSE = "dense"
SPARSE = "bm25"
# Each chunk's sentence vectors, a multivector (MaxSim) that is stored, never indexed: the
# reranker and the composer read them from the points a search returns.
SENTENCES = "sentences"
KEYWORD_FIELDS = ("collection", "team", "document_id", "media_type", "tags")
INTEGER_FIELDS = ("pages", "chunk_index")
FLOAT_FIELDS = ("ingested_at",)


@functools.cache
def _bm25() -> Any:
    from qdrant_edge import Bm25, Bm25Config

    return Bm25(Bm25Config(language="english"))


def sparse_document(text: str) -> tuple[list[int], list[float]]:
    vector = _bm25().embed_document(text)
    return list(vector.indices), list(vector.values)


def sparse_query(text: str) -> tuple[list[int], list[float]]:
    vector = _bm25().embed_query(text)
    return list(vector.indices), list(vector.values)


def chunk_payload(
    document: Document, chunk: Chunk, sentences: SentenceVectors | None = None
) -> dict[str, Any]:
    extra = {"sentence_spans": [list(span) for span in sentences.spans]} if sentences is not None else {}
    return extra | {
        "collection": document.collection,
        "team": document.team or "default",
        "document_id": document.id,
        "source_name": document.source_name,
        "media_type": document.media_type,
        "tags": list(document.tags),
        "pages": list(chunk.pages),
        "chunk_index": chunk.index,
        "text": chunk.text,
        "section_path": list(chunk.section_path),
        "char_start": chunk.char_start,
        "char_end": chunk.char_end,
        "table_header": list(chunk.table_header),
        "ingested_at": (document.created_at or datetime.now(UTC)).timestamp(),
    }


def sentence_vectors(payload: dict[str, Any], vectors: Any) -> SentenceVectors | None:
    """A point's stored sentences: its spans from the payload, its rows from the ``sentences``
    vector; None where either is missing (a point written before they were stored)."""
    spans = payload.get("sentence_spans")
    rows = vectors.get(SENTENCES) if isinstance(vectors, dict) else None
    if spans is None or not rows:
        return None
    return SentenceVectors(tuple((int(a), int(b)) for a, b in spans), np.asarray(rows, dtype=np.float32))


def with_sentences(passages: Sequence[Passage], found: dict[str, SentenceVectors | None]) -> list[Passage]:
    """``passages`` with the sentence vectors ``found`` for them (by chunk id), in their order."""
    return [p if found.get(p.chunk_id) is None else replace(p, sentences=found[p.chunk_id]) for p in passages]


def passage(point_id: Any, score: float, payload: dict[str, Any], vectors: Any = None) -> Passage:
    return Passage(
        chunk_id=str(point_id),
        document_id=payload["document_id"],
        collection=payload["collection"],
        source_name=payload["source_name"],
        text=payload["text"],
        pages=tuple(payload.get("pages", ())),
        score=float(score),
        section_path=tuple(payload.get("section_path", ())),
        char_start=int(payload.get("char_start", 0)),
        char_end=int(payload.get("char_end", 0)),
        media_type=payload.get("media_type", ""),
        table_header=tuple(payload.get("table_header", ())),
        sentences=sentence_vectors(payload, vectors),
    )


_NO_TEAM = "\x00no-team"


def filter_ranges(f: SearchFilter) -> list[tuple[str, float | None, float | None]]:
    """The (payload field, lower bound, upper bound) ranges a filter demands."""
    if f.ingested_after is None and f.ingested_before is None:
        return []
    return [("ingested_at", f.ingested_after, f.ingested_before)]


def filter_terms(f: SearchFilter) -> list[tuple[str, list[str]]]:
    """The (payload field, allowed values) pairs a filter demands, for any store to translate."""
    terms: list[tuple[str, list[str]]] = []
    if f.teams is not None:
        # A caller in no team sees nothing: match a value no point carries.
        terms.append(("team", list(f.teams) or [_NO_TEAM]))
    for key, values in (
        ("collection", f.collections),
        ("document_id", f.document_ids),
        ("media_type", f.media_types),
        ("tags", f.tags),
    ):
        if values:
            terms.append((key, list(values)))
    return terms
