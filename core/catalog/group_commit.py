"""Group commit: small writes from many threads share one transaction and one commit.

Every request appends rows (its audit entry, its answer, its usage counters). Written one
transaction each, they queue for the database's single writer (SQLite takes one writer at a
time and each commit is an fsync), so reads wait behind writes and throughput stops growing
with clients. Here one writer thread takes whatever has queued while the last commit ran,
applies it in one transaction and commits once: under load a batch holds every waiting request;
alone, a request pays one commit, as before.

Durability is unchanged: ``submit`` returns only after the transaction holding the write has
committed, so a request that got its answer has its audit entry and answer row on disk, and a
crash (``kill -9``) loses only writes whose requests had not been answered. A write that
raises fails alone: the batch is rolled back and its writes are applied again one by one, each
in its own transaction, so one bad write never takes the others with it.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from core.errors import BackendUnavailable

T = TypeVar("T")
Work = Callable[[Session], Any]


@dataclass(slots=True)
class _Write:
    work: Work
    done: Future[Any] = field(default_factory=Future)


_STOP = object()


class GroupCommit:
    """One writer thread that commits the queued writes together, up to ``max_batch`` at a time."""

    def __init__(self, sessions: sessionmaker[Session], *, max_batch: int = 256) -> None:
        self.sessions = sessions
        self.max_batch = max_batch
        self.batches = 0  # commits made, for tests and metrics: fewer than writes under load
        self.writes = 0
        self._queue: queue.SimpleQueue[_Write | object] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pid = 0
        self._closed = False

    def submit(self, work: Callable[[Session], T]) -> T:
        """Run ``work`` in the next group's transaction; its result once that has committed."""
        if self._closed or threading.current_thread() is self._thread:
            return self._alone(work)
        write = _Write(work)
        self._ensure_writer()
        self._queue.put(write)
        result: T = write.done.result()
        return result

    def close(self) -> None:
        """Commit what is queued, then stop the writer; later writes run in the caller's thread."""
        with self._lock:
            self._closed = True
            thread = self._thread if self._pid == os.getpid() else None
        if thread is not None and thread.is_alive():
            self._queue.put(_STOP)
            thread.join()

    def _ensure_writer(self) -> None:
        # A forked child inherits the object but not the thread: it starts its own.
        if self._thread is not None and self._pid == os.getpid():
            return
        with self._lock:
            if self._thread is None or self._pid != os.getpid():
                self._queue = queue.SimpleQueue()
                self._pid = os.getpid()
                self._thread = threading.Thread(target=self._run, name="group-commit", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is _STOP:
                return
            batch = [first]
            stop = False
            while len(batch) < self.max_batch:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    stop = True
                    break
                batch.append(item)
            self._commit([w for w in batch if isinstance(w, _Write)])
            if stop:
                return

    def _commit(self, batch: list[_Write]) -> None:
        if len(batch) > 1:
            try:
                results = []
                with self.sessions.begin() as session:
                    for write in batch:
                        results.append(write.work(session))
                        session.flush()
            except Exception:  # noqa: BLE001 - find the write that failed: each again, alone
                pass
            else:
                self.batches += 1
                self.writes += len(batch)
                for write, result in zip(batch, results, strict=True):
                    write.done.set_result(result)
                return
        for write in batch:
            try:
                write.done.set_result(self._alone(write.work))
            except BaseException as exc:  # noqa: BLE001 - the caller re-raises it
                write.done.set_exception(exc)

    def _alone(self, work: Callable[[Session], T]) -> T:
        try:
            with self.sessions.begin() as session:
                result = work(session)
        except OperationalError as exc:
            raise BackendUnavailable(f"catalog database unreachable: {exc.orig}") from exc
        self.batches += 1
        self.writes += 1
        return result
