"""``sourcebook models list|use|rollback``: on the data folder, and through a running server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sourcebook.cli import app
from tests.conftest import SAMPLES
from tests.integration.server_process import server_process
from tests.tuned_model import tuned_model

pytestmark = pytest.mark.integration


def _said(output: str) -> str:
    return " ".join(output.split())  # rich wraps long lines


def test_models_list_use_and_rollback_on_the_data_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("SOURCEBOOK_HOME", str(home))
    monkeypatch.setenv("SOURCEBOOK_EMBEDDER", "hashing")
    monkeypatch.setenv("SOURCEBOOK_WORKERS", "1")
    tuned_model(home / "models", "minilm-acme-1")
    runner = CliRunner()
    assert runner.invoke(app, ["ingest", str(SAMPLES / "faq.md"), "--collection", "acme"]).exit_code == 0

    listed = json.loads(runner.invoke(app, ["models", "list", "--json"]).output)
    assert listed["live"] == "hashing"
    assert [(m["name"], m["live"]) for m in listed["models"]] == [
        ("minilm", False),
        ("hashing", True),
        ("minilm-acme-1", False),
    ]
    missing = runner.invoke(app, ["models", "use", "nope"])
    assert missing.exit_code == 1
    assert "no model named 'nope' (known: minilm, hashing, minilm-acme-1)" in _said(missing.output)

    used = runner.invoke(app, ["models", "use", "minilm-acme-1"])
    assert used.exit_code == 0, used.output
    assert "minilm-acme-1 is live (use, index minilm-acme-1--2): 1 documents embedded" in _said(used.output)
    back = runner.invoke(app, ["models", "rollback"])
    assert back.exit_code == 0, back.output
    assert "hashing is live (rollback, index hashing--2)" in _said(back.output)

    listed = json.loads(runner.invoke(app, ["models", "list", "--json"]).output)
    assert listed["live"] == "hashing" and listed["index"] == "hashing--2"
    assert [(w["action"], w["model"], w["previous_model"]) for w in listed["switches"]] == [
        ("rollback", "hashing", "minilm-acme-1"),
        ("use", "minilm-acme-1", "hashing"),
    ]
    audit = runner.invoke(app, ["audit", "export"])
    assert '"action": "model.use"' in audit.output or '"action":"model.use"' in audit.output


def test_models_commands_go_through_a_running_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tuned_model(tmp_path / "home" / "models", "minilm-acme-1")
    with server_process(tmp_path) as server:
        monkeypatch.setenv("SOURCEBOOK_HOME", str(server.home))
        monkeypatch.setenv("SOURCEBOOK_EMBEDDER", "hashing")
        runner = CliRunner()
        ingest = runner.invoke(app, ["ingest", str(SAMPLES / "faq.md"), "--collection", "acme"])
        assert ingest.exit_code == 0, ingest.output
        used = runner.invoke(app, ["models", "use", "minilm-acme-1"])
        assert used.exit_code == 0, used.output
        assert "minilm-acme-1 is live (use, index minilm-acme-1--2)" in _said(used.output)
        listed = json.loads(runner.invoke(app, ["models", "list", "--json"]).output)
        assert listed["live"] == "minilm-acme-1"
        found = runner.invoke(app, ["search", "reset the router", "--collection", "acme"])
        assert found.exit_code == 0 and "faq.md" in found.output
