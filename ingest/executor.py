"""The single-node executor: a pool of worker processes for parsing, OCR and chunking, and one
embedding model in this process.

Workers return chunks; this process embeds them with the one model it already holds for
questions (threads over one model: memory does not grow with workers, and the chunks of
several documents share each forward pass) and, as the store's one owner, writes them.
pebble's pool kills a worker that runs past the per-document time limit and replaces one that
crashes, so a hostile file fails alone and the rest of the batch goes on.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import queue
import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import CancelledError, Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any

from core.catalog import JobProgress
from core.domain import JobState
from core.protocols import Embedder, SentenceSpans
from ingest.pipeline import (
    IndexWriter,
    IngestTask,
    PreparedDocument,
    embed_chunks,
    failure_reason,
    prepare_document,
)

log = logging.getLogger(__name__)

_progress_queue: Any = None


@dataclass(frozen=True, slots=True)
class JobEvent:
    job_id: str
    document_id: str
    stage: str
    progress: float
    state: JobState
    error: str | None = None


Listener = Callable[[JobEvent], None]


def _init_worker(progress_queue: Any) -> None:
    global _progress_queue
    _progress_queue = progress_queue
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")
    # The fork server imported the parsers (``ingest.worker_preload``); where it could not, a
    # worker imports them now, so a document's time limit is spent on the document.
    from ingest.pipeline import warm_up

    warm_up()


def _pool_context() -> Any:
    """Workers forked from a fork server that imported the parsers once: they share those pages
    (about 0.45 GB a worker when each spawned process imported its own) and start warm. The
    server is a fresh interpreter, not a fork of this process: no copy of the store, the
    catalog's connections or this process's threads."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["ingest.worker_preload"])
    return context


def _started() -> None:
    """A task that only makes the pool start its workers."""


def _run(task: IngestTask) -> PreparedDocument:
    def report(stage: str, fraction: float) -> None:
        if _progress_queue is not None:
            _progress_queue.put((task.job_id, task.document_id, stage, fraction))

    return prepare_document(task, report)


GROUP_TEXTS = 256  # chunks of waiting documents embedded in one call
PROGRESS_BATCH = 512  # progress messages written in one transaction, at most


