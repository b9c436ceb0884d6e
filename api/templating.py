"""Question templates for a caller: which ones they are offered, and a template turned into a
question, its collections and filters."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from api.schemas import Filters
from api.services import Services
from core.access import Action, Principal
from core.catalog.templates import StoredTemplate
from core.errors import InvalidFields, NotFound
from retrieval.templates import QuestionTemplate, RenderedQuestion, from_record, render

log = logging.getLogger(__name__)


def _template(stored: StoredTemplate) -> QuestionTemplate:
    return from_record(
        stored.body,
        version=stored.version,
        retired=stored.retired,
        updated_by=stored.updated_by,
        updated_at=stored.updated_at,
    )


def manages(principal: Principal) -> bool:
    return principal.may(Action.MANAGE_TEMPLATES)


def offered(
    services: Services, principal: Principal, *, include_retired: bool = False
) -> list[QuestionTemplate]:
    """The latest version of each template this caller's role or teams are its audience for."""
    principal.require(Action.READ)
    found = []
    for stored in services.templates.latest(include_retired=include_retired):
        try:
            template = _template(stored)
        except InvalidFields as exc:  # stored before a stricter check: never offered, never run
            log.error(
                "template %s version %d no longer passes its checks: %s", stored.id, stored.version, exc
            )
            continue
        if manages(principal) or template.offered_to(principal.role.value, principal.teams):
            found.append(template)
    return found


def get(
    services: Services, principal: Principal, template_id: str, version: int | None = None
) -> QuestionTemplate:
    principal.require(Action.READ)
    template = _template(services.templates.get(template_id, version))
    if not (manages(principal) or template.offered_to(principal.role.value, principal.teams)):
        raise NotFound(f"no template {template_id!r}")
    return template


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
