"""Rebuild the whole index beside the live one, then switch (the Qdrant server store's alias).

Queries keep reading the live collection through its alias until the switch, which is one atomic
request. Uploads and deletes go on meanwhile, into the live collection: before the switch the
rebuild takes in documents that became ready after it started and drops those deleted since; one
more pass after the switch catches what landed in the last moments. A document that fails to
rebuild stops the switch: the live index stays and the new collection is dropped.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from core.catalog import Catalog, Jobs
from core.domain import Document, DocumentStatus, JobState
from core.errors import Conflict
from core.protocols import VectorStore
from ingest.pipeline import IndexWriter, IngestTask

log = logging.getLogger(__name__)


class RebuildTarget(VectorStore, Protocol):
    def document_ids(self) -> set[str]: ...


class Rebuildable(Protocol):
    def begin_rebuild(self) -> RebuildTarget: ...

    def switch_to(self, rebuilt: RebuildTarget) -> None: ...

    def abandon(self, rebuilt: RebuildTarget) -> None: ...


class Pool(Protocol):
    def submit(self, task: IngestTask) -> None: ...

    def wait(self, timeout: float | None = None) -> bool: ...

    def shutdown(self) -> None: ...


@dataclass
class RebuildReport:
    rebuilt: int = 0
    dropped: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)  # (source name, reason)
    switched: bool = False


def rebuild_index(
    catalog: Catalog,
    jobs: Jobs,
    store: Rebuildable,
    make_pool: Callable[[IndexWriter], Pool],
    task_for: Callable[[str, Document], IngestTask],
) -> RebuildReport:
    report = RebuildReport()
    target = store.begin_rebuild()
    pool = make_pool(IndexWriter(catalog, jobs, target))
    done: set[str] = set()

    def run(documents: Sequence[Document]) -> None:
        submitted = {}
        for doc in documents:
            job_id = jobs.create(doc.collection, doc.source_name)
            jobs.update(job_id, document_id=doc.id, attempts=1, stage="rebuilding")
            pool.submit(task_for(job_id, doc))
            submitted[job_id] = doc
        pool.wait()
        for job_id, doc in submitted.items():
            job = jobs.get(job_id)
            if job.state is JobState.SUCCEEDED:
                done.add(doc.id)
                report.rebuilt += 1
            elif catalog.find_document(doc.id) is not None:  # not deleted meanwhile
                report.failed.append((doc.source_name, job.error or job.state.value))

    def catch_up() -> None:
        run([d for d in catalog.documents() if d.status is DocumentStatus.READY and d.id not in done])
        gone = target.document_ids() - {d.id for d in catalog.documents()}
        for document_id in gone:
            target.delete_document(document_id)
        report.dropped += len(gone)

    try:
        run([d for d in catalog.documents() if d.status is DocumentStatus.READY])
        catch_up()  # became ready, or were deleted, while the rebuild ran
        if report.failed:
            store.abandon(target)
            return report
        store.switch_to(target)
        report.switched = True
        catch_up()  # the last moments before the switch
    except BaseException:
        if not report.switched:
            store.abandon(target)
        raise
    finally:
        pool.shutdown()
    return report


def require_rebuildable(store: object) -> Rebuildable:
    if not hasattr(store, "begin_rebuild"):
        raise Conflict(
            "rebuilding beside the live index needs the Qdrant server store; "
            "re-index in place instead (sourcebook reindex)"
        )
    return store  # type: ignore[return-value]
