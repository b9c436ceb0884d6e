"""Training and keeping a tuned model: deterministic with a seed, versioned, found by name."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from core.errors import InvalidInput, NotFound
from ingest.models import ModelCard, ModelRegistry, TunedEmbedder
from ingest.training_pairs import Example
from ingest.tune import TuneSettings, base_model, mix_with_base, next_folder, train, write_meta

EXAMPLES = [
    Example(
        f"how do I fix fault {i}?",
        f"Fault {i} is fixed by replacing part {i % 3}.",
        (f"Part {i} ships in a box.",),
    )
    for i in range(8)
]
SETTINGS = TuneSettings(epochs=1, batch_size=4, seed=3, threads=1)


def _weights(folder: Path) -> np.ndarray:
    write_meta(folder, settings=SETTINGS, training_data=[], measured={}, eval_result=None, offered=False)
    return TunedEmbedder(ModelCard.read(folder)).embed(["how do I fix fault 2?", "an unrelated sentence"])


@pytest.mark.slow
def test_the_same_seed_and_data_make_the_same_model(tmp_path: Path) -> None:
    train(EXAMPLES, SETTINGS, tmp_path / "a", progress=False)
    train(EXAMPLES, SETTINGS, tmp_path / "b", progress=False)
    train(EXAMPLES, TuneSettings(epochs=1, batch_size=4, seed=4, threads=1), tmp_path / "c", progress=False)
    same, other = _weights(tmp_path / "a"), _weights(tmp_path / "c")
    assert np.array_equal(same, _weights(tmp_path / "b"))
    assert not np.array_equal(same, other)
    assert same.shape == (2, 384)


@pytest.mark.slow
@pytest.mark.parametrize("loss", ["CachedMultipleNegativesRankingLoss", "GISTEmbedLoss"])
def test_the_cached_and_guided_losses_train_the_same_model_for_the_same_seed(
    tmp_path: Path, loss: str
) -> None:
    settings = TuneSettings(epochs=1, batch_size=4, seed=3, threads=1, loss=loss)
    train(EXAMPLES, settings, tmp_path / "a", progress=False)
    train(EXAMPLES, settings, tmp_path / "b", progress=False)
    first = _weights(tmp_path / "a")
    assert np.array_equal(first, _weights(tmp_path / "b"))
    assert first.shape == (2, 384) and np.isfinite(first).all()


def test_an_unknown_loss_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="unknown loss 'TripletLoss': one of MultipleNegativesRankingLoss"):
        train(EXAMPLES, TuneSettings(loss="TripletLoss", threads=1), tmp_path / "m", progress=False)


def test_no_pairs_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(
        InvalidInput, match="no training pairs: add golden cases, review answers or give --dataset"
    ):
        train([], SETTINGS, tmp_path / "m")


def test_models_are_numbered_and_never_overwritten(tmp_path: Path) -> None:
    first = next_folder(tmp_path, "minilm-acme")
    assert first == tmp_path / "models" / "minilm-acme-1"
    first.mkdir(parents=True)
    (tmp_path / "models" / "minilm-acme-other-4").mkdir()
    assert next_folder(tmp_path, "minilm-acme").name == "minilm-acme-2"
    with pytest.raises(InvalidInput, match="model name 'Bad Name'"):
        next_folder(tmp_path, "Bad Name")


def test_a_tuned_model_is_found_by_name_once_it_has_its_metadata(tmp_path: Path) -> None:
    folder = next_folder(tmp_path, "minilm-acme")
    folder.mkdir(parents=True)
    registry = ModelRegistry(tmp_path / "models")
    with pytest.raises(NotFound, match=r"no model named 'minilm-acme-1' \(known: minilm, hashing\)"):
        registry.get("minilm-acme-1")
    meta = write_meta(
        folder, settings=SETTINGS, training_data=[], measured={}, eval_result=None, offered=False
    )
    assert registry.get("minilm-acme-1").path == folder
    assert {
        "name",
        "base",
        "created_at",
        "seed",
        "settings",
        "training_data",
        "dimension",
        "eval",
        "offered",
    } <= set(meta)
    assert (meta["name"], meta["base"], meta["seed"], meta["dimension"]) == (
        "minilm-acme-1",
        "all-MiniLM-L6-v2",
        3,
        384,
    )
    with pytest.raises(NotFound, match=r"\(known: minilm, hashing, minilm-acme-1\)"):
        registry.get("minilm-other-1")


def test_mixing_the_base_back_moves_every_weight_by_its_share() -> None:
    import torch

    model = base_model()
    base = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(1.0)  # a "tuned" model: every weight one away from the base
    mix_with_base(model, 0.25)
    moved = model.state_dict()
    for key, weight in base.items():
        if weight.is_floating_point():
            assert torch.allclose(moved[key], weight + 0.75, atol=1e-6), key
    mix_with_base(model, 1.0)
    assert all(torch.equal(model.state_dict()[k], v) for k, v in base.items())


def test_a_base_share_outside_zero_to_one_is_a_clear_error() -> None:
    with pytest.raises(InvalidInput, match=r"the base model's share is 1\.5: give a number from 0 to 1"):
        mix_with_base(base_model(), 1.5)


@pytest.mark.slow
def test_a_model_trained_then_mixed_wholly_back_is_the_base(tmp_path: Path) -> None:
    from ingest.embed import MiniLMEmbedder

    train(EXAMPLES, replace(SETTINGS, base_share=1.0), tmp_path / "m", progress=False)
    texts = ["how do I fix fault 2?", "an unrelated sentence"]
    assert np.allclose(_weights(tmp_path / "m"), MiniLMEmbedder().embed(texts), atol=1e-5)
