"""Feedback on answers: a vote, a reason, a flag. Unhelpful or flagged feedback opens a review
item (``core/catalog/review.py``); the rest is only counted."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from core.catalog.database import Database
from core.catalog.models import AnswerRow, FeedbackRow, as_utc
from core.errors import NotFound

# A feedback row's review state.
OPEN, CLOSED, NOT_FOR_REVIEW = "open", "closed", "none"


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


def feedback_of(row: FeedbackRow) -> Feedback:
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
        None if row.reviewed_at is None else as_utc(row.reviewed_at),
        as_utc(row.created_at),
    )


class FeedbackLog:
    def __init__(self, db: Database) -> None:
        self.db = db

    def add(
        self,
        answer_id: str,
        user: str,
        *,
        helpful: bool,
        reason: str | None,
        flagged: bool,
        comment: str | None,
    ) -> Feedback:
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
            if s.get(AnswerRow, answer_id) is None:
                raise NotFound(f"no answer with id {answer_id!r}")
            s.add(row)
            s.flush()
            return feedback_of(row)
