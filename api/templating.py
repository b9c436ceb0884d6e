"""Question templates for a caller: which ones they are offered, which they may change, and a
template turned into a question, its collections and filters.

A template belongs to a team or is global. A caller sees their teams' templates and the global
ones (an admin sees all), is offered those whose collections they all see, changes their teams'
(an admin also the global ones), and reads another team's as missing."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from api.schemas import Filters
from api.services import Services
from core.access import Action, Principal, Role
from core.catalog.templates import StoredTemplate
from core.errors import Forbidden, InvalidFields, NotFound
from retrieval.templates import QuestionTemplate, RenderedQuestion, from_record, render

log = logging.getLogger(__name__)


def _template(stored: StoredTemplate) -> QuestionTemplate:
    return from_record(
        stored.body,
        version=stored.version,
        retired=stored.retired,
        updated_by=stored.updated_by,
        updated_at=stored.updated_at,
        team=stored.team,
    )


def manages(principal: Principal) -> bool:
    return principal.may(Action.MANAGE_TEMPLATES)


def _sees(principal: Principal, team: str | None) -> bool:
    return team is None or principal.sees(team)


def _may_change(principal: Principal, team: str | None) -> bool:
    """Admins change every template; knowledge managers their own teams' (not the global ones)."""
    if principal.role is Role.ADMIN:
        return True
    return manages(principal) and team is not None and principal.sees(team)


def _offered(principal: Principal, template: QuestionTemplate, collections: Mapping[str, str]) -> bool:
    """Its team is the caller's (or it is global), and either the caller may change it (so a
    template whose collection was deleted can still be mended) or sees every collection it names
    (``collections``: each collection's team) and manages templates or is its audience."""
    if not _sees(principal, template.team):
        return False
    if _may_change(principal, template.team):
        return True
    if not all(name in collections and principal.sees(collections[name]) for name in template.collections):
        return False
    return manages(principal) or template.offered_to(principal.role.value, principal.teams)


def offered(
    services: Services, principal: Principal, *, include_retired: bool = False
) -> list[QuestionTemplate]:
    """The latest version of each template of the caller's teams (and each global one) that they
    are offered."""
    principal.require(Action.READ)
    collections = services.catalog.collection_teams()
    found = []
    for stored in services.templates.latest(teams=principal.visible_teams, include_retired=include_retired):
        try:
            template = _template(stored)
        except InvalidFields as exc:  # stored before a stricter check: never offered, never run
            log.error(
                "template %s version %d no longer passes its checks: %s", stored.id, stored.version, exc
            )
            continue
        if _offered(principal, template, collections):
            found.append(template)
    return found


def get(
    services: Services, principal: Principal, template_id: str, version: int | None = None
) -> QuestionTemplate:
    """A template offered to the caller; any other reads as missing, so its id is not confirmed."""
    principal.require(Action.READ)
    latest = services.templates.get(template_id)
    if not _sees(principal, latest.team):
        raise NotFound(f"no template {template_id!r}")
    stored = latest if version is None else services.templates.get(template_id, version)
    template = _template(stored)
    if not _offered(principal, template, services.catalog.collection_teams() if template.collections else {}):
        raise NotFound(f"no template {template_id!r}")
    return template


def owner(principal: Principal, team: str | None) -> str | None:
    """The team a new template of this caller belongs to: the one named, else their only team;
    an admin who names none makes a global template."""
    principal.require(Action.MANAGE_TEMPLATES, team=team)
    if team is not None or principal.role is Role.ADMIN:
        return team
    if len(principal.teams) == 1:
        return principal.teams[0]
    listed = ", ".join(principal.teams) or "none"
    raise InvalidFields(
        "name the template's team",
        [("team", f"is required: you are a member of several teams or none ({listed})")],
    )


def changeable(services: Services, principal: Principal, template_id: str) -> StoredTemplate:
    """The latest version of a template the caller may change or retire: one of their team's, or
    a global one for an admin. Another team's reads as missing."""
    principal.require(Action.MANAGE_TEMPLATES)
    stored = services.templates.get(template_id)
    if not _sees(principal, stored.team):
        raise NotFound(f"no template {template_id!r}")
    if not _may_change(principal, stored.team):
        raise Forbidden(f"template {template_id!r} is global: only admins change or retire it")
    return stored


def check_collections(
    services: Services, principal: Principal, template: QuestionTemplate, team: str | None
) -> None:
    """Every collection a template names is one the caller sees and, for a team's template, that
    team's own; one the caller cannot see is named missing like one that does not exist."""
    teams = services.catalog.collection_teams() if template.collections else {}
    visible = {name: owner for name, owner in teams.items() if principal.sees(owner)}
    problems = []
    for name in template.collections:
        if name not in visible:
            problems.append(("collections", f"names no collection {name!r} you can see"))
        elif team is not None and visible[name] != team:
            problems.append(("collections", f"names collection {name!r}, which is not in team {team!r}"))
    if problems:
        raise InvalidFields("the template " + "; ".join(what for _, what in problems), problems)


def usable(
    services: Services, principal: Principal, template_id: str, version: int | None = None
) -> QuestionTemplate:
    """A template to ask with: a retired one answers only when a version is named."""
    template = get(services, principal, template_id, version)
    if template.retired and version is None:
        raise NotFound(f"template {template_id!r} is retired")
    return template


def rendered(
    services: Services,
    principal: Principal,
    template_id: str,
    values: Mapping[str, Any],
    version: int | None = None,
) -> tuple[QuestionTemplate, RenderedQuestion]:
    template = usable(services, principal, template_id, version)
    return template, render(template, values)


def filters_with(given: Filters, rendered: RenderedQuestion) -> Filters:
    """The template's filters, each replaced by the request's own where it sets one."""
    derived: dict[str, Any] = {}
    for key, value in rendered.filters.items():
        if isinstance(value, str):
            derived[key] = datetime.fromisoformat(value).replace(tzinfo=UTC)
        else:
            derived[key] = list(value)
    try:
        return Filters.model_validate(derived | given.model_dump(exclude_unset=True, exclude_defaults=True))
    except ValidationError as exc:
        problems = [(".".join(["filters", *map(str, e["loc"])]), e["msg"]) for e in exc.errors()]
        raise InvalidFields(
            "the template's filters are not usable: " + str(problems[0][1]), problems
        ) from exc
