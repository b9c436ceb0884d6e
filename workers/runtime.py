"""What a worker process does with a delivered message: the ingestion of one document, once.

A message may arrive more than once: Redis delivers it again when the worker that held it died,
and a task retries when the catalog or the store is unreachable. The job row says what happened
before: a finished job is not done twice, a job that was running when its worker died counts an
attempt (a file that kills its parser every time fails after ``task_max_attempts``), and the
index writer overwrites chunks in place, so any number of runs leaves one copy of each chunk.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from functools import cached_property
from typing import TYPE_CHECKING, Protocol

from core.catalog import Catalog, Database, Jobs
from core.domain import DocumentStatus, JobState
from core.errors import BackendUnavailable, NotFound
from core.settings import Settings

if TYPE_CHECKING:
    from celery import Celery

    from core.catalog.jobs import StalledJob
    from core.protocols import VectorStore
    from ingest.blobs import BlobStore
    from ingest.intake import Intake
    from ingest.library import Library
    from workers.recovery import LostJobSweep

log = logging.getLogger("sourcebook.worker")

TERMINAL = {JobState.SUCCEEDED, JobState.FAILED, JobState.SKIPPED}


class WorkerServices(Protocol):
    """What a worker needs from the composition root (``sourcebook/wiring.py`` builds it)."""

    @property
    def settings(self) -> Settings: ...

    @property
    def catalog(self) -> Catalog: ...

    @property
    def jobs(self) -> Jobs: ...

    @property
    def store(self) -> VectorStore: ...

    @property
    def blobs(self) -> BlobStore: ...

    @property
    def intake(self) -> Intake: ...

    @property
    def library(self) -> Library: ...

    def close(self) -> None: ...


class Runtime:
    """One worker process's services, opened on first use by the tasks that need them.

    The parent process must never open the store (an embedded one admits one process): it only
    uses ``database_only``; each child opens the full services on its first task.
    """

    def __init__(self, settings: Settings, open_services: Callable[[Settings], WorkerServices]) -> None:
        self.settings = settings
        self._open_services = open_services

    @cached_property
    def services(self) -> WorkerServices:
        return self._open_services(self.settings)

    @cached_property
    def database_only(self) -> Database:
        """The catalog database alone, for the worker's parent process (it must never open the store)."""
        return Database.connect(self.settings.catalog_url, migrate=False)

    def prepare_process(self) -> None:
        """One thread per library in each child, and the parsers imported before the first document."""
        os.environ.setdefault("OMP_NUM_THREADS", "1")
        os.environ.setdefault("OMP_THREAD_LIMIT", "1")
        import torch

        torch.set_num_threads(1)
        from ingest.pipeline import warm_up

        warm_up(self.settings.embedder)  # the model loads here, not inside the first document's time limit
        log.info("worker child %d ready", os.getpid())

    def lost_job_sweep(self, app: Celery) -> LostJobSweep:
        """The parent's sweep for ingestions the broker lost (``workers/recovery.py``)."""
        import redis

        from workers.app import ingest_message
        from workers.recovery import LostJobSweep

        def resend(job: StalledJob) -> None:
            app.send_task(**ingest_message(job.job_id, job.document_id, job.media_type), ignore_result=True)

        broker = redis.Redis.from_url(
            self.settings.broker_url or "", socket_timeout=5, socket_connect_timeout=5
        )
        return LostJobSweep(Jobs(self.database_only), broker, resend, self.settings.visibility_timeout_s)

    def close(self) -> None:
        if "services" in self.__dict__:
            self.services.close()

    def ingest_document(self, job_id: str, document_id: str, *, timed_out: type[BaseException]) -> str:
        """Run one delivery of an ingestion job; returns what happened (for the worker's log).

        ``timed_out`` is the exception the soft time limit raises inside the task.
        """
        return _ingest_document(self.services, job_id, document_id, timed_out)

    def delete_document(self, document_id: str) -> str:
        try:
            self.services.library.delete_document(document_id)
        except NotFound:
            return "gone"
        return "deleted"

    def reindex_collection(self, collection: str) -> int:
        """The fan-out a ``CeleryExecutor`` delegated: queue the collection's documents from here."""
        return len(self.services.library.reindex_here(collection))

    def fail_after_hard_limit(self, job_id: str, document_id: str) -> None:
        """Run by the worker's parent after it killed a child stuck past the hard time limit."""
        try:
            db = self.database_only
            reason = time_limit_reason(self.settings.document_timeout_s)
            fail(Catalog(db), Jobs(db), job_id, document_id, reason)
        except Exception:  # the parent must go on serving; the job then stays marked running
            log.exception("could not record that job %s passed the hard time limit", job_id)


