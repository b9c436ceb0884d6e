"""Adoption and quality over time, counted from the answers given and the feedback on them.

Helpful rate is helpful votes over all votes; refusal rate is refused answers over answers;
escalation rate counts answers that said to escalate (refusals) or that someone flagged for a
person. Latency percentiles are nearest-rank, so they are always a latency that happened.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

from core.catalog.answers import AnswerRecord
from core.catalog.feedback import Feedback


@dataclass(frozen=True, slots=True)
class Totals:
    questions: int
    active_users: int
    helpful_rate: float | None
    refusal_rate: float | None
    escalation_rate: float | None
    p50_ms: float | None
    p95_ms: float | None


@dataclass(frozen=True, slots=True)
class Day:
    date: date
    questions: int
    active_users: int
    helpful: int
    unhelpful: int
    refusals: int
    escalations: int
    p50_ms: float | None
    p95_ms: float | None


@dataclass(frozen=True, slots=True)
class TemplateUse:
    id: str
    questions: int
    helpful: int
    unhelpful: int

    @property
    def helpful_rate(self) -> float | None:
        return _rate(self.helpful, self.helpful + self.unhelpful)


@dataclass(frozen=True, slots=True)
class Insights:
    totals: Totals
    days: list[Day]
    templates: list[TemplateUse]
    requests_by_user: dict[str, int] = field(default_factory=dict)
    requests_by_team: dict[str, int] = field(default_factory=dict)


def percentile(values: Sequence[float], share: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[max(0, math.ceil(share * len(ordered)) - 1)], 1)


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def summarise(
    answers: Sequence[AnswerRecord], feedback: Sequence[Feedback], first: date, last: date
) -> Insights:
    """Every day from ``first`` to ``last`` (inclusive), empty days included."""
    votes: dict[str, list[Feedback]] = defaultdict(list)
    for f in feedback:
        votes[f.answer_id].append(f)
    by_day: dict[date, list[AnswerRecord]] = defaultdict(list)
    for a in answers:
        by_day[a.created_at.date()].append(a)

    def escalated(a: AnswerRecord) -> bool:
        return a.escalate or any(f.flagged for f in votes[a.id])

    def tally(group: Sequence[AnswerRecord]) -> tuple[int, int]:
        cast = [f for a in group for f in votes[a.id]]
        helpful = sum(1 for f in cast if f.helpful)
        return helpful, len(cast) - helpful

    days = []
    day = first
    while day <= last:
        group = by_day.get(day, [])
        helpful, unhelpful = tally(group)
        latencies = [a.latency_ms for a in group]
        days.append(
            Day(
                day,
                len(group),
                len({a.user for a in group}),
                helpful,
                unhelpful,
                sum(1 for a in group if a.refused),
                sum(1 for a in group if escalated(a)),
                percentile(latencies, 0.5),
                percentile(latencies, 0.95),
            )
        )
        day += timedelta(days=1)

    helpful, unhelpful = tally(answers)
    latencies = [a.latency_ms for a in answers]
    totals = Totals(
        len(answers),
        len({a.user for a in answers}),
        _rate(helpful, helpful + unhelpful),
        _rate(sum(1 for a in answers if a.refused), len(answers)),
        _rate(sum(1 for a in answers if escalated(a)), len(answers)),
        percentile(latencies, 0.5),
        percentile(latencies, 0.95),
    )
    per_template: dict[str, list[AnswerRecord]] = defaultdict(list)
    for a in answers:
        if a.template_id:
            per_template[a.template_id].append(a)
    templates = [
        TemplateUse(template_id, len(group), *tally(group))
        for template_id, group in sorted(per_template.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    ]
    by_user: dict[str, int] = defaultdict(int)
    by_team: dict[str, int] = defaultdict(int)
    for a in answers:
        by_user[a.user] += 1
        for team in a.teams:
            by_team[team] += 1
    return Insights(totals, days, templates, dict(by_user), dict(by_team))
