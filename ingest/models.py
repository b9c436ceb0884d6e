"""The model registry: tuned embedders under the data folder, and the embedder a name stands for.

``sourcebook tune`` writes each tuned model to ``<home>/models/<name>-<n>/``: a sentence-transformers
folder plus ``sourcebook-model.json`` (its base, seed, settings, training data, dimension, the eval
it passed and whether the gate offered it). A tuned model is used by name wherever a packaged one
is (``SOURCEBOOK_EMBEDDER``, ``sourcebook models use NAME``, an ingestion task).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from core.catalog.serving import Switch
from core.errors import Conflict, InvalidInput, NotFound
from core.protocols import Embedder
from ingest.embed import BATCH_SIZE, MINILM, MiniLMEmbedder, create_embedder
from ingest.precision import DType
from ingest.rebuild import RebuildReport

CARD = "sourcebook-model.json"
BUILTIN = ("minilm", "hashing")
NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")


@dataclass(frozen=True, slots=True)
class ModelCard:
    """What ``sourcebook-model.json`` says about a tuned model, and where its folder is."""

    name: str
    base: str
    created_at: str
    seed: int | None
    settings: dict[str, Any]
    training_data: tuple[dict[str, Any], ...]  # one entry per source: source, sha256, pairs
    dimension: int
    eval: dict[str, Any] | None
    offered: bool
    path: Path

    @classmethod
    def read(cls, folder: Path) -> ModelCard:
        try:
            raw = json.loads((folder / CARD).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise InvalidInput(f"{folder} is not a tuned model: {CARD} is missing or unreadable") from exc
        try:
            return cls(
                name=str(raw["name"]),
                base=str(raw["base"]),
                created_at=str(raw["created_at"]),
                seed=raw.get("seed"),
                settings=dict(raw.get("settings") or {}),
                training_data=tuple(dict(source) for source in raw.get("training_data") or ()),
                dimension=int(raw["dimension"]),
                eval=raw.get("eval"),
                offered=bool(raw.get("offered", False)),
                path=folder,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInput(f"{folder / CARD} lacks a field a tuned model needs: {exc}") from exc


class TunedEmbedder(MiniLMEmbedder):
    """A MiniLM fine-tuned by ``sourcebook tune``: the packaged model's code, its own weights."""

    def __init__(self, card: ModelCard, batch_size: int = BATCH_SIZE, precision: DType = "float32") -> None:
        super().__init__(batch_size, precision)
        self.card = card
        self.name = card.name  # an instance's name and size shadow the packaged model's
        self.dimension = card.dimension

    def _folder(self) -> str:
        return str(self.card.path)


