"""The ingestion pipeline: ``process_document`` (parse, OCR, chunk, embed: CPU work, run in a
worker) and ``IndexWriter`` (catalog and vector store writes: run by the store's one owner)."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from core.catalog import Catalog, Jobs
from core.domain import Chunk, DocumentStatus, JobState, SentenceVectors
from core.errors import SourcebookError
from core.protocols import Embedder, SentenceSpans, SpanEmbedder, Vectors, VectorStore
from ingest.chunk import Chunker
from ingest.embed import create_embedder
from ingest.parse import ParseLimits, parse
from ingest.pii import PiiPolicy, screen_chunks
from ingest.precision import choose_precision

log = logging.getLogger(__name__)

Progress = Callable[[str, float], None]
_EMBED_BATCH = 64


@dataclass(frozen=True, slots=True)
class IngestTask:
    """Everything a worker needs; ids and paths only, never document bytes."""

    job_id: str
    document_id: str
    collection: str
    source_name: str
    media_type: str
    blob_path: str
    embedder: str
    limits: ParseLimits
    chunk_tokens: int
    chunk_overlap: int
    pii_policy: PiiPolicy = PiiPolicy.ALLOW
    pii_patterns: tuple[tuple[str, str], ...] = ()  # the collection's own (label, regex) pairs
    precision: str = "auto"  # the setting; resolved on the CPU of the process that embeds
    models_dir: str = ""  # the data folder's tuned models, where ``embedder`` may name one


@dataclass(frozen=True, slots=True)
class PreparedDocument:
    """A parsed and chunked document, not yet embedded (what a single-node worker returns)."""

    page_count: int
    title: str | None
    chunks: tuple[Chunk, ...]
    ocr_pages: tuple[int, ...]
    pii_found: dict[str, int] | None = None  # per kind; None when the policy is allow

    def embedded(
        self, vectors: Vectors, sentences: tuple[SentenceVectors, ...] | None = None
    ) -> ProcessedDocument:
        return ProcessedDocument(
            self.page_count, self.title, self.chunks, vectors, self.ocr_pages, self.pii_found, sentences
        )


@dataclass(frozen=True, slots=True)
class ProcessedDocument:
    page_count: int
    title: str | None
    chunks: tuple[Chunk, ...]
    vectors: Vectors
    ocr_pages: tuple[int, ...]
    pii_found: dict[str, int] | None = None  # per kind; None when the policy is allow
    sentences: tuple[SentenceVectors, ...] | None = None  # per chunk; None: not computed


@functools.cache
def _embedder(name: str, precision: str = "auto", models_dir: str = "") -> Embedder:
    """Once per process: the model takes seconds to load; ``precision`` is resolved on this CPU.
    A name that is no packaged model is a tuned one in ``models_dir``."""
    dtype = choose_precision(precision).dtype
    if models_dir:
        from ingest.models import ModelRegistry

        return ModelRegistry(Path(models_dir)).embedder(name, dtype)
    return create_embedder(name, dtype)


def warm_up(embedder: str | None = None, precision: str = "auto") -> None:
    """Import what every document needs (parsers, the sentence splitter) before the first one,
    and load the embedding model when it is named."""
    from llama_index.core.node_parser import SentenceSplitter

    from ingest.parse import warm_up as warm_up_parsers

    # The splitter imports nltk and loads its sentence tokenizer on the first text too long for
    # one chunk (1.6 s): done here, the fork server's workers share it instead of each paying it.
    SentenceSplitter(chunk_size=16, chunk_overlap=0).split_text("Warm up the sentence splitter. " * 8)

    warm_up_parsers()
    if embedder is not None:
        _embedder(embedder, precision).embed(["warm up"])


def prepare_document(task: IngestTask, progress: Progress) -> PreparedDocument:
    """Parse, OCR and chunk: everything but the embedding. Chunking needs only the embedder's
    tokenizer, so a process that runs this never loads the model."""
    progress("parsing", 0.05)
    parsed = parse(Path(task.blob_path), task.media_type, task.limits)
    progress("chunking", 0.5)
    tokenize = _embedder(task.embedder, task.precision, task.models_dir).tokenize
    chunks = Chunker(tokenize, task.chunk_tokens, task.chunk_overlap).chunk(task.document_id, parsed.elements)
    chunks, pii_found = screen_chunks(chunks, task.pii_policy, dict(task.pii_patterns))
    return PreparedDocument(
        parsed.page_count,
        parsed.title,
        tuple(chunks),
        parsed.ocr_pages,
        None if task.pii_policy is PiiPolicy.ALLOW else pii_found,
    )


def embed_texts(embedder: Embedder, texts: list[str], progress: Progress | None = None) -> Vectors:
    """The texts' vectors in one pass of batches (the model orders each call's texts by length,
    so more texts per call means less padding)."""
    import numpy as np

    parts = []
    for start in range(0, len(texts), _EMBED_BATCH):
        if progress is not None:
            progress("embedding", 0.55 + 0.4 * start / max(len(texts), 1))
        parts.append(embedder.embed(texts[start : start + _EMBED_BATCH]))
    return np.concatenate(parts) if parts else np.zeros((0, embedder.dimension), dtype=np.float32)


def embed_chunks(
    embedder: Embedder,
    chunks: Sequence[Chunk],
    sentence_spans: SentenceSpans | None,
    progress: Progress | None = None,
) -> tuple[Vectors, tuple[SentenceVectors, ...] | None]:
    """The chunks' vectors and, given the query side's ``sentence_spans``, their sentences'
    vectors from the same forward pass (late chunking: each sentence's tokens, pooled), plus
    the section path line's, so a question embeds no sentence."""
    import numpy as np

    texts = [c.embedding_text for c in chunks]
    if sentence_spans is None or not isinstance(embedder, SpanEmbedder):
        return embed_texts(embedder, texts, progress), None
    spans = [tuple(sentence_spans(c)) for c in chunks]
    # Offsets into the embedding text, which puts the heading path (and a table's header) first.
    shifts = [len(t) - len(c.text) for t, c in zip(texts, chunks, strict=True)]
    wanted = []
    for chunk, own, shift in zip(chunks, spans, shifts, strict=True):
        lines = [(a + shift, b + shift) for a, b in own]
        if chunk.section_path:
            lines.append((0, len(" > ".join(chunk.section_path))))
        wanted.append(lines)
    parts: list[Vectors] = []
    pooled: list[Vectors] = []
    for start in range(0, len(texts), _EMBED_BATCH):
        if progress is not None:
            progress("embedding", 0.55 + 0.4 * start / max(len(texts), 1))
        whole, rows = embedder.embed_spans(
            texts[start : start + _EMBED_BATCH], wanted[start : start + _EMBED_BATCH]
        )
        parts.append(whole)
        pooled.extend(rows)
    vectors = np.concatenate(parts) if parts else np.zeros((0, embedder.dimension), dtype=np.float32)
    return vectors, tuple(SentenceVectors(own, rows) for own, rows in zip(spans, pooled, strict=True))


def process_document(
    task: IngestTask, progress: Progress, sentence_spans: SentenceSpans | None = None
) -> ProcessedDocument:
    """Parse, OCR, chunk and embed in this process (a Celery worker: one model per worker)."""
    prepared = prepare_document(task, progress)
    embedder = _embedder(task.embedder, task.precision, task.models_dir)
    return prepared.embedded(*embed_chunks(embedder, prepared.chunks, sentence_spans, progress))


class IndexWriter:
    """Commits a processed document to the store and the catalog, or records why it failed."""

    def __init__(self, catalog: Catalog, jobs: Jobs, store: VectorStore) -> None:
        self.catalog = catalog
        self.jobs = jobs
        self.store = store

    def commit(self, task: IngestTask, processed: ProcessedDocument) -> None:
        document = self.catalog.get_document(task.document_id)
        if not processed.chunks:
            self.fail(task, "no readable text found in the document")
            return
        self.jobs.update(task.job_id, stage="indexing", progress=0.96)
        # Chunk ids are derived from (document, index): writing overwrites an earlier attempt's
        # chunks in place, then the ones past the new end go. A redelivered or retried job leaves
        # one copy of each chunk, and a re-indexed document stays searchable throughout.
        self.store.upsert(document, processed.chunks, processed.vectors, processed.sentences)
        self.store.delete_chunks_from(document.id, len(processed.chunks))
        self.catalog.replace_chunks(document.id, processed.chunks)
        self.catalog.update_document(
            document.id,
            status=DocumentStatus.READY,
            page_count=processed.page_count,
            title=processed.title or document.source_name,
            failure_reason=None,
            pii_found=processed.pii_found,
        )
        self._retire_older_versions(document.collection, document.source_name, document.id)
        self.jobs.update(task.job_id, state=JobState.SUCCEEDED, stage="done", progress=1.0, error=None)

    def fail(self, task: IngestTask, reason: str) -> None:
        fail_job(self.catalog, self.jobs, task.job_id, task.document_id, reason)

    def _retire_older_versions(self, collection: str, source_name: str, current_id: str) -> None:
        """A changed file with the same name replaces the old one: its vectors and rows go."""
        for old in self.catalog.documents(collection, source_name=source_name):
            if old.id != current_id:
                self.store.delete_document(old.id)
                self.catalog.delete_document(old.id)


def fail_job(catalog: Catalog, jobs: Jobs, job_id: str, document_id: str, reason: str) -> None:
    """Record a failed job. A ready document (being re-indexed) keeps its chunks and stays ready:
    only the job fails, with the reason; a new document fails with it."""
    from core.errors import NotFound

    try:
        document = catalog.get_document(document_id)
        jobs.update(job_id, state=JobState.FAILED, stage="failed", progress=1.0, error=reason)
    except NotFound:
        log.info("document %s was deleted while it was processed", document_id)
        return
    if document.status is DocumentStatus.READY:
        log.info(
            "re-indexing %s (%s) failed, its current chunks stay: %s",
            document_id,
            document.source_name,
            reason,
        )
        return
    log.info("document %s (%s) failed: %s", document_id, document.source_name, reason)
    catalog.update_document(document_id, status=DocumentStatus.FAILED, failure_reason=reason)


def failure_reason(exc: BaseException) -> str:
    """The sentence a person sees for a failed document."""
    if isinstance(exc, SourcebookError):
        return exc.reason
    if isinstance(exc, MemoryError):
        return "the document needs more memory than is available"
    return f"unexpected error while processing the document ({type(exc).__name__})"