class LocalPoolExecutor:
    def __init__(
        self,
        writer: IndexWriter,
        workers: int,
        timeout_s: float,
        embedder: Embedder,
        sentence_spans: SentenceSpans | None = None,
    ) -> None:
        from pebble import ProcessPool

        self.writer = writer
        self.timeout_s = timeout_s
        self.embedder = embedder
        self.sentence_spans = sentence_spans  # None: store no sentence vectors
        context = _pool_context()
        self._progress: Any = context.Queue()
        self._pool = ProcessPool(
            max_workers=workers, initializer=_init_worker, initargs=(self._progress,), context=context
        )
        # The pool starts its workers on its first task, in the caller's thread: the fork server
        # importing the parsers held the first upload's request 5-10 s. Start them now, aside.
        self._starting = threading.Thread(
            target=self._pool.schedule, args=(_started,), name="ingest-pool-start", daemon=True
        )
        self._starting.start()
        self._commit = threading.Lock()
        self._pending: dict[str, Future[PreparedDocument]] = {}
        self._idle = threading.Condition()
        self._listeners: list[Listener] = []
        self._closed = False
        # Progress arrives on its own thread and may lag behind the result: once a job is
        # finished, a late progress message must not set it back to running (forever).
        self._state = threading.Lock()
        self._finished: OrderedDict[str, None] = OrderedDict()
        self._reader = threading.Thread(target=self._read_progress, name="ingest-progress", daemon=True)
        self._reader.start()
        # Parsed documents wait here for the model; one thread per worker keeps every core busy
        # (torch releases the GIL in its kernels, one torch thread each).
        self._prepared: queue.Queue[tuple[IngestTask, PreparedDocument] | None] = queue.Queue()
        self._embedders = [
            threading.Thread(target=self._embed_loop, name=f"ingest-embed-{n}", daemon=True)
            for n in range(workers)
        ]
        for thread in self._embedders:
            thread.start()

    def started(self, timeout: float | None = None) -> bool:
        """Block until the workers are up (the fork server has imported the parsers)."""
        self._starting.join(timeout)
        return not self._starting.is_alive()

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def in_flight(self, document_id: str) -> bool:
        with self._idle:
            return any(doc == document_id for doc in self._pending)

    def submit(self, task: IngestTask) -> None:
        future = self._pool.schedule(_run, args=(task,), timeout=self.timeout_s)
        with self._idle:
            self._pending[task.document_id] = future
        future.add_done_callback(lambda f: self._finish(task, f))

    def _finish(self, task: IngestTask, future: Future[PreparedDocument]) -> None:
        with self._state:  # the worker is done: a progress message of its that lags is stale
            self._finished[task.job_id] = None
            while len(self._finished) > 10_000:
                self._finished.popitem(last=False)
        try:
            prepared = future.result()
        except FutureTimeout:
            self._done(task, f"processing took longer than the {self.timeout_s:g} s limit per document")
        except CancelledError:
            self._done(task, "processing was cancelled")
        except Exception as exc:  # noqa: BLE001 - each document fails alone, with its reason
            if type(exc).__name__ == "ProcessExpired":
                self._done(task, "the parser crashed on this file (it may be corrupt)")
            else:
                self._done(task, failure_reason(exc))
        else:
            self._prepared.put((task, prepared))

    def _embed_loop(self) -> None:
        while True:
            item = self._prepared.get()
            if item is None:
                self._prepared.put(None)  # and for the next embedding thread
                return
            group = [item]
            texts = len(item[1].chunks)
            while texts < GROUP_TEXTS:  # whatever else is waiting rides along
                try:
                    more = self._prepared.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    self._prepared.put(None)  # the stop is for this loop too, after this group
                    break
                group.append(more)
                texts += len(more[1].chunks)
            self._embed_and_commit(group)

    def _embed_and_commit(self, group: list[tuple[IngestTask, PreparedDocument]]) -> None:
        self._record_progress(
            [JobProgress(task.job_id, task.document_id, "embedding", 0.6) for task, _ in group]
        )
        chunks = [chunk for _, prepared in group for chunk in prepared.chunks]
        try:
            vectors, sentences = embed_chunks(self.embedder, chunks, self.sentence_spans)
        except Exception as exc:  # the group's documents fail, the executor goes on
            log.exception("embedding %d documents failed", len(group))
            for task, _ in group:
                self._done(task, failure_reason(exc))
            return
        at = 0
        for task, prepared in group:
            processed = prepared.embedded(
                vectors[at : at + len(prepared.chunks)],
                None if sentences is None else sentences[at : at + len(prepared.chunks)],
            )
            at += len(prepared.chunks)
            try:
                with self._commit:
                    self.writer.commit(task, processed)
            except Exception as exc:
                log.exception("indexing %s failed", task.source_name)
                self._done(task, failure_reason(exc))
            else:
                self._done(task, None)

    def _done(self, task: IngestTask, failure: str | None) -> None:
        """The document's end: committed (``failure`` None) or failed with its reason."""
        try:
            if failure is None:
                self._emit(JobEvent(task.job_id, task.document_id, "done", 1.0, JobState.SUCCEEDED))
            else:
                self._fail(task, failure)
        finally:
            with self._idle:
                self._pending.pop(task.document_id, None)
                self._idle.notify_all()

    def _fail(self, task: IngestTask, reason: str) -> None:
        with self._commit:
            self.writer.fail(task, reason)
        self._emit(JobEvent(task.job_id, task.document_id, "failed", 1.0, JobState.FAILED, reason))

    def _emit(self, event: JobEvent) -> None:
        for listener in self._listeners:
            try:
                listener(event)
            except Exception:
                log.exception("progress listener failed")

    def _read_progress(self) -> None:
        """Records the workers' progress: whatever is waiting is read at once, each job's latest
        message wins, and they are written in one transaction, not a commit or two per message."""
        while not self._closed:
            try:
                batch = [self._progress.get(timeout=0.5)]
            except queue.Empty:
                continue
            except (EOFError, OSError):
                return
            with contextlib.suppress(queue.Empty, EOFError, OSError):  # an EOF ends the next get
                while len(batch) < PROGRESS_BATCH:
                    batch.append(self._progress.get_nowait())
            latest = {
                job_id: (document_id, stage, fraction) for job_id, document_id, stage, fraction in batch
            }
            self._record_progress(
                [JobProgress(job, doc, stage, round(f, 3)) for job, (doc, stage, f) in latest.items()],
                from_workers=True,
            )

    def _record_progress(self, reports: list[JobProgress], *, from_workers: bool = False) -> None:
        """Jobs' progress in one transaction. A worker's message may arrive after its job ended
        (the queue lags behind the result): it is dropped, never setting the job back to running."""
        with self._state:
            if from_workers:
                reports = [r for r in reports if r.job_id not in self._finished]
            try:
                if reports:
                    self.writer.jobs.progressed(reports)
            except Exception:
                log.debug("could not record the progress of %d jobs", len(reports), exc_info=True)
        for r in reports:
            self._emit(JobEvent(r.job_id, r.document_id, r.stage, r.fraction, JobState.RUNNING))

    def delegate_reindex(self, collection: str) -> bool:
        """No worker elsewhere: the caller queues the collection's documents itself."""
        return False

    def wait(self, timeout: float | None = None) -> bool:
        """Block until every submitted document is done; False if ``timeout`` ran out first."""
        with self._idle:
            return self._idle.wait_for(lambda: not self._pending, timeout=timeout)

    def shutdown(self) -> None:
        self._closed = True
        self._starting.join(timeout=60)  # a pool stopped while it starts its workers may hang
        self._pool.close()  # type: ignore[no-untyped-call]
        self._pool.join(timeout=10)
        self._pool.stop()  # type: ignore[no-untyped-call]
        self._prepared.put(None)
        for thread in self._embedders:
            thread.join(timeout=30)
        self._reader.join(timeout=2)