class ModelRegistry:
    """The tuned models in one data folder's ``models/``, each in a folder named after it."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def cards(self) -> list[ModelCard]:
        """Every tuned model here, oldest first (a folder without a readable card is skipped)."""
        if not self.folder.is_dir():
            return []
        found = []
        for sub in sorted(self.folder.iterdir()):
            if (sub / CARD).is_file():
                try:
                    found.append(ModelCard.read(sub))
                except InvalidInput:
                    continue
        return sorted(found, key=lambda c: (c.created_at, c.name))

    def find(self, name: str) -> ModelCard | None:
        if not NAME.match(name) or not (self.folder / name / CARD).is_file():
            return None
        return ModelCard.read(self.folder / name)

    def get(self, name: str) -> ModelCard:
        card = self.find(name)
        if card is None:
            known = ", ".join([*BUILTIN, *(c.name for c in self.cards())])
            raise NotFound(f"no model named {name!r} (known: {known})")
        return card

    def dimension(self, name: str) -> int:
        """The vector size of a model, without loading it."""
        if name in BUILTIN or name == MINILM:
            return create_embedder(name).dimension
        return self.get(name).dimension

    def embedder(self, name: str, precision: DType = "float32") -> Embedder:
        """The embedder a name stands for: a packaged one, or a tuned model here (loaded on first use)."""
        if name in BUILTIN or name == MINILM:
            return create_embedder(name, precision)
        return TunedEmbedder(self.get(name), precision=precision)

    def known(self, name: str) -> bool:
        return name in BUILTIN or name == MINILM or self.find(name) is not None


@dataclass(frozen=True, slots=True)
class ModelStatus:
    """One model ``sourcebook models list`` shows."""

    name: str
    base: str
    live: bool
    offered: bool
    created_at: str
    eval: dict[str, Any] | None


class Switches(Protocol):
    """``core.catalog.serving.ModelSwitches``."""

    def live(self) -> Switch | None: ...

    def history(self, limit: int = 50) -> list[Switch]: ...

    def record(
        self,
        *,
        model: str,
        index_name: str,
        action: str,
        actor: str,
        previous_model: str | None,
        documents: int,
    ) -> Switch: ...


class Rebuilder(Protocol):
    """``ingest.library.Library``."""

    def rebuild_index(self, model: str | None = None) -> RebuildReport: ...


class Models:
    """``sourcebook models list|use|rollback`` and ``rebuild-index``: every switch of the live index
    is a rebuild beside it, recorded in the catalog (a restart opens what is live) and audited.

    The switch is per server (per data folder): one index holds every collection, so one model
    embeds them all. ``refused`` says why this setup cannot switch models (None: it can)."""

    def __init__(
        self,
        registry: ModelRegistry,
        switches: Switches,
        library: Rebuilder,
        live_model: Callable[[], str],
        refused: str | None = None,
    ) -> None:
        self.registry = registry
        self.switches = switches
        self.library = library
        self.live_model = live_model
        self.refused = refused

    def list(self) -> list[ModelStatus]:
        live = self.live_model()
        builtin = [ModelStatus("minilm", MINILM, live == "minilm", True, "", None)]
        if live == "hashing":
            builtin.append(ModelStatus("hashing", "hashing", True, True, "", None))
        tuned = [
            ModelStatus(c.name, c.base, live == c.name, c.offered, c.created_at, c.eval)
            for c in self.registry.cards()
        ]
        return builtin + tuned

    def use(self, name: str, actor: str) -> tuple[Switch, RebuildReport]:
        if self.refused:
            raise Conflict(self.refused)
        if not self.registry.known(name):
            self.registry.get(name)  # NotFound, naming the known models
        live = self.live_model()
        if name == live:
            raise Conflict(f"{name!r} is already the live model")
        return self._switch(name, "use", actor, live)

    def rollback(self, actor: str) -> tuple[Switch, RebuildReport]:
        """Back to the model live before the last switch of model."""
        if self.refused:
            raise Conflict(self.refused)
        live = self.live_model()
        previous = next(
            (s.previous_model for s in self.switches.history() if s.previous_model and s.model == live), None
        )
        if previous is None:
            raise Conflict(f"nothing to roll back to: {live!r} has been the live model from the start")
        return self._switch(previous, "rollback", actor, live)

    def rebuild(self, actor: str) -> tuple[Switch | None, RebuildReport]:
        """The live model's index rebuilt beside it (after a change of chunking, say)."""
        live = self.live_model()
        report = self.library.rebuild_index()
        if not report.switched:
            return None, report
        switch = self.switches.record(
            model=live,
            index_name=report.index,
            action="rebuild",
            actor=actor,
            previous_model=None,
            documents=report.rebuilt,
        )
        return switch, report

    def _switch(self, name: str, action: str, actor: str, live: str) -> tuple[Switch, RebuildReport]:
        report = self.library.rebuild_index(name)
        if not report.switched:
            failed = "; ".join(f"{n}: {why}" for n, why in report.failed[:5])
            raise Conflict(f"the index for {name!r} could not be built ({failed}); {live!r} stays live")
        switch = self.switches.record(
            model=name,
            index_name=report.index,
            action=action,
            actor=actor,
            previous_model=live,
            documents=report.rebuilt,
        )
        return switch, report
