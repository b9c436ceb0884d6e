"""Questions through ONNX Runtime: torch's vectors, one export kept per model, torch when it cannot run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ingest import onnx
from ingest.embed import MiniLMEmbedder
from ingest.onnx import OnnxEmbedder

pytestmark = pytest.mark.slow

TEXTS = [
    "What does error E-104 mean?",
    "customer says the T300 Pro will not pair after the 4.2.1 firmware update, what do I tell them",
    "refund",
    " ".join(["The warranty covers parts and labour for two years from the date of purchase."] * 40),
]


@pytest.fixture(scope="module")
def model() -> MiniLMEmbedder:
    return MiniLMEmbedder(precision="float32")


def test_questions_get_the_torch_models_vectors_alone_or_batched(
    model: MiniLMEmbedder, tmp_path: Path
) -> None:
    embedder = OnnxEmbedder(model, tmp_path)
    batched = embedder.embed(TEXTS)  # padded to the longest; the last one cut at the window
    alone = np.vstack([embedder.embed([text]) for text in TEXTS])
    expected = model.embed(TEXTS)
    assert batched.shape == (4, 384) and batched.dtype == np.float32
    assert np.min(np.sum(batched * expected, axis=1)) > 0.9999
    assert np.min(np.sum(alone * expected, axis=1)) > 0.9999
    assert np.allclose(np.linalg.norm(batched, axis=1), 1.0, atol=1e-5)
    assert embedder.runtime.startswith("onnxruntime")
    assert embedder.embed([]).shape == (0, 384)


def test_the_export_is_kept_and_reused(
    model: MiniLMEmbedder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    OnnxEmbedder(model, tmp_path).embed(["first start"])
    (exported,) = tmp_path.glob("*.onnx")
    assert exported.name.startswith(model.name)

    def no_second_export(*_: object) -> None:
        raise AssertionError("exported again")

    monkeypatch.setattr(onnx, "_export", no_second_export)
    again = OnnxEmbedder(model, tmp_path)
    assert again.embed(["second start"]).shape == (1, 384)
    assert again.runtime.startswith("onnxruntime")
    assert list(tmp_path.iterdir()) == [exported]  # no partial file left behind


def test_questions_go_to_torch_when_the_export_fails(
    model: MiniLMEmbedder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(_: MiniLMEmbedder, path: Path) -> None:
        path.write_bytes(b"half a graph")
        raise RuntimeError("the exporter ran out of memory")

    monkeypatch.setattr(onnx, "_export", broken)
    embedder = OnnxEmbedder(model, tmp_path)
    assert np.array_equal(embedder.embed(TEXTS[:2]), model.embed(TEXTS[:2]))
    assert embedder.runtime == "torch (float32): ONNX Runtime is unusable: the exporter ran out of memory"
    assert list(tmp_path.iterdir()) == []  # the partial file is gone, a later start tries again


def test_a_graph_whose_vectors_differ_is_not_used(
    model: MiniLMEmbedder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(onnx, "AGREEMENT", 1.01)  # no graph can agree this well
    embedder = OnnxEmbedder(model, tmp_path)
    assert np.array_equal(embedder.embed(TEXTS[:1]), model.embed(TEXTS[:1]))
    assert "differ from torch's" in embedder.runtime


def test_documents_are_still_embedded_by_torch(model: MiniLMEmbedder, tmp_path: Path) -> None:
    text = "The hotline opens at 8:00. It closes at 18:00."
    spans = [(0, 26), (27, len(text))]
    whole, sentences = OnnxEmbedder(model, tmp_path).embed_spans([text], [spans])
    expected_whole, expected_sentences = model.embed_spans([text], [spans])
    assert np.array_equal(whole, expected_whole)
    assert np.array_equal(sentences[0], expected_sentences[0])
