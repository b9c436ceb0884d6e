"""``CeleryExecutor``: the cluster's executor. It queues ids; Celery workers anywhere do the work.

The same interface as ``LocalPoolExecutor`` (submit, in_flight, subscribe, wait, shutdown):
``sourcebook/wiring.py`` picks one by settings and nothing else knows which.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from core.catalog import Catalog, Jobs
from core.domain import DocumentStatus, JobState
from core.errors import BackendUnavailable, NotFound
from core.settings import Settings
from ingest.executor import JobEvent, Listener
from ingest.pipeline import IngestTask
from workers.app import (
    DELETE_DOCUMENT,
    LIGHT_QUEUE,
    REINDEX_COLLECTION,
    create_celery,
    ingest_message,
)

log = logging.getLogger(__name__)

_DONE = {JobState.SUCCEEDED, JobState.FAILED, JobState.SKIPPED}
# Jobs remembered for wait() and listeners (the CLI); a long-running API never waits, so the
# oldest are forgotten past this many.
MAX_WATCHED = 50_000
_PUBLISH_RETRY = {"max_retries": 2, "interval_start": 0.2, "interval_step": 0.5, "interval_max": 1.0}


@dataclass(slots=True)
class _Watched:
    document_id: str
    state: JobState = JobState.QUEUED
    stage: str = "queued"
    progress: float = 0.0


class CeleryExecutor:
    def __init__(self, settings: Settings, catalog: Catalog, jobs: Jobs, poll_s: float = 0.5) -> None:
        self.catalog = catalog
        self.jobs = jobs
        self.poll_s = poll_s
        self._app = create_celery(settings)
        self._watched: dict[str, _Watched] = {}
        self._listeners: list[Listener] = []
        self._lock = threading.Lock()

    def submit(self, task: IngestTask) -> None:
        self._send(**ingest_message(task.job_id, task.document_id, task.media_type))
        with self._lock:  # API requests submit from several threads
            self._watched[task.job_id] = _Watched(task.document_id)
            if len(self._watched) > MAX_WATCHED:
                del self._watched[next(iter(self._watched))]

    def delete(self, document_id: str) -> None:
        self._send(DELETE_DOCUMENT, [document_id], LIGHT_QUEUE)

    def delegate_reindex(self, collection: str) -> bool:
        """A worker queues every ready document of the collection again."""
        self._send(REINDEX_COLLECTION, [collection], LIGHT_QUEUE)
        return True

    def _send(self, name: str, args: list[Any], queue: str, task_id: str | None = None) -> None:
        try:
            # ignore_result: the outcome is in the job row, and a result backend that is down
            # must not hold up (for 19 s) a message the broker would take.
            self._app.send_task(
                name,
                args=args,
                queue=queue,
                task_id=task_id,
                ignore_result=True,
                retry=True,
                retry_policy=_PUBLISH_RETRY,
            )
        except Exception as exc:  # kombu's OperationalError, redis' ConnectionError…
            raise BackendUnavailable(f"the task queue is unreachable: {exc}") from exc

    def in_flight(self, document_id: str) -> bool:
        """Queued or processing in the catalog: the broker holds its message, whoever sent it."""
        doc = self.catalog.find_document(document_id)
        return doc is not None and doc.status in {DocumentStatus.QUEUED, DocumentStatus.PROCESSING}

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def wait(self, timeout: float | None = None) -> bool:
        """Follow the jobs this process submitted in the catalog until each one is finished."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            self._poll()
            with self._lock:
                if all(w.state in _DONE for w in self._watched.values()):
                    self._watched.clear()
                    return True
            if deadline is not None and time.monotonic() >= deadline:
                return False
            time.sleep(self.poll_s)

    def _poll(self) -> None:
        with self._lock:
            watching = list(self._watched.items())
        for job_id, watched in watching:
            if watched.state in _DONE:
                continue
            try:
                job = self.jobs.get(job_id)
            except NotFound:  # its collection was deleted
                watched.state = JobState.SKIPPED
                self._emit(JobEvent(job_id, watched.document_id, "done", 1.0, JobState.SKIPPED))
                continue
            if (job.state, job.stage, job.progress) == (watched.state, watched.stage, watched.progress):
                continue
            watched.state, watched.stage, watched.progress = job.state, job.stage, job.progress
            stage = {JobState.SUCCEEDED: "done", JobState.FAILED: "failed"}.get(job.state, job.stage)
            self._emit(JobEvent(job_id, watched.document_id, stage, job.progress, job.state, job.error))

    def _emit(self, event: JobEvent) -> None:
        for listener in self._listeners:
            try:
                listener(event)
            except Exception:
                log.exception("progress listener failed")

    def shutdown(self) -> None:
        self._app.close()
