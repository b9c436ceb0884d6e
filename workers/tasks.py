"""The tasks: thin, take ids, call the library. Transient errors retry with backoff; a bad
document never does (it fails with its reason inside ``Runtime.ingest_document``)."""

from __future__ import annotations

from typing import Any

from celery import Celery, Task
from celery.exceptions import SoftTimeLimitExceeded
from celery.worker.request import Request

from core.errors import BackendUnavailable
from workers import app as names
from workers.runtime import Runtime

RETRY = {
    "autoretry_for": (BackendUnavailable,),
    "retry_backoff": 2,  # 2, 4, 8 … seconds
    "retry_backoff_max": 120,
    "retry_jitter": True,
    "max_retries": 8,  # about eight minutes of an unreachable catalog or store
}


def register(app: Celery, runtime: Runtime) -> None:
    """The tasks on ``app``, each one calling ``runtime`` (built by ``sourcebook/worker.py``)."""

    class IngestRequest(Request):  # type: ignore[misc]
        """Runs in the worker's parent process, which outlives a child killed at the hard limit."""

        def on_timeout(self, soft: bool, timeout: float) -> None:
            super().on_timeout(soft, timeout)
            if not soft:
                job_id, document_id = self.args[:2]
                runtime.fail_after_hard_limit(job_id, document_id)

    class IngestTask(Task):  # type: ignore[misc]
        Request = IngestRequest

    @app.task(name=names.INGEST_DOCUMENT, base=IngestTask, bind=True, **RETRY)  # type: ignore[untyped-decorator]
    def ingest_document(self: Any, job_id: str, document_id: str) -> str:
        return runtime.ingest_document(job_id, document_id, timed_out=SoftTimeLimitExceeded)

    @app.task(name=names.DELETE_DOCUMENT, **RETRY)  # type: ignore[untyped-decorator]
    def delete_document(document_id: str) -> str:
        return runtime.delete_document(document_id)

    @app.task(name=names.REINDEX_COLLECTION, **RETRY)  # type: ignore[untyped-decorator]
    def reindex_collection(collection: str) -> int:
        return runtime.reindex_collection(collection)
