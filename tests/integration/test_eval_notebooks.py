"""The eval notebooks run top to bottom (nbclient, the venv's own kernel), so they never rot.

They read ../shared/eval-data and use the eval index cache ($SOURCEBOOK_EVAL_CACHE, else
$SOURCEBOOK_HOME/eval-cache): after `sourcebook eval gate` has filled it they take seconds."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import ROOT, shared

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.shared_data]

NOTEBOOKS = sorted((ROOT / "eval" / "notebooks").glob("*.ipynb"))


def test_there_are_notebooks() -> None:
    assert [p.name for p in NOTEBOOKS] == [
        "01-retrieval-quality.ipynb",
        "02-answer-quality.ipynb",
        "03-compare-configurations.ipynb",
        "04-tune-compare-use-rollback.ipynb",
    ]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_top_to_bottom(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shared("beir-scifact")
    shared("qa-xquad")
    import nbformat
    from nbclient import NotebookClient

    home = Path(os.environ.get("SOURCEBOOK_HOME", ROOT / "var"))
    monkeypatch.setenv(
        "SOURCEBOOK_EVAL_CACHE", os.environ.get("SOURCEBOOK_EVAL_CACHE", str(home / "eval-cache"))
    )
    monkeypatch.setenv("SOURCEBOOK_EVAL_LIMIT", "20")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    notebook = nbformat.read(path, as_version=4)
    # The venv's python3 kernel spec (ipykernel) starts this interpreter: nothing to install or download.
    client = NotebookClient(
        notebook,
        timeout=900,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute()
    errors = [
        output
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
        if output.get("output_type") == "error"
    ]
    assert not errors
    assert any(cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code")
