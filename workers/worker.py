"""The worker entry point: ``celery -A workers.worker worker -Q ocr,light``.

Settings come from the environment (``SOURCEBOOK_*``); each child process opens its own catalog
connection and store on its first task.
"""

from __future__ import annotations

from typing import Any

from celery.signals import worker_process_init, worker_process_shutdown

from workers import runtime, tasks
from workers.app import create_celery

app = create_celery(runtime.settings())
tasks.register(app)


@worker_process_init.connect  # type: ignore[untyped-decorator]
def _child_started(**_: Any) -> None:
    runtime.prepare_process()


@worker_process_shutdown.connect  # type: ignore[untyped-decorator]
def _child_stopping(**_: Any) -> None:
    if runtime.services.cache_info().currsize:
        runtime.services().close()
