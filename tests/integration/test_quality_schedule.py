"""Quality over time: the single-node server's timer asks each collection's golden cases of the
live configuration, stores each run, and flags (Insights, /metrics, audit) a drop past the tolerance."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from core.settings import Settings
from sourcebook.wiring import create_api
from tests.conftest import ROOT, SAMPLES

pytestmark = pytest.mark.integration

FAQ_CASES = ("acme-015", "acme-026", "acme-027")


def _golden(case_id: str) -> dict[str, Any]:
    for line in (ROOT / "eval" / "golden" / "acme-support.jsonl").read_text().splitlines():
        case = json.loads(line)
        if case["id"] == case_id:
            return dict(case)
    raise AssertionError(case_id)


def _wait_for_runs(client: TestClient, headers: dict[str, str], count: int) -> dict[str, Any]:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        found: dict[str, Any] = client.get("/v1/quality", headers=headers).json()
        if len(found["points"]) >= count:
            return found
        time.sleep(0.2)
    raise AssertionError(f"fewer than {count} quality runs in 120 s")


def test_scheduled_run_records_a_trend_point_and_flags_a_drop(settings: Settings, tmp_path: Path) -> None:
    settings = settings.model_copy(update={"quality_interval_s": 0.5, "quality_tolerance": 0.05})
    with TestClient(create_api(settings)) as client:
        headers = {"Authorization": f"Bearer {(settings.home / 'admin-key.txt').read_text().strip()}"}
        services = client.app.state.services  # type: ignore[attr-defined]
        services.catalog.ensure_collection("acme-support")
        with (SAMPLES / "faq.md").open("rb") as f:
            faq = services.intake.add("acme-support", "faq.md", f)
        assert services.executor.wait(timeout=120)
        for n, case_id in enumerate(FAQ_CASES):
            services.golden_sets.promote(f"review-{n}", "regressions", "default", _golden(case_id), "carol")

        first = _wait_for_runs(client, headers, 1)["points"][0]
        assert (first["collection"], first["model"], first["cases"]) == ("acme-support", "hashing", 3)
        assert first["refused"] < 1.0 and first["dropped"] == []

        services.library.delete_document(str(faq.document_id))  # the answers' source is gone
        found = _wait_for_runs(client, headers, 2)
        latest = found["points"][-1]
        assert latest["refused"] == 1.0
        assert "refused" in latest["dropped"]
        assert found["flagged"] == ["acme-support"]

        metrics = client.get("/metrics").text
        assert "sourcebook_quality_dropped_collections 1.0" in metrics
        assert 'sourcebook_live_model_info{model="hashing"} 1.0' in metrics
        assert "acme-support" not in metrics  # a collection's name is a team's: no tenant labels
        [drop] = list(services.audit.entries(action="quality.drop"))[:1]
        assert (drop.actor, drop.target, drop.team) == ("quality-schedule", "acme-support", "default")
        assert "refused" in drop.detail["dropped"] and drop.detail["now"]["model"] == "hashing"


def test_no_schedule_unless_enabled(settings: Settings) -> None:
    assert settings.quality_interval_s == 0
    with TestClient(create_api(settings)) as client:
        headers = {"Authorization": f"Bearer {(settings.home / 'admin-key.txt').read_text().strip()}"}
        time.sleep(0.5)
        assert client.get("/v1/quality", headers=headers).json()["points"] == []
