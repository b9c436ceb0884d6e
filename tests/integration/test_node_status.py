"""Which precision the embedder runs in, and what embeds questions, is reported by /readyz and by
``sourcebook status``."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from core.settings import Settings
from ingest.precision import choose_precision
from sourcebook.cli import app
from sourcebook.wiring import create_api

pytestmark = pytest.mark.integration


def _ready(client: TestClient, timeout_s: float = 120.0) -> dict[str, str]:
    """/readyz once the warm-up has loaded the models (503 until then)."""
    deadline = time.monotonic() + timeout_s
    while (response := client.get("/readyz")).status_code != 200:
        assert time.monotonic() < deadline, response.text
        time.sleep(0.05)
    return dict(response.json())


def test_readyz_reports_the_embedder_and_its_precision_on_this_cpu(settings: Settings) -> None:
    expected = choose_precision("auto")
    with TestClient(create_api(settings)) as client:
        ready = _ready(client)
    assert ready["status"] == "ready"
    assert ready["embedder"] == "hashing"
    assert (ready["embed_precision"], ready["embed_precision_reason"]) == (expected.dtype, expected.reason)
    assert ready["question_runtime"] == "hashing (no model to export)"


@pytest.mark.slow
def test_readyz_says_the_model_answers_questions_through_onnx_runtime(settings: Settings) -> None:
    minilm = settings.model_copy(update={"embedder": "minilm"})
    with TestClient(create_api(minilm)) as client:
        ready = _ready(client)
    assert ready["question_runtime"].startswith("onnxruntime "), ready["question_runtime"]
    assert [p.name.startswith("all-MiniLM-L6-v2-") for p in minilm.onnx_dir.iterdir()] == [True]
    forced = minilm.model_copy(update={"question_runtime": "torch"})
    with TestClient(create_api(forced)) as client:
        ready = _ready(client)
    assert (
        ready["question_runtime"] == f"torch ({ready['embed_precision']}): set by SOURCEBOOK_QUESTION_RUNTIME"
    )


def test_readyz_says_when_the_setting_forces_bfloat16(settings: Settings) -> None:
    forced = settings.model_copy(update={"embed_precision": "bfloat16"})
    with TestClient(create_api(forced)) as client:
        ready = _ready(client)
    assert ready["embed_precision"] == "bfloat16"
    assert ready["embed_precision_reason"].startswith("bfloat16: set by SOURCEBOOK_EMBED_PRECISION")


def test_status_without_an_id_describes_this_node(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCEBOOK_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SOURCEBOOK_EMBEDDER", "hashing")
    monkeypatch.setenv("SOURCEBOOK_EMBED_PRECISION", "float32")
    result = CliRunner().invoke(app, ["status", "--json"])
    assert result.exit_code == 0, result.output
    node = json.loads(result.stdout)
    assert node["embedder"] == "hashing"
    assert node["embed_precision"] == "float32"
    assert node["embed_precision_reason"] == "float32: set by SOURCEBOOK_EMBED_PRECISION"
    assert (node["documents"], node["chunks"], node["workers"]) == (0, 0, 2)
    plain = CliRunner().invoke(app, ["status"])
    assert "embed_precision: float32" in plain.output
    assert node["question_runtime"] == "onnx"
