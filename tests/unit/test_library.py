"""Library operations: one re-index path, whichever executor runs the documents."""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from core.catalog import Catalog, Jobs
from core.domain import DocumentStatus
from core.errors import NotFound
from core.settings import Settings
from ingest.blobs import BlobStore
from ingest.intake import Intake, Outcome
from ingest.library import Library
from ingest.pipeline import IndexWriter, IngestTask
from ingest.rebuild import Pool
from retrieval.stores.edge import EdgeVectorStore


class RecordingExecutor:
    """An executor that runs nothing: it records what it was given."""

    def __init__(self, *, delegates: bool) -> None:
        self.delegates = delegates
        self.submitted: list[IngestTask] = []
        self.delegated: list[str] = []

    def submit(self, task: IngestTask) -> None:
        self.submitted.append(task)

    def in_flight(self, document_id: str) -> bool:
        return False

    def delegate_reindex(self, collection: str) -> bool:
        if self.delegates:
            self.delegated.append(collection)
        return self.delegates


@contextmanager
def _library(settings: Settings, catalog: Catalog, executor: RecordingExecutor) -> Iterator[Library]:
    blobs = BlobStore(settings.blob_dir)
    store = EdgeVectorStore(settings.home / "qdrant", 8)
    try:
        jobs = Jobs(catalog.db)
        intake = Intake(settings, catalog, jobs, blobs, executor)
        yield Library(catalog, jobs, store, blobs, intake, executor, _no_pool)
    finally:
        store.close()


def _no_pool(writer: IndexWriter) -> Pool:
    raise AssertionError("a re-index never builds a rebuild pool")


@pytest.fixture
def catalog(settings: Settings) -> Iterator[Catalog]:
    settings.home.mkdir(parents=True, exist_ok=True)
    catalog = Catalog.connect(settings.catalog_url)
    catalog.ensure_collection("kb")
    yield catalog
    catalog.close()


def _ready_document(library: Library) -> str:
    submission = library.intake.add(
        "kb", "faq.md", io.BytesIO(b"# FAQ\n\nReset the unit by holding the button.\n")
    )
    assert submission.document_id is not None
    library.catalog.update_document(submission.document_id, status=DocumentStatus.READY)
    return submission.document_id


def test_a_delegating_executor_hands_the_fan_out_to_a_worker(settings: Settings, catalog: Catalog) -> None:
    executor = RecordingExecutor(delegates=True)
    with _library(settings, catalog, executor) as library:
        _ready_document(library)
        executor.submitted.clear()
        assert library.reindex("kb") is None
        assert executor.delegated == ["kb"] and executor.submitted == []
        # The worker that receives the fan-out queues the documents from where it runs.
        [queued] = library.reindex_here("kb")
        assert queued.outcome is Outcome.QUEUED and len(executor.submitted) == 1


def test_the_local_pool_reindexes_from_this_process(settings: Settings, catalog: Catalog) -> None:
    executor = RecordingExecutor(delegates=False)
    with _library(settings, catalog, executor) as library:
        document_id = _ready_document(library)
        executor.submitted.clear()
        queued = library.reindex("kb")
        assert queued is not None
        assert [(q.document_id, q.outcome) for q in queued] == [(document_id, Outcome.QUEUED)]
        assert [t.document_id for t in executor.submitted] == [document_id]


def test_reindexing_an_unknown_collection_names_it(settings: Settings, catalog: Catalog) -> None:
    with (
        _library(settings, catalog, RecordingExecutor(delegates=True)) as library,
        pytest.raises(NotFound, match="no collection named 'nope'"),
    ):
        library.reindex("nope")
