"""The live model and index, as switched (``sourcebook models use|rollback``, ``rebuild-index``),
and the scheduled quality runs measured against them. Every switch is audited."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from core.catalog.audit import AuditTrail
from core.catalog.database import Database
from core.catalog.models import ModelSwitchRow, QualityRunRow, as_utc, utcnow


@dataclass(frozen=True, slots=True)
class Switch:
    at: datetime
    model: str
    index_name: str
    action: str
    actor: str
    previous_model: str | None
    documents: int


@dataclass(frozen=True, slots=True)
class QualityPoint:
    at: datetime
    collection: str
    model: str
    templates: dict[str, Any]
    cases: int
    correct: float | None
    gold_cited: float | None
    refused: float | None
    dropped: tuple[str, ...] = ()


def _switch(row: ModelSwitchRow) -> Switch:
    return Switch(
        as_utc(row.at), row.model, row.index_name, row.action, row.actor, row.previous_model, row.documents
    )


class ModelSwitches:
    def __init__(self, db: Database, audit: AuditTrail) -> None:
        self.db = db
        self.audit = audit

    def live(self) -> Switch | None:
        """The newest switch; None when the index is still the one settings first chose."""
        with self.db.session() as s:
            row = s.scalars(select(ModelSwitchRow).order_by(ModelSwitchRow.id.desc()).limit(1)).first()
            return _switch(row) if row else None

    def history(self, limit: int = 50) -> list[Switch]:
        """Newest first."""
        with self.db.session() as s:
            rows = s.scalars(select(ModelSwitchRow).order_by(ModelSwitchRow.id.desc()).limit(limit))
            return [_switch(r) for r in rows]

    def record(
        self,
        *,
        model: str,
        index_name: str,
        action: str,
        actor: str,
        previous_model: str | None,
        documents: int,
    ) -> Switch:
        with self.db.session() as s:
            row = ModelSwitchRow(
                at=utcnow(),
                model=model,
                index_name=index_name,
                action=action,
                actor=actor,
                previous_model=previous_model,
                documents=documents,
            )
            s.add(row)
            s.flush()
            switch = _switch(row)
        self.audit.record(
            actor,
            f"model.{action}",
            model,
            detail={"index": index_name, "previous_model": previous_model, "documents": documents},
        )
        return switch


def _point(row: QualityRunRow) -> QualityPoint:
    return QualityPoint(
        as_utc(row.at),
        row.collection,
        row.model,
        dict(row.templates),
        row.cases,
        row.correct,
        row.gold_cited,
        row.refused,
        tuple(row.dropped),
    )


class QualityRuns:
    def __init__(self, db: Database) -> None:
        self.db = db

    def add(self, point: QualityPoint) -> None:
        with self.db.session() as s:
            s.add(
                QualityRunRow(
                    at=point.at,
                    collection=point.collection,
                    model=point.model,
                    templates=point.templates,
                    cases=point.cases,
                    correct=point.correct,
                    gold_cited=point.gold_cited,
                    refused=point.refused,
                    dropped=list(point.dropped),
                )
            )

    def trend(self, collection: str | None = None, limit: int = 200) -> list[QualityPoint]:
        """Oldest first, the last ``limit`` runs (of one collection, or of all)."""
        query = select(QualityRunRow).order_by(QualityRunRow.id.desc()).limit(limit)
        if collection is not None:
            query = query.where(QualityRunRow.collection == collection)
        with self.db.session() as s:
            return [_point(r) for r in reversed(list(s.scalars(query)))]

    def last(self, collection: str) -> QualityPoint | None:
        found = self.trend(collection, limit=1)
        return found[0] if found else None
