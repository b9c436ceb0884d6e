"""Answers given, the feedback on them, the review queue, human overrides and golden cases.

Every answer is kept (its question redacted as the audit trail keeps it) so feedback can point at
it and Insights can count it. Unhelpful or flagged feedback opens a review item; a reviewer's
approved answer becomes an override that is served first to the same question (the same
template and values, or the same normalised question) in the same collections and access scope.
A reviewed case can be promoted into a named golden set for evaluation.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, select, update

from core.catalog.audit import AuditTrail
from core.catalog.database import Database
from core.catalog.models import AnswerRow, FeedbackRow, GoldenCaseRow, OverrideRow
from core.errors import NotFound

OPEN, CLOSED, NOT_FOR_REVIEW = "open", "closed", "none"


def _utc(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


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


@dataclass(frozen=True, slots=True)
class Feedback:
    id: str
    answer_id: str
    user: str
    helpful: bool
    reason: str | None
    flagged: bool
    comment: str | None
    state: str
    verdict: str | None
    correct_answer: str | None
    correct_sources: tuple[dict[str, Any], ...]
    reviewer: str | None
    reviewed_at: datetime | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ReviewItem:
    feedback: Feedback
    answer: AnswerRecord


@dataclass(frozen=True, slots=True)
class Override:
    id: str
    feedback_id: str
    answer: dict[str, Any]
    verdict: str
    reviewer: str
    approved_at: datetime


def _record(row: AnswerRow) -> AnswerRecord:
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
        _utc(row.created_at),
    )


def _feedback(row: FeedbackRow) -> Feedback:
    return Feedback(
        row.id,
        row.answer_id,
        row.user,
        row.helpful,
        row.reason,
        row.flagged,
        row.comment,
        row.state,
        row.verdict,
        row.correct_answer,
        tuple(row.correct_sources or ()),
        row.reviewer,
        None if row.reviewed_at is None else _utc(row.reviewed_at),
        _utc(row.created_at),
    )


class AnswerLog:
    def __init__(self, db: Database, audit: AuditTrail) -> None:
        self.db = db
        self.audit = audit

    # -- answers ----------------------------------------------------------------------------

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
        with self.db.session() as s:
            s.add(
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
        return answer_id

    def get(self, answer_id: str) -> AnswerRecord:
        with self.db.session() as s:
            row = s.get(AnswerRow, answer_id)
            if row is None:
                raise NotFound(f"no answer with id {answer_id!r}")
            return _record(row)

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
            return [_record(r) for r in s.scalars(query)], [_feedback(r) for r in s.scalars(feedback)]

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

    # -- feedback and review ----------------------------------------------------------------

    def add_feedback(
        self,
        answer_id: str,
        user: str,
        *,
        helpful: bool,
        reason: str | None,
        flagged: bool,
        comment: str | None,
    ) -> Feedback:
        self.get(answer_id)
        row = FeedbackRow(
            id=uuid.uuid4().hex,
            answer_id=answer_id,
            user=user,
            helpful=helpful,
            reason=reason,
            flagged=flagged,
            comment=comment,
            state=OPEN if flagged or not helpful else NOT_FOR_REVIEW,
            created_at=datetime.now(UTC),
        )
        with self.db.session() as s:
            s.add(row)
            s.flush()
            return _feedback(row)

    def review_items(self, state: str, teams: Sequence[str] | None) -> list[ReviewItem]:
        """Review items in a state, newest first; ``teams`` None: every team's."""
        query = (
            select(FeedbackRow, AnswerRow)
            .join(AnswerRow, FeedbackRow.answer_id == AnswerRow.id)
            .where(FeedbackRow.state == state)
            .order_by(FeedbackRow.created_at.desc())
        )
        with self.db.session() as s:
            items = [ReviewItem(_feedback(f), _record(a)) for f, a in s.execute(query)]
        return [i for i in items if _visible(i.answer, teams)]

    def review_item(self, feedback_id: str, teams: Sequence[str] | None) -> ReviewItem:
        with self.db.session() as s:
            row = s.get(FeedbackRow, feedback_id)
            if row is None or row.state == NOT_FOR_REVIEW:
                raise NotFound(f"no review item {feedback_id!r}")
            answer = s.get(AnswerRow, row.answer_id)
            assert answer is not None  # the foreign key guarantees it
            item = ReviewItem(_feedback(row), _record(answer))
        if not _visible(item.answer, teams):
            raise NotFound(f"no review item {feedback_id!r}")
        return item

    def review(
        self,
        feedback_id: str,
        reviewer: str,
        *,
        verdict: str,
        correct_answer: str | None,
        correct_sources: Sequence[dict[str, Any]],
        override: dict[str, Any] | None,
        teams: Sequence[str] | None,
    ) -> ReviewItem:
        """Close a review item; with ``override`` (an answer body) it is served first from now on."""
        item = self.review_item(feedback_id, teams)
        now = datetime.now(UTC)
        with self.db.session() as s:
            row = s.get(FeedbackRow, feedback_id)
            assert row is not None
            row.state, row.verdict, row.reviewer, row.reviewed_at = CLOSED, verdict, reviewer, now
            row.correct_answer, row.correct_sources = correct_answer, list(correct_sources)
            # A new decision replaces what this item approved before, and any older approval of
            # the same question in the same scope: the latest reviewer's word is served.
            stale = OverrideRow.feedback_id == feedback_id
            if override is not None:
                stale = stale | (OverrideRow.scope_key == item.answer.scope_key)
            s.execute(update(OverrideRow).where(stale).values(active=False))
            if override is not None:
                s.add(
                    OverrideRow(
                        id=uuid.uuid4().hex,
                        scope_key=item.answer.scope_key,
                        feedback_id=feedback_id,
                        answer=override,
                        verdict=verdict,
                        reviewer=reviewer,
                        approved_at=now,
                        active=True,
                    )
                )
        self.audit.record(
            reviewer,
            "review",
            feedback_id,
            detail={"answer_id": item.answer.id, "verdict": verdict, "approved": override is not None},
        )
        return self.review_item(feedback_id, None)

    def find_override(self, scope_key: str) -> Override | None:
        query = (
            select(OverrideRow)
            .where(OverrideRow.scope_key == scope_key, OverrideRow.active.is_(True))
            .order_by(OverrideRow.approved_at.desc())
            .limit(1)
        )
        with self.db.session() as s:
            row = s.scalars(query).first()
            if row is None:
                return None
            return Override(
                row.id, row.feedback_id, dict(row.answer), row.verdict, row.reviewer, _utc(row.approved_at)
            )

    # -- golden sets ------------------------------------------------------------------------

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

    def golden_sets(self) -> list[str]:
        with self.db.session() as s:
            return list(
                s.scalars(select(GoldenCaseRow.golden_set).distinct().order_by(GoldenCaseRow.golden_set))
            )

    def golden_cases(self, golden_set: str) -> list[dict[str, Any]]:
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


def _visible(answer: AnswerRecord, teams: Iterable[str] | None) -> bool:
    return teams is None or any(t in answer.teams for t in teams)
