"""``sourcebook reindex``: a collection processed again with new chunking."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sourcebook.cli import app
from tests.conftest import SAMPLES

pytestmark = pytest.mark.integration


def test_reindex_rechunks_a_collection_and_names_a_missing_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOURCEBOOK_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SOURCEBOOK_EMBEDDER", "hashing")
    monkeypatch.setenv("SOURCEBOOK_WORKERS", "1")
    monkeypatch.setenv("SOURCEBOOK_CHUNK_TOKENS", "48")
    monkeypatch.setenv("SOURCEBOOK_CHUNK_OVERLAP", "8")
    runner = CliRunner()
    files = [str(SAMPLES / "faq.md"), str(SAMPLES / "troubleshooting-guide.html")]
    assert runner.invoke(app, ["ingest", *files, "--collection", "acme"]).exit_code == 0

    def chunks() -> int:
        from core.catalog import Catalog

        catalog = Catalog.connect(f"sqlite:///{tmp_path / 'home' / 'catalog.db'}")
        try:
            return catalog.chunk_count(collection="acme")
        finally:
            catalog.close()

    small = chunks()
    monkeypatch.setenv("SOURCEBOOK_CHUNK_TOKENS", "200")
    result = runner.invoke(app, ["reindex", "--collection", "acme"])
    assert result.exit_code == 0, result.output
    assert "2 re-indexed, 0 failed" in result.output
    assert chunks() < small

    from ingest.blobs import BlobStore

    for original in BlobStore(tmp_path / "home" / "originals").root.rglob("*"):
        if original.is_file() and original.read_bytes() == (SAMPLES / "faq.md").read_bytes():
            original.unlink()
    partly = runner.invoke(app, ["reindex", "--collection", "acme"])
    assert partly.exit_code == 0, partly.output
    assert "1 re-indexed, 1 failed" in partly.output
    assert "the original file is no longer stored" in partly.output
    listed = runner.invoke(app, ["documents", "--collection", "acme", "--json"])
    assert {d["status"] for d in json.loads(listed.stdout)} == {"ready"}

    missing = runner.invoke(app, ["reindex", "--collection", "nope"])
    assert missing.exit_code == 1
    assert "no collection named 'nope'" in missing.output


def test_rebuild_index_on_edge_builds_beside_and_switches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOURCEBOOK_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SOURCEBOOK_EMBEDDER", "hashing")
    monkeypatch.setenv("SOURCEBOOK_WORKERS", "1")
    runner = CliRunner()
    assert runner.invoke(app, ["ingest", str(SAMPLES / "faq.md"), "--collection", "acme"]).exit_code == 0
    result = runner.invoke(app, ["rebuild-index"])
    assert result.exit_code == 0, result.output
    assert "1 documents rebuilt, 0 dropped; switched" in " ".join(result.output.split())
    assert sorted(p.name for p in (tmp_path / "home" / "qdrant").iterdir()) == ["hashing--2"]
