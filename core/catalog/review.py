"""The review queue: unhelpful or flagged feedback waits here for a reviewer, who closes it with
a verdict and, if they approve an answer, an override served first from then on."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update

from core.catalog.answers import AnswerRecord, answer_record
from core.catalog.audit import AuditTrail
from core.catalog.database import Database
from core.catalog.feedback import CLOSED, NOT_FOR_REVIEW, Feedback, feedback_of
from core.catalog.models import AnswerRow, FeedbackRow, OverrideRow
from core.errors import NotFound


@dataclass(frozen=True, slots=True)
class ReviewItem:
    feedback: Feedback
    answer: AnswerRecord


class ReviewQueue:
    def __init__(self, db: Database, audit: AuditTrail) -> None:
        self.db = db
        self.audit = audit

    def items(self, state: str, teams: Sequence[str] | None) -> list[ReviewItem]:
        """Review items in a state, newest first; ``teams`` None: every team's."""
        query = (
            select(FeedbackRow, AnswerRow)
            .join(AnswerRow, FeedbackRow.answer_id == AnswerRow.id)
            .where(FeedbackRow.state == state)
            .order_by(FeedbackRow.created_at.desc())
        )
        with self.db.session() as s:
            items = [ReviewItem(feedback_of(f), answer_record(a)) for f, a in s.execute(query)]
        return [i for i in items if _visible(i.answer, teams)]

    def item(self, feedback_id: str, teams: Sequence[str] | None) -> ReviewItem:
        with self.db.session() as s:
            row = s.get(FeedbackRow, feedback_id)
            if row is None or row.state == NOT_FOR_REVIEW:
                raise NotFound(f"no review item {feedback_id!r}")
            answer = s.get(AnswerRow, row.answer_id)
            assert answer is not None  # the foreign key guarantees it
            item = ReviewItem(feedback_of(row), answer_record(answer))
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
        item = self.item(feedback_id, teams)
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
        return self.item(feedback_id, None)


def _visible(answer: AnswerRecord, teams: Iterable[str] | None) -> bool:
    return teams is None or any(t in answer.teams for t in teams)
