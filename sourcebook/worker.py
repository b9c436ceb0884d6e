"""The Celery worker entry point: ``celery -A sourcebook.worker worker -Q ocr,light``; with
``SOURCEBOOK_QUALITY_INTERVAL_S`` set, ``celery -A sourcebook.worker beat`` sends the quality runs.

Settings come from the environment (``SOURCEBOOK_*``); each child process opens its own catalog
connection and store, through the composition root, on its first task.
"""

from __future__ import annotations

from typing import Any

from celery.signals import worker_process_init, worker_process_shutdown

from core.settings import Settings
from sourcebook.quality import run_quality
from sourcebook.wiring import Services
from workers import tasks
from workers.app import QUALITY_RUN, create_celery
from workers.recovery import sweep_step
from workers.runtime import Runtime

settings = Settings()
runtime = Runtime(settings, Services.open)
app = create_celery(settings)
tasks.register(app, runtime)
app.steps["worker"].add(sweep_step(lambda: runtime.lost_job_sweep(app)))


@app.task(name=QUALITY_RUN)  # type: ignore[untyped-decorator]
def quality_run() -> int:
    """Each collection's golden cases against the live configuration (sent by Celery beat)."""
    return len(run_quality(runtime.services))  # type: ignore[arg-type]


@worker_process_init.connect  # type: ignore[untyped-decorator]
def _child_started(**_: Any) -> None:
    runtime.prepare_process()


@worker_process_shutdown.connect  # type: ignore[untyped-decorator]
def _child_stopping(**_: Any) -> None:
    runtime.close()