def fail(catalog: Catalog, jobs: Jobs, job_id: str, document_id: str, reason: str) -> None:
    from ingest.pipeline import fail_job

    fail_job(catalog, jobs, job_id, document_id, reason)


def time_limit_reason(limit_s: float) -> str:
    return f"processing took longer than the {limit_s:g} s limit per document"


def _ingest_document(s: WorkerServices, job_id: str, document_id: str, timed_out: type[BaseException]) -> str:
    from ingest.pipeline import IndexWriter, failure_reason, process_document
    from retrieval.records import sentence_spans

    catalog, jobs = s.catalog, s.jobs
    try:
        job = jobs.get(job_id)
        doc = catalog.get_document(document_id)
    except NotFound:
        return "gone"  # deleted after it was queued
    if job.state in TERMINAL:
        return f"already {job.state.value}"  # a second delivery of a finished job
    if job.state is JobState.RUNNING:  # the worker that ran it before died with it
        if job.attempts >= s.settings.task_max_attempts:
            fail(
                catalog,
                jobs,
                job_id,
                document_id,
                f"processing stopped {job.attempts} times without finishing "
                "(the file may crash the parser, or need more memory than a worker has)",
            )
            return "failed: too many attempts"
        jobs.update(job_id, attempts=job.attempts + 1)
    jobs.update(job_id, state=JobState.RUNNING, stage="parsing", progress=0.0, error=None)
    if doc.status is DocumentStatus.QUEUED:
        catalog.update_document(document_id, status=DocumentStatus.PROCESSING)
    if not s.blobs.path(doc.sha256).is_file():
        fail(catalog, jobs, job_id, document_id, "the original file is no longer stored; upload it again")
        return "failed: no original"

    task = s.intake.task_for(job_id, doc)
    clock = StageClock(lambda stage, fraction: _progress(jobs, job_id, stage, fraction))
    try:
        processed = process_document(task, clock.progress, sentence_spans)
    except timed_out:
        fail(catalog, jobs, job_id, document_id, time_limit_reason(s.settings.document_timeout_s))
        return "failed: time limit"
    except BackendUnavailable:
        _requeued(jobs, job_id)
        raise
    except Exception as exc:  # noqa: BLE001 - a bad document fails alone, with its reason
        fail(catalog, jobs, job_id, document_id, failure_reason(exc))
        return "failed"
    clock.progress("indexing", 0.96)
    try:
        IndexWriter(catalog, jobs, s.store).commit(task, processed)
    except NotFound:
        s.store.delete_document(document_id)  # deleted while it was processed: leave no vectors
        return "gone"
    except BackendUnavailable:
        _requeued(jobs, job_id)
        raise
    except Exception as exc:  # a store error is the store's, not the document's: retry
        _requeued(jobs, job_id)
        raise BackendUnavailable(f"the vector store rejected the write: {exc}") from exc
    clock.stop()
    log.info(
        "ingested %s (%s, %d chunks, %d OCR pages) %s",
        doc.source_name,
        doc.media_type,
        len(processed.chunks),
        len(processed.ocr_pages),
        " ".join(f"{stage}={seconds:.3f}s" for stage, seconds in clock.seconds.items()),
    )
    return "ready"


def _progress(jobs: Jobs, job_id: str, stage: str, fraction: float) -> None:
    try:
        jobs.update(job_id, stage=stage, progress=round(fraction, 3))
    except Exception:
        log.debug("could not record progress of %s", job_id, exc_info=True)


def _requeued(jobs: Jobs, job_id: str) -> None:
    """Before a retry: mark the job waiting, so the next delivery does not count a lost worker."""
    try:
        jobs.update(job_id, state=JobState.QUEUED, stage="waiting for the store or catalog")
    except Exception:
        log.debug("could not mark %s as waiting", job_id, exc_info=True)


class StageClock:
    """Times the stages a document goes through (parsing includes OCR) from its progress calls."""

    def __init__(self, report: Callable[[str, float], None]) -> None:
        self.report = report
        self.seconds: dict[str, float] = {}
        self._stage: str | None = None
        self._since = time.perf_counter()

    def progress(self, stage: str, fraction: float) -> None:
        if stage != self._stage:
            self.stop()
            self._stage = stage
        self.report(stage, fraction)

    def stop(self) -> None:
        now = time.perf_counter()
        if self._stage is not None:
            self.seconds[self._stage] = self.seconds.get(self._stage, 0.0) + now - self._since
        self._since = now
        self._stage = None
