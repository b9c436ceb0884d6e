"""What an evaluation runs: how the corpus is indexed, which retrieval systems, how answers are made.

A config file (TOML or JSON) overrides the defaults::

    [index]
    embedder = "minilm"         # or "hashing" (the test double)
    chunk_tokens = 220

    [systems.hybrid-dbsf]       # retrieval systems; none given: the four modes below
    mode = "hybrid"
    fusion = "dbsf"
    reranker = "none"           # or "sentence"

    [answers]
    mode = "hybrid"
    fusion = "dbsf"
    passages = 5
    threshold = 0.53            # refusal threshold; default: the generator's own for the embedder
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal

from core.errors import InvalidInput
from eval.index import IndexRecipe

Mode = Literal["dense", "sparse", "hybrid"]
Fusion = Literal["rrf", "dbsf"]


@dataclass(frozen=True, slots=True)
class SystemConfig:
    mode: Mode = "hybrid"
    fusion: Fusion = "dbsf"
    reranker: Literal["none", "sentence"] = "none"
    candidates: int = 200  # per prefetch, for hybrid fusion
    depth: int = 100  # how many documents a ranking keeps (recall@100 needs 100)


@dataclass(frozen=True, slots=True)
class AnswerConfig:
    mode: Mode = "hybrid"
    fusion: Fusion = "dbsf"
    reranker: Literal["none", "sentence"] = "none"
    passages: int = 5
    threshold: float | None = None


DEFAULT_SYSTEMS = {
    "dense": SystemConfig(mode="dense"),
    "sparse": SystemConfig(mode="sparse"),
    "hybrid-rrf": SystemConfig(mode="hybrid", fusion="rrf"),
    "hybrid-dbsf": SystemConfig(mode="hybrid", fusion="dbsf"),
}


@dataclass(frozen=True)
class EvalConfig:
    index: IndexRecipe = field(default_factory=IndexRecipe)
    systems: dict[str, SystemConfig] = field(default_factory=lambda: dict(DEFAULT_SYSTEMS))
    answers: AnswerConfig = field(default_factory=AnswerConfig)

    def to_json(self) -> dict[str, Any]:
        return {
            "index": asdict(self.index),
            "systems": {name: asdict(s) for name, s in self.systems.items()},
            "answers": asdict(self.answers),
        }


def _build(cls: type[Any], data: Any, where: str) -> Any:
    if not isinstance(data, dict):
        raise InvalidInput(f"config: [{where}] must be a table")
    known = {f.name for f in fields(cls)}
    unknown = set(data) - known
    if unknown:
        raise InvalidInput(f"config: [{where}] has unknown keys {sorted(unknown)}; known: {sorted(known)}")
    try:
        built = cls(**data)
    except TypeError as exc:
        raise InvalidInput(f"config: [{where}]: {exc}") from exc
    allowed = {
        "mode": ("dense", "sparse", "hybrid"),
        "fusion": ("rrf", "dbsf"),
        "reranker": ("none", "sentence"),
        "embedder": ("minilm", "hashing"),
    }
    for key, values in allowed.items():
        if key in data and data[key] not in values:
            raise InvalidInput(f"config: [{where}] {key} must be one of {', '.join(values)}")
    return built


def parse_config(data: dict[str, Any]) -> EvalConfig:
    unknown = set(data) - {"index", "systems", "answers"}
    if unknown:
        raise InvalidInput(f"config: unknown sections {sorted(unknown)}; known: index, systems, answers")
    index = _build(IndexRecipe, data.get("index", {}), "index")
    systems = dict(DEFAULT_SYSTEMS)
    if "systems" in data:
        systems = {name: _build(SystemConfig, s, f"systems.{name}") for name, s in data["systems"].items()}
        if not systems:
            raise InvalidInput("config: [systems] lists no system")
    answers = _build(AnswerConfig, data.get("answers", {}), "answers")
    return EvalConfig(index, systems, answers)


def with_embedder(config: EvalConfig, name: str) -> EvalConfig:
    """The config with another embedder: ``minilm``, ``hashing`` or a tuned model's name (its
    index is cached apart, the recipe key holds the name)."""
    return replace(config, index=replace(config.index, embedder=name))


def load_config(path: Path | None) -> EvalConfig:
    if path is None:
        return EvalConfig()
    text = path.read_text(encoding="utf-8")
    try:
        data = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        raise InvalidInput(f"config {path} does not parse: {exc}") from exc
    return parse_config(data)
