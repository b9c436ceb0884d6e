"""Golden sets kept in the catalog: reviewed cases promoted for evaluation, each set named.
A case is stored as its JSON body (``core/golden.py``'s ``GoldenCase`` reads and writes it).

A case belongs to its collection's team, and a set's name is the team's own: support's
``regressions`` and finance's ``regressions`` are two sets, and neither team sees the other's name."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from core.catalog.audit import AuditTrail
from core.catalog.database import Database
from core.catalog.models import GoldenCaseRow
from core.errors import NotFound


class GoldenSets:
    def __init__(self, db: Database, audit: AuditTrail) -> None:
        self.db = db
        self.audit = audit

    def promote(self, feedback_id: str, golden_set: str, team: str, case: dict[str, Any], actor: str) -> str:
        """Add a reviewed case to a team's golden set; promoting it again returns the same case."""
        case_id = str(case["id"])
        with self.db.session() as s:
            existing = s.scalar(
                select(GoldenCaseRow.body).where(
                    GoldenCaseRow.golden_set == golden_set,
                    GoldenCaseRow.team == team,
                    GoldenCaseRow.feedback_id == feedback_id,
                )
            )
            if existing is not None:
                return str(existing["id"])
            s.add(
                GoldenCaseRow(
                    id=uuid.uuid4().hex,
                    golden_set=golden_set,
                    team=team,
                    feedback_id=feedback_id,
                    body=case,
                    created_by=actor,
                    created_at=datetime.now(UTC),
                )
            )
        self.audit.record(
            actor, "golden.promote", golden_set, team=team, detail={"case": case_id, "review": feedback_id}
        )
        return case_id

    def names(self, teams: tuple[str, ...] | None = None) -> list[str]:
        """The names of the sets of ``teams`` (None: of every team)."""
        query = select(GoldenCaseRow.golden_set).distinct().order_by(GoldenCaseRow.golden_set)
        if teams is not None:
            query = query.where(GoldenCaseRow.team.in_(teams))
        with self.db.session() as s:
            return list(s.scalars(query))

    def cases(self, golden_set: str, teams: tuple[str, ...] | None = None) -> list[dict[str, Any]]:
        """The cases of the set of that name in ``teams`` (None: in every team)."""
        query = (
            select(GoldenCaseRow.body)
            .where(GoldenCaseRow.golden_set == golden_set)
            .order_by(GoldenCaseRow.created_at, GoldenCaseRow.id)
        )
        if teams is not None:
            query = query.where(GoldenCaseRow.team.in_(teams))
        with self.db.session() as s:
            cases = [dict(body) for body in s.scalars(query)]
        if not cases:
            raise NotFound(f"no golden set named {golden_set!r}")
        return cases

    def of_collection(self, collection: str) -> list[dict[str, Any]]:
        """Every case about one collection, of every set (what the scheduled quality run asks)."""
        query = select(GoldenCaseRow.body).order_by(GoldenCaseRow.created_at, GoldenCaseRow.id)
        with self.db.session() as s:
            return [dict(body) for body in s.scalars(query) if dict(body).get("collection") == collection]
