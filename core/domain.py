"""Domain values: what flows from an uploaded file to a cited answer.

``Document`` → ``Element`` → ``Chunk`` → (point in the vector store) → ``Passage`` → ``Answer``.
All frozen and slotted: they are facts, passed between processes and never mutated.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from core.layout import TextBox


class DocumentStatus(StrEnum):
    QUEUED = "queued"
    PROCESSING = "processing"
    READY = "ready"
    FAILED = "failed"


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"


class ElementKind(StrEnum):
    TITLE = "title"
    TEXT = "text"
    TABLE = "table"
    LIST = "list"
    OCR = "ocr"


@dataclass(frozen=True, slots=True)
class Document:
    """A stored original. ``id`` is derived from the collection and the content's sha256."""

    id: str
    collection: str
    source_name: str
    media_type: str
    sha256: str
    size: int
    status: DocumentStatus
    version: int = 1
    title: str | None = None
    page_count: int | None = None
    failure_reason: str | None = None
    tags: tuple[str, ...] = ()
    team: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    pii_found: tuple[tuple[str, int], ...] | None = None  # per kind, when the collection screens for it


@dataclass(frozen=True, slots=True)
class Element:
    """One block of a parsed document, in reading order. Pages are 1-based."""

    kind: ElementKind
    text: str
    page: int
    level: int = 0
    bbox: tuple[float, float, float, float] | None = None
    # A table's column names (its header row, also the first line of ``text``); () for others.
    table_header: tuple[str, ...] = ()
    # Where its words sit on the page (offsets in ``text``); () where the parser does not know.
    boxes: tuple[TextBox, ...] = field(default=(), compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Chunk:
    """A retrievable span of a document; offsets index the document's text (elements joined)."""

    document_id: str
    index: int
    text: str
    pages: tuple[int, ...]
    section_path: tuple[str, ...] = ()
    char_start: int = 0
    char_end: int = 0
    kind: ElementKind = ElementKind.TEXT
    # A table chunk's column names, in every chunk of a table split by rows (the text of the
    # second and later ones starts with a data row): read a row as "Column: value" records.
    table_header: tuple[str, ...] = ()
    # Where its words sit on their pages (offsets in the document's text, like char_start), for
    # highlighting a citation on the page; kept in the catalog, never in the vector payload.
    boxes: tuple[TextBox, ...] = field(default=(), compare=False, repr=False)

    @property
    def id(self) -> str:
        return chunk_id(self.document_id, self.index)

    @property
    def embedding_text(self) -> str:
        """What the embedder sees: the heading path gives a chunk the context its text lacks, and
        the header row a table's later rows."""
        text = self.text
        if self.table_header:
            header = " | ".join(self.table_header)
            if not text.startswith(header):
                text = header + "\n" + text
        if not self.section_path:
            return text
        return " > ".join(self.section_path) + "\n\n" + text


def chunk_id(document_id: str, index: int) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"sourcebook:{document_id}:{index}"))


@dataclass(frozen=True, slots=True)
class SentenceVectors:
    """A chunk's sentences with their vectors, computed at ingest from the chunk's own forward
    pass (late chunking), so rerank and answer composition embed nothing at question time.

    ``spans`` are (start, end) offsets in the chunk's text; ``vectors`` holds one unit-length row
    per span, then one for the section path line when the chunk has a section path.
    """

    spans: tuple[tuple[int, int], ...]
    vectors: Any = field(compare=False, repr=False)  # numpy float32 (rows, dimension)

    def by_span(self) -> dict[tuple[int, int], int]:
        """Each span's row."""
        return {span: row for row, span in enumerate(self.spans)}


@dataclass(frozen=True, slots=True)
class Passage:
    """A chunk found by a search, with the fields a person needs to check it."""

    chunk_id: str
    document_id: str
    collection: str
    source_name: str
    text: str
    pages: tuple[int, ...]
    score: float
    section_path: tuple[str, ...] = ()
    char_start: int = 0
    char_end: int = 0
    media_type: str = ""
    table_header: tuple[str, ...] = ()  # the column names when the passage is (part of) a table
    # Its sentences' stored vectors; None for chunks ingested before they were stored.
    sentences: SentenceVectors | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Citation:
    marker: int
    document_id: str
    title: str
    pages: tuple[int, ...]
    quote: str
    char_start: int
    char_end: int
    support: float


@dataclass(frozen=True, slots=True)
class Answer:
    question: str
    text: str
    citations: tuple[Citation, ...] = ()
    refused: bool = False
    refusal_reason: str | None = None
    passages: tuple[Passage, ...] = field(default=())
    notes: tuple[str, ...] = ()  # e.g. sentences a generator wrote that were dropped as unsupported
    # What produced it: generator, model and prompt versions (filled in by the service).
    provenance: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class AnswerHints:
    """What a question template knows about its question, for the generator: the values chosen in
    its fields (exact constraints on the evidence), its pattern (whose own words say nothing about
    the subject) and the shape of answer it wants ("lookup", "steps", "compare"; "": judge)."""

    values: Mapping[str, object] = field(default_factory=dict)
    pattern: str = ""
    shape: str = ""
