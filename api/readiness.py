"""Readiness: ``/healthz`` answers as soon as the server listens, ``/readyz`` only once the models
are loaded and the answer path has run once, so a load balancer (or ``sourcebook up``, or the CLI)
sends the first questions after a restart when they cost what later ones cost."""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)


def _freeze_what_lives_on() -> None:
    """Keep what the server holds for good out of the garbage collector's full passes.

    The models, the tokenizers and the catalog's mappings are millions of objects that live as
    long as the process, and a full (generation 2) collection walks every one of them: 230-420 ms
    with the interpreter held, stalling every request in flight (searches at 8 clients: p95 about
    500 ms against a p50 of 150). The warm-up's garbage is collected, then what is left is frozen
    (``gc.freeze``): later full collections walk only what was made after. Frozen objects in a
    reference cycle that later becomes garbage are not reclaimed (reference counting still frees
    the rest): the warm-up runs once a process.
    """
    gc.collect()
    gc.freeze()


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
            _freeze_what_lives_on()
            self.seconds = time.perf_counter() - started
            log.info("warmed up in %.1f s", self.seconds)
            self._done.set()
            return
