"""The local executor's progress thread never sets a finished job back to running."""

from __future__ import annotations

import io
import time

import pytest

from core.domain import JobState
from core.settings import Settings
from sourcebook.wiring import Services

pytestmark = pytest.mark.integration


def test_progress_that_arrives_after_the_result_is_ignored(settings: Settings) -> None:
    # Under load the progress queue lags behind the result; a late "embedding 55 %" used to
    # overwrite "succeeded", and the job (and every client waiting on it) stayed running forever.
    services = Services.open(settings)
    try:
        services.catalog.ensure_collection("kb", team="support")
        submission = services.intake.add(
            "kb", "note.md", io.BytesIO(b"# Note\n\nThe hotline moved to Leeds.\n")
        )
        assert services.executor.wait(timeout=300)
        job_id = submission.job_id
        assert job_id is not None
        assert services.jobs.get(job_id).state is JobState.SUCCEEDED
        services.executor._progress.put((job_id, submission.document_id, "embedding", 0.55))
        time.sleep(1.5)  # the reader polls every 0.5 s
        job = services.jobs.get(job_id)
        assert (job.state, job.progress) == (JobState.SUCCEEDED, 1.0)
    finally:
        services.close()
