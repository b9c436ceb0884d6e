"""The sourcebook CLI, as a knowledge manager uses it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sourcebook.cli import app
from tests.conftest import SAMPLES

pytestmark = pytest.mark.integration


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("SOURCEBOOK_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SOURCEBOOK_EMBEDDER", "hashing")
    return CliRunner()


def test_ingest_list_search_status_delete(runner: CliRunner, tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    for name in ("faq.md", "known-issues.txt", "troubleshooting-guide.html"):
        (folder / name).write_bytes((SAMPLES / name).read_bytes())
    (folder / "empty.txt").write_bytes(b"")

    result = runner.invoke(app, ["ingest", str(folder), "--collection", "acme"])
    assert result.exit_code == 0, result.output
    assert "3 ingested, 0 unchanged, 1 failed" in result.output
    assert "file is empty" in result.output

    again = runner.invoke(app, ["ingest", str(folder), "--collection", "acme"])
    assert "0 ingested, 4 unchanged, 0 failed" in again.output

    listed = runner.invoke(app, ["documents", "--collection", "acme", "--json"])
    docs = json.loads(listed.stdout)
    assert sorted((d["source_name"], d["status"]) for d in docs) == [
        ("empty.txt", "failed"),
        ("faq.md", "ready"),
        ("known-issues.txt", "ready"),
        ("troubleshooting-guide.html", "ready"),
    ]

    found = runner.invoke(app, ["search", "reset the thermostat", "--collection", "acme", "--json"])
    passages = json.loads(found.stdout)
    assert passages and {"document_id", "pages", "text", "score"} <= set(passages[0])

    faq = next(d for d in docs if d["source_name"] == "faq.md")
    status = json.loads(runner.invoke(app, ["status", faq["id"][:10], "--json"]).stdout)
    assert status["status"] == "ready" and status["chunks"] > 0

    deleted = runner.invoke(app, ["delete", faq["id"]])
    assert deleted.exit_code == 0
    missing = runner.invoke(app, ["status", faq["id"]])
    assert missing.exit_code == 1
    assert f"no document with id '{faq['id']}'" in missing.output


def test_unknown_collection_is_a_clear_error(runner: CliRunner) -> None:
    result = runner.invoke(app, ["documents", "--collection", "nope"])
    assert result.exit_code == 1
    assert "no collection named 'nope'" in result.output


def test_templates_check_names_every_problem(runner: CliRunner, tmp_path: Path) -> None:
    from retrieval.templates import FOLDER

    shipped = sorted(FOLDER.glob("*.yaml"))
    good = runner.invoke(app, ["templates", "check", *map(str, shipped)])
    said = " ".join(good.stdout.split())  # the console wraps long paths where it likes
    assert good.exit_code == 0 and said.count("ok ") == len(shipped) == 4
    assert said.count(" global)") == 4  # the shipped set is offered to every team
    owned = tmp_path / "close.yaml"
    owned.write_text("id: close\nteam: finance\ntitle: Close\nquestion: When is the close?\n")
    owned_said = runner.invoke(app, ["templates", "check", str(owned)]).stdout
    assert "close (0 fields, team finance)" in " ".join(owned_said.split())
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "id: bad\ntitle: Bad\nfields:\n  - {name: plan, kind: dropdown}\nquestion: '{{ plan }} {{ tier }}'\n"
    )
    result = runner.invoke(app, ["templates", "check", str(bad)])
    assert result.exit_code == 1
    assert "fields[0] 'plan': unknown field kind 'dropdown'" in result.stderr
    assert "question: refers to 'tier', which is not a field of this template (fields: plan)" in result.stderr
    bad.write_text("id: bad\nteam: ['support', 'finance']\ntitle: Bad\nquestion: Why?\n")
    result = runner.invoke(app, ["templates", "check", str(bad)])
    assert "team: must be a team name of 1-128 characters, or left out (global)" in result.stderr
