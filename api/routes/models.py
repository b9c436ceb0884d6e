"""The live embedding model: the models there are, which is live, its switches and rollbacks, and
the quality of each collection's golden cases over time (knowledge managers switch; everyone sees)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict

from api.deps import PrincipalDep, ServicesDep
from core.access import Action
from core.catalog.serving import Switch
from core.errors import NotFound
from ingest.rebuild import RebuildReport

router = APIRouter(prefix="/v1", tags=["models"])


class ModelOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    name: str
    base: str
    live: bool
    offered: bool
    created_at: str
    eval: dict[str, Any] | None


class SwitchOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    at: datetime
    model: str
    index_name: str
    action: str
    actor: str
    previous_model: str | None
    documents: int


class ModelsOut(BaseModel):
    live: str
    index: str
    models: list[ModelOut]
    switches: list[SwitchOut]


class UseIn(BaseModel):
    name: str


class SwitchedOut(BaseModel):
    switch: SwitchOut | None
    rebuilt: int
    dropped: int
    failed: list[tuple[str, str]]


@router.get("/models")
def list_models(services: ServicesDep, principal: PrincipalDep) -> ModelsOut:
    """The models there are, the live one and the index built with it, and every switch (newest first)."""
    principal.require(Action.READ)
    live = services.live.live
    return ModelsOut(
        live=live.model,
        index=live.index,
        models=[ModelOut.model_validate(m) for m in services.models.list()],
        switches=[SwitchOut.model_validate(s) for s in services.model_switches.history()],
    )


def _switched(switch: Switch | None, report: RebuildReport) -> SwitchedOut:
    return SwitchedOut(
        switch=SwitchOut.model_validate(switch) if switch else None,
        rebuilt=report.rebuilt,
        dropped=report.dropped,
        failed=report.failed,
    )


@router.post("/models/use")
def use_model(body: UseIn, services: ServicesDep, principal: PrincipalDep) -> SwitchedOut:
    """Build the index with this model beside the live one, then switch to it (minutes: it
    re-embeds every document; searches, uploads and deletes go on meanwhile)."""
    principal.require(Action.MANAGE_COLLECTIONS)
    return _switched(*services.models.use(body.name, principal.user))


@router.post("/models/rollback")
def rollback_model(services: ServicesDep, principal: PrincipalDep) -> SwitchedOut:
    """Back to the model live before the last switch, the same way."""
    principal.require(Action.MANAGE_COLLECTIONS)
    return _switched(*services.models.rollback(principal.user))


@router.post("/index/rebuild")
def rebuild_index(services: ServicesDep, principal: PrincipalDep) -> SwitchedOut:
    """Rebuild the live model's index beside it, then switch (after a change of chunking)."""
    principal.require(Action.MANAGE_COLLECTIONS)
    return _switched(*services.models.rebuild(principal.user))


class QualityPointOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    at: datetime
    collection: str
    model: str
    templates: dict[str, Any]
    cases: int
    correct: float | None
    gold_cited: float | None
    refused: float | None
    dropped: list[str]


class QualityOut(BaseModel):
    interval_s: float
    tolerance: float
    points: list[QualityPointOut]  # oldest first
    flagged: list[str]  # collections whose last run dropped past the tolerance


@router.get("/quality")
def quality(services: ServicesDep, principal: PrincipalDep, collection: str | None = None) -> QualityOut:
    """Each collection's golden cases over time (the scheduled runs), for the collections you see."""
    principal.require(Action.READ)
    teams = services.catalog.collection_teams()
    if collection is not None and not principal.sees(teams.get(collection, "")):
        raise NotFound(f"no collection named {collection!r}")
    points = [
        p for p in services.quality_runs.trend(collection) if principal.sees(teams.get(p.collection, ""))
    ]
    last = {p.collection: p for p in points}
    return QualityOut(
        interval_s=services.settings.quality_interval_s,
        tolerance=services.settings.quality_tolerance,
        points=[QualityPointOut.model_validate(p) for p in points],
        flagged=sorted(name for name, p in last.items() if p.dropped),
    )
