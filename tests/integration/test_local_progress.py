"""The local pool's progress reader never reopens a finished job."""

from __future__ import annotations

import io
import time

import pytest

from core.domain import JobState
from core.settings import Settings
from sourcebook.wiring import Services

pytestmark = pytest.mark.integration


def test_a_progress_message_read_after_the_commit_leaves_the_job_finished(settings: Settings) -> None:
    services = Services.open(settings.model_copy(update={"workers": 1}))
    try:
        services.catalog.ensure_collection("acme")
        submission = services.intake.add("acme", "a.txt", io.BytesIO(b"The hotline opens at 8:00.\n"))
        assert services.executor.wait(timeout=120)
        job_id, doc_id = str(submission.job_id), str(submission.document_id)
        assert services.jobs.get(job_id).state is JobState.SUCCEEDED
        # What a loaded machine does: the reader thread gets a child's last progress message late.
        services.executor._progress.put((job_id, doc_id, "embedding", 0.6))  # type: ignore[union-attr]
        time.sleep(1.5)
        job = services.jobs.get(job_id)
        assert (job.state, job.stage, job.progress) == (JobState.SUCCEEDED, "done", 1.0)
    finally:
        services.close()
