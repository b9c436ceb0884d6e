"""Ingestions whose message the broker lost, queued again.

Kombu's Redis transport takes a message with ``BRPOP`` and only afterwards records it as
unacknowledged. A Redis that dies between the two (or after popping, before its reply reached the
worker) has dropped the message for good, and its job would wait as queued forever: kombu's own
recovery (``visibility_timeout``) restores only what it recorded.

So every worker runs a sweep in its parent process; a Redis lock lets one of them act per period.
The sweep lists the jobs the catalog says are unfinished and that no one has touched for a
visibility timeout (longer than any task may run), and sends again each one that no message in
the queues or among the unacknowledged carries. Each ingestion is sent with its job id as the
task id, which is what the sweep looks for. A second delivery is harmless: the runtime does a
finished job once and overwrites chunks in place.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from celery import bootsteps
from kombu.transport.redis import PRIORITY_STEPS, Channel

from core.catalog import Jobs
from core.catalog.jobs import StalledJob
from workers.app import QUEUES

log = logging.getLogger("sourcebook.worker")

LOCK_KEY = "sourcebook:lost-job-sweep"
PAGE = 500


def sweep_interval_s(visibility_timeout_s: int) -> int:
    return max(1, min(60, visibility_timeout_s // 3))


def queue_keys(queues: Iterable[str] = QUEUES) -> list[str]:
    """The Redis lists kombu keeps a queue's messages in: one per priority step."""
    return [
        queue if not step else f"{queue}{Channel.sep}{step}" for queue in queues for step in PRIORITY_STEPS
    ]


def task_id_of(raw: bytes | str) -> str | None:
    """The task id a kombu message carries (``[message, exchange, key]`` when unacknowledged)."""
    try:
        message = json.loads(raw)
        if isinstance(message, list):
            message = message[0]
        task_id = message["headers"]["id"]
    except (ValueError, KeyError, IndexError, TypeError):
        return None
    return task_id if isinstance(task_id, str) else None


def lost(candidates: list[StalledJob], redis: Any) -> list[StalledJob]:
    """The candidates that no message in the broker carries, read page by page until all are seen."""
    missing = {job.job_id for job in candidates}
    for task_id in _broker_task_ids(redis):
        missing.discard(task_id)
        if not missing:
            break
    return [job for job in candidates if job.job_id in missing]


def _broker_task_ids(redis: Any) -> Iterator[str | None]:
    for key in queue_keys():
        start = 0
        while page := redis.lrange(key, start, start + PAGE - 1):
            yield from map(task_id_of, page)
            start += PAGE
    for _, raw in redis.hscan_iter(Channel.unacked_key, count=PAGE):
        yield task_id_of(raw)


class LostJobSweep:
    """One sweep: find the lost ingestions and hand each to ``resend``; returns how many it sent."""

    def __init__(
        self, jobs: Jobs, redis: Any, resend: Callable[[StalledJob], None], visibility_timeout_s: int
    ) -> None:
        self.jobs = jobs
        self.redis = redis
        self.resend = resend
        self.grace = timedelta(seconds=visibility_timeout_s)
        self.interval_s = sweep_interval_s(visibility_timeout_s)

    def __call__(self) -> int:
        if not self.redis.set(LOCK_KEY, "1", nx=True, ex=self.interval_s):
            return 0  # another worker swept within this period
        candidates = self.jobs.stalled(datetime.now(UTC) - self.grace)
        if not candidates:
            return 0
        gone = lost(candidates, self.redis)
        for job in gone:
            log.warning(
                "job %s (document %s) lost its message in the broker: queued again",
                job.job_id,
                job.document_id,
            )
            self.resend(job)
        return len(gone)


def sweep_step(make_sweep: Callable[[], LostJobSweep]) -> type[bootsteps.StartStopStep]:
    """A worker bootstep that runs the sweep on the parent's timer (the event loop's: no thread
    meets a fork of a child)."""

    class SweepStep(bootsteps.StartStopStep):  # type: ignore[misc]
        requires = ("celery.worker.components:Timer",)

        def __init__(self, worker: Any, **kwargs: Any) -> None:
            super().__init__(worker, **kwargs)
            self.tref: Any = None

        def start(self, worker: Any) -> None:
            sweep = make_sweep()
            self.tref = worker.timer.call_repeatedly(sweep.interval_s, _logged(sweep), priority=10)

        def stop(self, worker: Any) -> None:
            if self.tref is not None:
                self.tref.cancel()
                self.tref = None

    return SweepStep


def _logged(sweep: LostJobSweep) -> Callable[[], None]:
    def run() -> None:
        try:
            sweep()
        except Exception:  # a broker or catalog that is down now: the next period tries again
            log.warning("the sweep for lost jobs could not run", exc_info=True)

    return run
