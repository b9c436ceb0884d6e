"""Readiness: ``/healthz`` answers as soon as the server listens, ``/readyz`` only once the models
are loaded and the answer path has run once, so a load balancer (or ``sourcebook up``, or the CLI)
sends the first questions after a restart when they cost what later ones cost."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)


class WarmUp:
    """Runs ``warm`` on its own thread, again every ``retry_s`` while it fails (a backend that is
    briefly down must not leave the server unready for good)."""

    def __init__(self, warm: Callable[[], None], retry_s: float = 5.0) -> None:
        self._warm = warm
        self._retry_s = retry_s
        self._done = threading.Event()
        self._stopped = threading.Event()
        self.error: str | None = None
        self.seconds: float | None = None
        self._thread = threading.Thread(target=self._run, name="warm-up", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()

    @property
    def ready(self) -> bool:
        return self._done.is_set()

    def _run(self) -> None:
        started = time.perf_counter()
        while not self._stopped.is_set():
            try:
                self._warm()
            except Exception as exc:
                log.exception("warming up failed; retrying in %g s", self._retry_s)
                self.error = f"{type(exc).__name__}: {exc}"
                self._stopped.wait(self._retry_s)
                continue
            self.error = None
            self.seconds = time.perf_counter() - started
            log.info("warmed up in %.1f s", self.seconds)
            self._done.set()
            return
