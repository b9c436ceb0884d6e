"""One embedding model per machine: the local pool's workers parse and chunk, this process embeds."""

from __future__ import annotations

import io
import threading
from collections.abc import Sequence

import pytest

from core.catalog import Catalog, Jobs
from core.domain import DocumentStatus, JobState
from core.protocols import Vectors
from core.settings import Settings
from ingest.blobs import BlobStore
from ingest.embed import HashingEmbedder
from ingest.executor import LocalPoolExecutor
from ingest.intake import Intake
from ingest.library import local_pool
from ingest.pipeline import IndexWriter
from retrieval.stores.edge import EdgeVectorStore

pytestmark = pytest.mark.integration


class CountingEmbedder(HashingEmbedder):
    """The hashing double, counting what it embeds and in how many calls (from any thread)."""

    def __init__(self, fail: bool = False) -> None:
        super().__init__()
        self.fail = fail
        self.texts = 0
        self.calls = 0
        self._lock = threading.Lock()

    def embed(self, texts: Sequence[str]) -> Vectors:
        with self._lock:
            self.calls += 1
            self.texts += len(texts)
        if self.fail:
            raise MemoryError
        return super().embed(texts)


def _open(settings: Settings, embedder: CountingEmbedder) -> tuple[Catalog, Jobs, EdgeVectorStore, Intake]:
    settings.home.mkdir(parents=True, exist_ok=True)
    catalog = Catalog.connect(settings.catalog_url)
    jobs = Jobs(catalog.db)
    store = EdgeVectorStore(settings.qdrant_path, embedder.dimension)
    executor = local_pool(settings, IndexWriter(catalog, jobs, store), embedder)
    return catalog, jobs, store, Intake(settings, catalog, jobs, BlobStore(settings.blob_dir), executor)


def test_documents_are_embedded_by_this_process_model_in_shared_calls(settings: Settings) -> None:
    embedder = CountingEmbedder()
    catalog, _, store, intake = _open(settings, embedder)
    executor = intake.executor
    assert isinstance(executor, LocalPoolExecutor)
    try:
        catalog.ensure_collection("kb")
        for n in range(12):
            intake.add(
                "kb", f"note-{n}.txt", io.BytesIO(f"Note {n}: the hotline opens at {n}:00.\n".encode())
            )
        assert executor.wait(timeout=180)
        documents = catalog.documents("kb")
        assert [d.status for d in documents] == [DocumentStatus.READY] * 12
        chunks = catalog.chunk_count(collection="kb")
        # Every chunk went through the model this process holds (the workers only tokenize),
        # and documents that waited together shared a call.
        assert embedder.texts == chunks == store.count(collection="kb") == 12
        assert embedder.calls <= 12
    finally:
        executor.shutdown()
        store.close()
        catalog.close()


def test_a_model_error_fails_its_documents_with_a_reason_and_the_pool_goes_on(settings: Settings) -> None:
    embedder = CountingEmbedder(fail=True)
    catalog, jobs, store, intake = _open(settings, embedder)
    executor = intake.executor
    assert isinstance(executor, LocalPoolExecutor)
    try:
        catalog.ensure_collection("kb")
        first = intake.add("kb", "a.txt", io.BytesIO(b"The hotline opens at 8:00.\n"))
        assert executor.wait(timeout=120)
        job = jobs.get(str(first.job_id))
        assert job.state is JobState.FAILED
        assert job.error == "the document needs more memory than is available"
        embedder.fail = False
        second = intake.add("kb", "b.txt", io.BytesIO(b"Refunds take seven days.\n"))
        assert executor.wait(timeout=120)
        assert jobs.get(str(second.job_id)).state is JobState.SUCCEEDED
        assert store.count(collection="kb") == 1
    finally:
        executor.shutdown()
        store.close()
        catalog.close()


def test_the_pool_starts_its_workers_before_the_first_document(settings: Settings) -> None:
    """Started on the first task, in the caller's thread, the fork server's import of the parsers
    held the first upload's request for seconds; the workers start when the pool is made."""
    import time

    import psutil  # type: ignore[import-untyped]

    def processes() -> set[int]:  # the fork server (one per process, maybe started earlier) and its workers
        return {child.pid for child in psutil.Process().children(recursive=True)}

    before = processes()  # other tests' pools may still be going away
    catalog, _, store, intake = _open(settings, CountingEmbedder())
    executor = intake.executor
    assert isinstance(executor, LocalPoolExecutor)
    try:
        deadline = time.monotonic() + 120
        while len(processes() - before) < settings.workers and time.monotonic() < deadline:
            time.sleep(0.2)  # no document was submitted
        assert len(processes() - before) >= settings.workers
    finally:
        executor.shutdown()
        store.close()
        catalog.close()
