"""Reviewers' approved answers, served first to the same question (the same template and
values, or the same normalised question) in the same collections and access scope. The review
queue (``core/catalog/review.py``) writes them as it closes an item, in the same transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from core.catalog.database import Database
from core.catalog.models import OverrideRow, as_utc


@dataclass(frozen=True, slots=True)
class Override:
    id: str
    feedback_id: str
    answer: dict[str, Any]
    verdict: str
    reviewer: str
    approved_at: datetime


def override_of(row: OverrideRow) -> Override:
    return Override(
        row.id, row.feedback_id, dict(row.answer), row.verdict, row.reviewer, as_utc(row.approved_at)
    )


class Overrides:
    def __init__(self, db: Database) -> None:
        self.db = db

    def find(self, scope_key: str) -> Override | None:
        """The approved answer served for this scope key, the latest approval first."""
        query = (
            select(OverrideRow)
            .where(OverrideRow.scope_key == scope_key, OverrideRow.active.is_(True))
            .order_by(OverrideRow.approved_at.desc())
            .limit(1)
        )
        with self.db.session() as s:
            row = s.scalars(query).first()
            return None if row is None else override_of(row)
