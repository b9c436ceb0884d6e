"""A worker whose parser misbehaves on purpose, for fault-injection tests only.

``celery -A tests.integration.fault_worker worker``: the real app and tasks, with ``parse``
wrapped so that a file starting with CRASH kills its process (SIGSEGV), HANG loops ignoring the
soft time limit (only the hard limit stops it), and SLOW sleeps past the soft limit.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path
from typing import Any

import ingest.pipeline
from sourcebook.worker import app

__all__ = ["app"]

_real_parse = ingest.pipeline.parse


def _misbehaving_parse(path: Path, *args: Any, **kwargs: Any) -> Any:
    head = path.read_bytes()[:5]
    if head == b"CRASH":
        os.kill(os.getpid(), signal.SIGSEGV)
    if head == b"HANG ":
        while True:
            with contextlib.suppress(BaseException):  # swallows the soft time limit on purpose
                time.sleep(0.2)
    if head == b"SLOW ":
        time.sleep(120)
    return _real_parse(path, *args, **kwargs)


ingest.pipeline.parse = _misbehaving_parse  # type: ignore[assignment]
