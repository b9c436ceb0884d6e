"""Who is signed in, and Insights: adoption and quality over time for the teams you can see."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict

from api.deps import PrincipalDep, ServicesDep
from core.access import Action, Role
from core.errors import Forbidden, InvalidInput, NotFound
from core.insights import summarise

router = APIRouter(prefix="/v1", tags=["insights"])

MAX_DAYS = 366


class MeOut(BaseModel):
    user: str
    teams: list[str]
    role: str
    can_manage: bool
    can_upload: bool
    can_review: bool


@router.get("/me")
def me(principal: PrincipalDep) -> MeOut:
    """Who the key belongs to, and what it may do."""
    return MeOut(
        user=principal.user,
        teams=list(principal.teams),
        role=principal.role.value,
        can_manage=principal.may(Action.MANAGE_TEMPLATES),
        can_upload=principal.may(Action.UPLOAD),
        can_review=principal.may(Action.REVIEW),
    )


class TotalsOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    questions: int
    active_users: int
    helpful_rate: float | None
    refusal_rate: float | None
    escalation_rate: float | None
    p50_ms: float | None
    p95_ms: float | None


class DayOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    date: date
    questions: int
    active_users: int
    helpful: int
    unhelpful: int
    refusals: int
    escalations: int
    p50_ms: float | None
    p95_ms: float | None


class TemplateUseOut(BaseModel):
    id: str
    title: str
    questions: int
    helpful_rate: float | None


class InsightsOut(BaseModel):
    since: date
    until: date
    team: str | None
    totals: TotalsOut
    days: list[DayOut]
    templates: list[TemplateUseOut]
    usage: list[dict[str, Any]]


@router.get("/insights")
def insights(
    services: ServicesDep,
    principal: PrincipalDep,
    team: str | None = None,
    since: date | None = None,
    until: date | None = None,
) -> InsightsOut:
    """Questions a day, active users, helpful, refusal and escalation rates, latency, use per
    template and usage, from `since` to `until` (inclusive; default the last 30 days). Admins see
    every team, others their own teams; agents see their own questions."""
    principal.require(Action.READ)
    until = until or datetime.now(UTC).date()
    if not (date(2000, 1, 1) <= until <= date(2999, 12, 31)):
        raise InvalidInput(f"until ({until}) is not a date Sourcebook could have answered on")
    since = since or until - timedelta(days=29)
    if since > until:
        raise InvalidInput(f"since ({since}) is after until ({until})")
    if (until - since).days >= MAX_DAYS:
        raise InvalidInput(f"a range of at most {MAX_DAYS} days, please")
    if team is not None and not principal.sees(team):
        raise Forbidden(f"not a member of team {team!r}")
    start = datetime.combine(since, time.min, tzinfo=UTC)
    end = datetime.combine(until + timedelta(days=1), time.min, tzinfo=UTC)
    answers, feedback = services.answers.between(start, end)
    teams = (team,) if team is not None else principal.visible_teams
    if teams is not None:
        answers = [a for a in answers if any(t in a.teams for t in teams)]
    if principal.role is Role.AGENT:
        answers = [a for a in answers if a.user == principal.user]
    kept = {a.id for a in answers}
    found = summarise(answers, [f for f in feedback if f.answer_id in kept], since, until)

    titles = {}
    for template_use in found.templates:
        try:
            titles[template_use.id] = str(services.templates.get(template_use.id).body.get("title", ""))
        except NotFound:
            titles[template_use.id] = template_use.id
    usage: list[dict[str, Any]] = []
    for name, requests in sorted(found.requests_by_team.items()):
        if teams is None or name in teams:
            credits = services.quotas.usage("team", name)["credits_used"]
            usage.append({"team": name, "requests": requests, "credits": credits})
    for name, requests in sorted(found.requests_by_user.items()):
        credits = services.quotas.usage("user", name)["credits_used"]
        usage.append({"user": name, "requests": requests, "credits": credits})
    return InsightsOut(
        since=since,
        until=until,
        team=team,
        totals=TotalsOut.model_validate(found.totals),
        days=[DayOut.model_validate(d) for d in found.days],
        templates=[
            TemplateUseOut(id=u.id, title=titles[u.id], questions=u.questions, helpful_rate=u.helpful_rate)
            for u in found.templates
        ],
        usage=usage,
    )
