"""The quality schedule: every ``SOURCEBOOK_QUALITY_INTERVAL_S`` seconds, each collection's golden
cases are asked of the live configuration (``eval/quality.py``). A timer thread in the single-node
server; in the cluster Celery beat sends ``sourcebook.quality_run`` (``workers/app.py``,
``sourcebook/worker.py``)."""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.catalog.serving import QualityPoint
    from sourcebook.wiring import Services

log = logging.getLogger(__name__)


def run_quality(services: Services) -> list[QualityPoint]:
    """One run of every collection's golden cases against what is live now."""
    from eval.quality import measure_all

    return measure_all(services, tolerance=services.settings.quality_tolerance, model=services.live.model)


class QualitySchedule:
    """A daemon thread that runs ``run_quality`` every ``interval_s`` seconds, the first after one
    interval (a start is busy enough); a failed run is logged and the next one tried."""

    def __init__(self, services: Services, interval_s: float) -> None:
        self.services = services
        self.interval_s = interval_s
        self.runs = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="quality-schedule", daemon=True)

    def start(self) -> QualitySchedule:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                points = run_quality(self.services)
            except Exception:
                log.exception("the scheduled quality run failed")
                continue
            self.runs += 1
            flagged = [p.collection for p in points if p.dropped]
            if flagged:
                log.warning("quality dropped past the tolerance in %s", ", ".join(flagged))
