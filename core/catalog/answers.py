"""Answers given: every one is kept (its question redacted as the audit trail keeps it) so
feedback can point at it and Insights can count it."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, select

from core.catalog.database import Database
from core.catalog.feedback import Feedback, feedback_of
from core.catalog.models import AnswerRow, FeedbackRow, OverrideRow, as_utc
from core.errors import NotFound


def teams_of(joined: str) -> tuple[str, ...]:
    return tuple(t for t in joined.split(",") if t)


@dataclass(frozen=True, slots=True)
class AnswerRecord:
    id: str
    user: str
    team: str  # the asker's teams, comma-joined ("" for an admin in none)
    collections: tuple[str, ...]
    question: str
    scope_key: str
    template_id: str | None
    template_version: int | None
    values: dict[str, Any] | None
    refused: bool
    escalate: bool
    answer: dict[str, Any]  # text, citations, refusal_reason, notes, provenance, reviewed
    latency_ms: float
    cached: bool
    override_id: str | None
    created_at: datetime

    @property
    def teams(self) -> tuple[str, ...]:
        return teams_of(self.team)


def answer_record(row: AnswerRow) -> AnswerRecord:
    return AnswerRecord(
        row.id,
        row.user,
        row.team,
        tuple(row.collections or ()),
        row.question,
        row.scope_key,
        row.template_id,
        row.template_version,
        row.values,
        row.refused,
        row.escalate,
        dict(row.answer),
        row.latency_ms,
        row.cached,
        row.override_id,
        as_utc(row.created_at),
    )


class AnswerLog:
    """The answers table: written by the answering use case, read by feedback and Insights."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def record(
        self,
        *,
        user: str,
        teams: Sequence[str],
        collections: Sequence[str],
        question: str,
        scope_key: str,
        template: tuple[str, int, dict[str, Any]] | None,
        answer: dict[str, Any],
        refused: bool,
        escalate: bool,
        latency_ms: float,
        cached: bool,
        override_id: str | None,
    ) -> str:
        answer_id = uuid.uuid4().hex
        self.db.append_later(
            lambda s: s.add(
                AnswerRow(
                    id=answer_id,
                    user=user,
                    team=",".join(sorted(teams))[:512],
                    collections=list(collections),
                    question=question,
                    scope_key=scope_key,
                    template_id=template[0] if template else None,
                    template_version=template[1] if template else None,
                    values=template[2] if template else None,
                    refused=refused,
                    escalate=escalate,
                    answer=answer,
                    latency_ms=round(latency_ms, 1),
                    cached=cached,
                    override_id=override_id,
                    created_at=datetime.now(UTC),
                )
            )
        )  # committed with the other requests' writes (and this one's audit entry), before the answer goes out
        return answer_id

    def get(self, answer_id: str) -> AnswerRecord:
        with self.db.session() as s:
            row = s.get(AnswerRow, answer_id)
            if row is None:
                raise NotFound(f"no answer with id {answer_id!r}")
            return answer_record(row)

    def between(
        self, since: datetime | None, until: datetime | None
    ) -> tuple[list[AnswerRecord], list[Feedback]]:
        """Answers given in [since, until) and all the feedback on them, oldest first."""
        query = select(AnswerRow).order_by(AnswerRow.created_at)
        if since is not None:
            query = query.where(AnswerRow.created_at >= since)
        if until is not None:
            query = query.where(AnswerRow.created_at < until)
        feedback = select(FeedbackRow).join(AnswerRow).order_by(FeedbackRow.created_at)
        if since is not None:
            feedback = feedback.where(AnswerRow.created_at >= since)
        if until is not None:
            feedback = feedback.where(AnswerRow.created_at < until)
        with self.db.session() as s:
            return [answer_record(r) for r in s.scalars(query)], [feedback_of(r) for r in s.scalars(feedback)]

    def purge(self, before: datetime) -> int:
        """Delete answers older than ``before`` with their feedback (the audit retention), except
        those behind an approved answer still served; golden cases keep their own copy."""
        protected = (
            select(FeedbackRow.answer_id)
            .join(OverrideRow, OverrideRow.feedback_id == FeedbackRow.id)
            .where(OverrideRow.active.is_(True))
        )
        with self.db.session() as s:
            result = s.execute(
                delete(AnswerRow).where(AnswerRow.created_at < before, AnswerRow.id.not_in(protected))
            )
            return int(getattr(result, "rowcount", 0) or 0)
