"""Golden sets kept in the catalog: reviewed cases promoted for evaluation, each set named.
A case is stored as its JSON body (``core/golden.py``'s ``GoldenCase`` reads and writes it)."""

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

    def promote(self, feedback_id: str, golden_set: str, case: dict[str, Any], actor: str) -> str:
        """Add a reviewed case to a golden set; promoting it again returns the same case."""
        case_id = str(case["id"])
        with self.db.session() as s:
            existing = s.scalar(
                select(GoldenCaseRow.body).where(
                    GoldenCaseRow.golden_set == golden_set, GoldenCaseRow.feedback_id == feedback_id
                )
            )
            if existing is not None:
                return str(existing["id"])
            s.add(
                GoldenCaseRow(
                    id=uuid.uuid4().hex,
                    golden_set=golden_set,
                    feedback_id=feedback_id,
                    body=case,
                    created_by=actor,
                    created_at=datetime.now(UTC),
                )
            )
        self.audit.record(
            actor, "golden.promote", golden_set, detail={"case": case_id, "review": feedback_id}
        )
        return case_id

    def names(self) -> list[str]:
        with self.db.session() as s:
            return list(
                s.scalars(select(GoldenCaseRow.golden_set).distinct().order_by(GoldenCaseRow.golden_set))
            )

    def cases(self, golden_set: str) -> list[dict[str, Any]]:
        query = (
            select(GoldenCaseRow.body)
            .where(GoldenCaseRow.golden_set == golden_set)
            .order_by(GoldenCaseRow.created_at, GoldenCaseRow.id)
        )
        with self.db.session() as s:
            cases = [dict(body) for body in s.scalars(query)]
        if not cases:
            raise NotFound(f"no golden set named {golden_set!r}")
        return cases
