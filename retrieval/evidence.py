"""The calibrated evidence score: how likely a sentence is to answer a question.

A logistic model over a few features of (question, sentence): embedding cosine, the share of the
question's key terms and identifiers the sentence (with its heading) holds, whether it names
another model or code of the same family, its
passage's rank, whether its heading matches, whether it is a table record, whether it follows
a sentence that restates the question (a symptom before its remedy), and how much of what the
question asks about no retrieved passage mentions at all (a near miss: "Zigbee", "instalments"),
whether it states a value of the kind asked (a price for "how much does it cost"), whether the
asked code is its subject (a table row's key), and the share of the names asked about that no
passage holds (the "Enterprise" tier of a policy that lists Basic and Plus). The coefficients and the
threshold live in ``evidence_model.json`` beside this module, one entry per embedder; they are
refitted, with a precision/recall curve and the threshold's reason, by ``bench/evidence_fit.py``.
"""

from __future__ import annotations

import json
import math
from dataclasses import astuple, dataclass, fields
from functools import cache
from pathlib import Path

MODEL_FILE = Path(__file__).resolve().parent / "evidence_model.json"


@dataclass(frozen=True, slots=True)
class Features:
    cosine: float
    key_terms: float
    identifiers: float
    conflict: bool
    rank: float
    heading: float
    table: bool
    follows_restatement: bool
    unmatched: float  # share of the question's key terms (by weight) that no retrieved passage holds
    value: float  # -1: states no value of the kind asked (a price, a duration, a date); else 0
    subject: bool  # the asked code is what it is about: a table row's key, a "Code: …" label
    unmatched_names: float  # share of the names the question asks about ("Enterprise") no passage holds

    def vector(self) -> list[float]:
        return [float(v) for v in astuple(self)]


FEATURES = tuple(f.name for f in fields(Features))


@dataclass(frozen=True, slots=True)
class EvidenceModel:
    weights: tuple[float, ...]
    bias: float
    threshold: float

    def probability(self, features: Features) -> float:
        z = self.bias + sum(w * x for w, x in zip(self.weights, features.vector(), strict=True))
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))


@cache
def _models() -> dict[str, dict[str, object]]:
    data: dict[str, dict[str, object]] = json.loads(MODEL_FILE.read_text(encoding="utf-8"))["models"]
    return data


def load_model(embedder: str) -> EvidenceModel:
    """The fitted model for an embedder (the similarity scales differ); the hashing test double's
    entry is set by hand, and any other embedder borrows MiniLM's."""
    models = _models()
    entry = models.get(embedder, models["all-MiniLM-L6-v2"])
    named = entry["weights"]
    assert isinstance(named, dict)
    return EvidenceModel(
        weights=tuple(float(named[name]) for name in FEATURES),
        bias=float(entry["bias"]),  # type: ignore[arg-type]
        threshold=float(entry["threshold"]),  # type: ignore[arg-type]
    )
