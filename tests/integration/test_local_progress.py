"""The local pool's progress reader: each job's latest message wins, and never reopens a finished job."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator

import pytest

from core.domain import DocumentStatus, JobState
from core.settings import Settings
from ingest.intake import Submission
from sourcebook.wiring import Services

pytestmark = pytest.mark.integration


@pytest.fixture
def ingested(settings: Settings) -> Iterator[tuple[Services, Submission]]:
    """A one-worker node that has ingested one document."""
    services = Services.open(settings.model_copy(update={"workers": 1}))
    try:
        services.catalog.ensure_collection("acme")
        submission = services.intake.add("acme", "a.txt", io.BytesIO(b"The hotline opens at 8:00.\n"))
        assert services.executor.wait(timeout=120)
        yield services, submission
    finally:
        services.close()


def test_a_progress_message_read_after_the_commit_leaves_the_job_finished(
    ingested: tuple[Services, Submission],
) -> None:
    services, submission = ingested
    job_id, doc_id = str(submission.job_id), str(submission.document_id)
    assert services.jobs.get(job_id).state is JobState.SUCCEEDED
    # What a loaded machine does: the reader thread gets a child's last progress message late.
    # A late "embedding 60 %" used to overwrite "succeeded", and the job (and every client
    # waiting on it) stayed running forever.
    services.executor._progress.put((job_id, doc_id, "embedding", 0.6))  # type: ignore[union-attr]
    time.sleep(1.5)
    job = services.jobs.get(job_id)
    assert (job.state, job.stage, job.progress) == (JobState.SUCCEEDED, "done", 1.0)


def test_progress_waiting_together_is_recorded_at_each_jobs_latest_stage(
    ingested: tuple[Services, Submission],
) -> None:
    services, submission = ingested
    # A job a worker elsewhere holds: its document is queued, its messages arrive in a burst.
    doc_id = str(submission.document_id)
    services.catalog.update_document(doc_id, status=DocumentStatus.QUEUED)
    job_id = services.jobs.create("acme", "a.txt", document_id=doc_id)
    events: list[tuple[str, float]] = []
    services.executor.subscribe(
        lambda e: events.append((e.stage, e.progress)) if e.job_id == job_id else None
    )
    for stage, fraction in [("parsing", 0.05), ("chunking", 0.5)]:
        services.executor._progress.put((job_id, doc_id, stage, fraction))  # type: ignore[union-attr]
    time.sleep(1.5)
    job = services.jobs.get(job_id)
    assert (job.state, job.stage, job.progress) == (JobState.RUNNING, "chunking", 0.5)
    assert services.catalog.get_document(doc_id).status is DocumentStatus.PROCESSING
    assert events[-1] == ("chunking", 0.5)
