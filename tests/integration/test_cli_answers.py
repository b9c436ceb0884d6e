"""`sourcebook ask` answers through the same use case as the API: logged and audited."""

from __future__ import annotations

import getpass
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from core.settings import Settings
from sourcebook.cli import app
from sourcebook.wiring import Services
from tests.conftest import SAMPLES

pytestmark = pytest.mark.integration


def test_a_cli_answer_lands_in_the_audit_trail_and_the_answer_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOURCEBOOK_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SOURCEBOOK_EMBEDDER", "hashing")
    runner = CliRunner()
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "faq.md").write_bytes((SAMPLES / "faq.md").read_bytes())
    assert runner.invoke(app, ["ingest", str(folder), "--collection", "acme"]).exit_code == 0

    result = runner.invoke(app, ["ask", "How do I reset the thermostat?", "--collection", "acme", "--json"])
    assert result.exit_code == 0, result.output
    answered = json.loads(result.stdout)

    services = Services.open(Settings())
    try:
        record = services.answers.get(answered["answer_id"])
        asked = [e for e in services.audit.entries(action="question")]
    finally:
        services.close()
    operator = f"cli:{getpass.getuser()}"
    assert record.user == operator and record.collections == ("acme",)
    assert record.question == "How do I reset the thermostat?"
    assert record.answer["text"] == answered["answer"]  # --json prints the API's answer object
    assert [(e.actor, e.target) for e in asked] == [(operator, "acme")]
    assert asked[0].detail is not None and asked[0].detail["answer_id"] == answered["answer_id"]
    assert dict(answered["provenance"])["generator"] == "extractive"
