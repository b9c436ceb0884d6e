"""Ingestion jobs: one per submitted, re-indexed or rebuilt document, with its state, stage and
progress as the executor reports them."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update

from core.catalog.catalog import collection_id
from core.catalog.database import Database
from core.catalog.models import CollectionRow, DocumentRow, JobRow
from core.domain import DocumentStatus, JobState
from core.errors import NotFound


@dataclass(frozen=True, slots=True)
class Job:
    id: str
    collection: str
    source_name: str
    state: JobState
    stage: str
    progress: float
    attempts: int
    document_id: str | None
    error: str | None


@dataclass(frozen=True, slots=True)
class JobProgress:
    """A worker's report: the job's document is at ``stage``, ``fraction`` of the way through."""

    job_id: str
    document_id: str
    stage: str
    fraction: float


@dataclass(frozen=True, slots=True)
class StalledJob:
    job_id: str
    document_id: str
    media_type: str


def job_of(row: JobRow, collection: str) -> Job:
    return Job(
        id=row.id,
        collection=collection,
        source_name=row.source_name,
        state=JobState(row.state),
        stage=row.stage,
        progress=row.progress,
        attempts=row.attempts,
        document_id=row.document_id,
        error=row.error,
    )


class Jobs:
    """The jobs table. Every method is its own transaction; a collection's jobs go with it
    (``Catalog.delete_collection``)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def create(self, collection: str, source_name: str, **values: Any) -> str:
        """A queued job; ``values``: more of its columns (its document, attempts), in the same commit."""
        job_id = uuid.uuid4().hex
        with self.db.session() as s:
            s.add(
                JobRow(
                    id=job_id,
                    collection_id=collection_id(s, collection),
                    source_name=source_name,
                    state=JobState.QUEUED.value,
                    **values,
                )
            )
        return job_id

    def update(self, job_id: str, **values: Any) -> None:
        if isinstance(values.get("state"), JobState):
            values["state"] = values["state"].value
        with self.db.session() as s:
            row = s.get(JobRow, job_id)
            if row is None:
                raise NotFound(f"no job with id {job_id!r}")
            for key, value in values.items():
                setattr(row, key, value)

    def progressed(self, reports: Sequence[JobProgress]) -> None:
        """Workers' reports in one transaction: each job running at its stage; each document
        still queued now processing (a ready one being re-indexed stays ready, and searchable). A
        job or document deleted meanwhile is skipped: its report is moot."""
        if not reports:
            return
        with self.db.session() as s:
            s.execute(
                update(DocumentRow)
                .where(
                    DocumentRow.id.in_({r.document_id for r in reports}),
                    DocumentRow.status == DocumentStatus.QUEUED.value,
                )
                .values(status=DocumentStatus.PROCESSING.value)
                .execution_options(synchronize_session=False)
            )
            rows = {
                row.id: row
                for row in s.scalars(select(JobRow).where(JobRow.id.in_([r.job_id for r in reports])))
            }
            for r in reports:
                if (row := rows.get(r.job_id)) is not None:
                    row.state, row.stage, row.progress = JobState.RUNNING.value, r.stage, r.fraction

    def latest(self, document_id: str) -> Job | None:
        """The document's most recent job, if it had one."""
        query = (
            select(JobRow.id)
            .where(JobRow.document_id == document_id)
            .order_by(JobRow.created_at.desc())
            .limit(1)
        )
        with self.db.session() as s:
            job_id = s.scalar(query)
        return None if job_id is None else self.get(job_id)

    def stalled(self, untouched_since: datetime, limit: int = 1000) -> list[StalledJob]:
        """Unfinished ingestions (a new document's, or a re-index's) no one has touched since then.

        A rebuild's jobs (``ingest/rebuild.py``) are left out: they run in the rebuilding process,
        never through the task queue, and their documents stay ready.
        """
        query = (
            select(JobRow.id, DocumentRow.id, DocumentRow.media_type)
            .join(DocumentRow, DocumentRow.id == JobRow.document_id)
            .where(
                JobRow.state.in_([JobState.QUEUED.value, JobState.RUNNING.value]),
                JobRow.updated_at < untouched_since,
                (JobRow.stage == "re-indexing")
                | DocumentRow.status.in_([DocumentStatus.QUEUED.value, DocumentStatus.PROCESSING.value]),
            )
            .order_by(JobRow.updated_at)
            .limit(limit)
        )
        with self.db.session() as s:
            return [
                StalledJob(job_id, document_id, media_type)
                for job_id, document_id, media_type in s.execute(query)
            ]

    def get(self, job_id: str) -> Job:
        with self.db.session() as s:
            row = s.get(JobRow, job_id)
            if row is None:
                raise NotFound(f"no job with id {job_id!r}")
            name = s.scalar(select(CollectionRow.name).where(CollectionRow.id == row.collection_id))
            return job_of(row, name or "")
