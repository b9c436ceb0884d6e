"""Rebuild the whole index beside the live one, then switch (``retrieval/stores/switching.py``):
on Qdrant Edge a new shard beside the live one, on a Qdrant server a new collection behind the
alias; with the same model, or with another one (``sourcebook models use``).

Queries keep reading the live index until the switch, which is one step. Uploads and deletes go
on meanwhile, into the live index: before the switch the rebuild takes in documents that became
ready after it started and drops those deleted since; after the switch it waits for the uploads
in flight (``settle``: one embedded with the old model may land after the switch) and takes in
once more what landed in the last moments. A document that fails to rebuild stops the switch:
the live index stays and the new one is dropped.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from core.catalog import Catalog, Jobs
from core.domain import Document, DocumentStatus, JobState
from core.errors import Conflict
from core.protocols import VectorStore
from ingest.pipeline import IndexWriter, IngestTask

log = logging.getLogger(__name__)


class RebuildTarget(VectorStore, Protocol):
    def document_ids(self) -> set[str]: ...


class Building(Protocol):
    model: str
    index: str
    target: Any  # a RebuildTarget


class Rebuildable(Protocol):
    """``retrieval.stores.switching.LiveIndex``."""

    @property
    def model(self) -> str: ...

    def begin_rebuild(self, model: str | None = None) -> Any: ...

    def switch_to(self, building: Any) -> object: ...

    def abandon(self, building: Any) -> None: ...


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
    model: str = ""
    index: str = ""


def rebuild_index(
    catalog: Catalog,
    jobs: Jobs,
    store: Rebuildable,
    make_pool: Callable[[IndexWriter, str], Pool],
    task_for: Callable[[str, Document], IngestTask],
    *,
    model: str | None = None,
    settle: Callable[[], object] | None = None,
) -> RebuildReport:
    """Rebuild with ``model`` (default: the live one); ``make_pool`` gets that model's name."""
    report = RebuildReport()
    building = store.begin_rebuild(model)
    report.model, report.index = building.model, building.index
    target = building.target
    pool = make_pool(IndexWriter(catalog, jobs, target), building.model)
    done: set[str] = set()

    def run(documents: Sequence[Document]) -> None:
        submitted = {}
        for doc in documents:
            job_id = jobs.create(
                doc.collection, doc.source_name, document_id=doc.id, attempts=1, stage="rebuilding"
            )
            pool.submit(replace(task_for(job_id, doc), embedder=building.model))
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
            store.abandon(building)
            return report
        store.switch_to(building)
        report.switched = True
        if settle is not None:
            settle()  # an upload embedded by the old model and written after the switch is done
        catch_up()  # and is made again with the new model, with the last moments' uploads
    except BaseException:
        if not report.switched:
            store.abandon(building)
        raise
    finally:
        pool.shutdown()
    return report


def require_rebuildable(store: object) -> Rebuildable:
    if getattr(store, "indexes", None) is None:
        raise Conflict(
            "this index cannot be rebuilt beside the live one: re-index in place (sourcebook reindex)"
        )
    return store  # type: ignore[return-value]
