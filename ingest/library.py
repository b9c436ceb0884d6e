"""Library operations beside ingestion: delete a document or a collection, re-index, rebuild.

Every door (API route, CLI command, Celery task) calls these, so each operation has one path.
Re-indexing goes through the executor: a Celery executor hands the fan-out to a worker (the
request returns at once, however big the collection), the local pool lets this process do it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from core.catalog import Catalog, Jobs
from core.protocols import Embedder, SentenceSpans, VectorStore
from core.settings import Settings
from ingest.blobs import BlobStore
from ingest.embed import create_embedder
from ingest.executor import LocalPoolExecutor
from ingest.intake import Intake, Submission
from ingest.pipeline import IndexWriter, IngestTask
from ingest.precision import choose_precision
from ingest.rebuild import Pool, RebuildReport, rebuild_index, require_rebuildable


class LibraryExecutor(Protocol):
    """What the library asks of an executor (``LocalPoolExecutor``, ``CeleryExecutor``)."""

    def submit(self, task: IngestTask) -> None: ...

    def in_flight(self, document_id: str) -> bool: ...

    def delegate_reindex(self, collection: str) -> bool:
        """Hand a collection's re-index fan-out to a worker; False when this process must do it."""
        ...


def embedding_model(settings: Settings) -> Embedder:
    """The embedder settings name, in the precision this CPU does best (not loaded until used)."""
    return create_embedder(settings.embedder, choose_precision(settings.embed_precision).dtype)


def local_pool(
    settings: Settings,
    writer: IndexWriter,
    embedder: Embedder,
    sentence_spans: SentenceSpans | None = None,
) -> LocalPoolExecutor:
    """The single-node executor, sized by settings (also what a rebuild fills the new index with).

    ``embedder`` is this process's one model, shared with the question side; ``sentence_spans``
    (the query side's sentences of a chunk) makes it store each sentence's vector as well."""
    return LocalPoolExecutor(
        writer,
        workers=settings.workers,
        timeout_s=settings.document_timeout_s,
        embedder=embedder,
        sentence_spans=sentence_spans,
    )


class Library:
    def __init__(
        self,
        catalog: Catalog,
        jobs: Jobs,
        store: VectorStore,
        blobs: BlobStore,
        intake: Intake,
        executor: LibraryExecutor,
        rebuild_pool: Callable[[IndexWriter, str], Pool],
        settle: Callable[[], object] | None = None,
    ) -> None:
        self.catalog = catalog
        self.jobs = jobs
        self.store = store
        self.blobs = blobs
        self.intake = intake
        self.executor = executor
        self.rebuild_pool = rebuild_pool  # fills a rebuilt index with the model named
        self.settle = settle  # waits for the uploads in flight

    def delete_document(self, document_id: str) -> None:
        """Remove a document everywhere: vectors, chunks, row and (if unshared) its original."""
        document = self.catalog.get_document(document_id)
        self.store.delete_document(document_id)
        self.catalog.delete_document(document_id)
        if not any(d.sha256 == document.sha256 for d in self.catalog.documents()):
            self.blobs.delete(document.sha256)

    def delete_collection(self, name: str) -> None:
        for document in self.catalog.documents(name):
            self.store.delete_document(document.id)
        shas = {d.sha256 for d in self.catalog.documents(name)}
        self.catalog.delete_collection(name)
        still_used = {d.sha256 for d in self.catalog.documents()}
        for sha in shas - still_used:
            self.blobs.delete(sha)

    def reindex(self, collection: str) -> list[Submission] | None:
        """Process a collection's ready documents again; they stay searchable meanwhile.

        Returns what was queued, or None when the executor handed the fan-out to a worker.
        """
        self.catalog.collection_team(collection)  # NotFound for an unknown collection
        if self.executor.delegate_reindex(collection):
            return None
        return self.reindex_here(collection)

    def reindex_here(self, collection: str) -> list[Submission]:
        """Queue a collection's ready documents from this process, whatever the executor: for
        the CLI, which waits for them, and for the worker a fan-out was handed to."""
        return self.intake.reindex(collection)

    def rebuild_index(self, model: str | None = None) -> RebuildReport:
        """Rebuild every ready document into a new index beside the live one, then switch; with
        ``model``, the new index is that model's and the switch changes the model too."""
        return rebuild_index(
            self.catalog,
            self.jobs,
            require_rebuildable(self.store),
            self.rebuild_pool,
            self.intake.task_for,
            model=model,
            settle=self.settle,
        )
