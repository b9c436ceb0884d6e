"""The Celery app, configured from settings: Redis broker, late acks, time limits, two queues.

Workers start with ``celery -A sourcebook.worker worker -Q ocr,light``; the API and the CLI build
the same app (no tasks imported) only to send messages by task name.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from core.settings import Settings

if TYPE_CHECKING:
    from celery import Celery

OCR_QUEUE = "ocr"  # PDFs and images: a page may need OCR, seconds each
LIGHT_QUEUE = "light"  # text formats, deletes, re-index fan-out: quick
QUEUES = (OCR_QUEUE, LIGHT_QUEUE)

INGEST_DOCUMENT = "sourcebook.ingest_document"
DELETE_DOCUMENT = "sourcebook.delete_document"
REINDEX_COLLECTION = "sourcebook.reindex_collection"
QUALITY_RUN = "sourcebook.quality_run"  # registered by sourcebook/worker.py: it runs the eval


def queue_for(media_type: str) -> str:
    """Where an ingestion goes: PDFs and images may need OCR, the rest is light work."""
    if media_type == "application/pdf" or media_type.startswith("image/"):
        return OCR_QUEUE
    return LIGHT_QUEUE


def ingest_message(job_id: str, document_id: str, media_type: str) -> dict[str, Any]:
    """``send_task``'s arguments for an ingestion: its ids, on the queue its media type needs, with
    the job id as the task id (what the sweep for lost jobs, ``workers/recovery.py``, looks for)."""
    return {
        "name": INGEST_DOCUMENT,
        "args": [job_id, document_id],
        "queue": queue_for(media_type),
        "task_id": job_id,
    }


def create_celery(settings: Settings) -> Celery:
    from celery import Celery

    if not settings.broker_url:
        raise ValueError("the Celery app needs SOURCEBOOK_BROKER_URL")
    app = Celery("sourcebook", set_as_current=False)
    transport = {
        "visibility_timeout": settings.visibility_timeout_s,
        # Look for messages a dead worker left unacknowledged every few seconds, not every
        # 100 s (kombu's default sweep: 10 s x a throttle of 10).
        "unacked_restore_interval": max(1, min(10, settings.visibility_timeout_s // 5)),
        "unacked_restore_throttle": 1,
    }
    app.conf.update(
        broker_url=settings.broker_url,
        result_backend=settings.result_backend or settings.broker_url,
        broker_transport_options=transport,
        result_backend_transport_options=transport,
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,  # a restarted Redis is waited for, not given up on
        task_serializer="json",
        accept_content=["json"],
        task_ignore_result=True,  # progress and outcome live in the job row
        # A message is acknowledged only once its task has finished; a worker that dies
        # (kill -9, out of memory) leaves it to be delivered again.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,  # a long OCR job does not hold back messages it cannot start
        task_soft_time_limit=settings.document_timeout_s,
        task_time_limit=settings.hard_time_limit_s,
        worker_max_memory_per_child=settings.worker_max_memory_mb * 1024,  # KiB
        task_default_queue=LIGHT_QUEUE,
        task_create_missing_queues=True,
        worker_hijack_root_logger=False,
        # A new child imports torch and the parsers before it says it is up: seconds on a busy host.
        worker_proc_alive_timeout=120,
        worker_cancel_long_running_tasks_on_connection_loss=False,
        worker_send_task_events=False,
    )
    if settings.quality_interval_s > 0:  # sent by ``celery -A sourcebook.worker beat``
        app.conf.beat_schedule = {
            "quality": {
                "task": QUALITY_RUN,
                "schedule": settings.quality_interval_s,
                "options": {"queue": LIGHT_QUEUE},
            }
        }
    return app
