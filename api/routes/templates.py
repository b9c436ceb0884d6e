"""Question templates: list, read, create, change (a new version), retire, render."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from api import templating
from api.deps import PrincipalDep, ServicesDep
from core.access import Action
from core.errors import InvalidFields
from retrieval.templates import QuestionTemplate, parse_template, render

router = APIRouter(prefix="/v1/templates", tags=["templates"])

MAX_VERSION = 1_000_000


class FieldIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(max_length=40)
    label: str = Field("", max_length=200)
    kind: str = Field(description="select, multiselect, radio, text, number or date.", max_length=20)
    options: list[str | int | float] = Field(default_factory=list, max_length=100)
    default: Any = None
    required: bool = False
    help: str = Field("", max_length=500)


class AnswerOptionsIO(BaseModel):
    model_config = ConfigDict(extra="forbid")

    length: Literal["short", "medium", "long"] = "medium"
    style: Literal["prose", "bullets"] = "prose"
    shape: Literal["", "lookup", "steps", "compare"] = Field(
        "", description="What evidence the answer wants: a table row, steps, a per-entity comparison."
    )


class TemplateIn(BaseModel):
    """A template as a knowledge manager writes it. Version, retired and the update stamp are
    set by Sourcebook; they are accepted (so a TemplateOut can be sent back) and ignored."""

    model_config = ConfigDict(extra="forbid")

    id: str | None = Field(None, max_length=64, description="Required to create; optional to change.")
    team: str | None = Field(
        None,
        max_length=128,
        description="The team it belongs to, set when it is created: one of yours (default: your only "
        "team); left out by an admin, a global template offered to every team.",
    )
    title: str = Field(max_length=200)
    description: str = Field("", max_length=2000)
    audience: list[str] = Field(
        default_factory=list, max_length=50, description="Roles or teams; empty: all."
    )
    collections: list[str] = Field(
        default_factory=list, max_length=50, description="Empty: every visible one."
    )
    fields: list[FieldIn] = Field(default_factory=list, max_length=20)
    question: str = Field(max_length=2000, description="A Jinja pattern over the field names.")
    filters: dict[str, list[str] | str] = Field(
        default_factory=dict, description="tags, media_types, document_ids: patterns; ingested_after/before."
    )
    answer: AnswerOptionsIO = Field(default_factory=AnswerOptionsIO)
    version: int | None = None
    retired: bool | None = None
    updated_by: str | None = None
    updated_at: datetime | None = None


class FieldOut(BaseModel):
    name: str
    label: str
    kind: str
    options: list[str]
    default: Any
    required: bool
    help: str


class TemplateOut(BaseModel):
    id: str
    team: str | None = Field(description="The team it belongs to; null: global.")
    version: int
    title: str
    description: str
    audience: list[str]
    collections: list[str]
    fields: list[FieldOut]
    question: str
    filters: dict[str, list[str]]
    answer: AnswerOptionsIO
    retired: bool
    updated_by: str | None
    updated_at: datetime | None

    @classmethod
    def of(cls, t: QuestionTemplate) -> TemplateOut:
        body = t.body()
        return cls(
            **body,
            team=t.team,
            version=t.version,
            retired=t.retired,
            updated_by=t.updated_by,
            updated_at=t.updated_at,
        )


class RenderBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    values: dict[str, Any] = Field(default_factory=dict, max_length=20)
    version: int | None = Field(None, ge=1, le=MAX_VERSION)


class RenderOut(BaseModel):
    question: str
    filters: dict[str, list[str] | str]
    answer_options: AnswerOptionsIO
    template: dict[str, Any] = Field(description="{id, version} it was rendered from.")


def _checked(body: TemplateIn, template_id: str | None = None) -> QuestionTemplate:
    data = body.model_dump(exclude={"version", "retired", "updated_by", "updated_at"})
    if template_id is not None:
        if data["id"] not in (None, template_id):
            raise InvalidFields(
                f"the body names template {data['id']!r} but the path {template_id!r}",
                [("id", f"must be {template_id!r} (the template in the path) or left out")],
            )
        data["id"] = template_id
    return parse_template(data)


@router.get("")
def list_templates(
    services: ServicesDep, principal: PrincipalDep, include_retired: bool = False
) -> list[TemplateOut]:
    """The latest version of each template offered to you: your teams' and the global ones whose
    collections you all see (template managers: regardless of audience)."""
    return [
        TemplateOut.of(t) for t in templating.offered(services, principal, include_retired=include_retired)
    ]


@router.get("/{template_id}")
def get_template(
    template_id: str,
    services: ServicesDep,
    principal: PrincipalDep,
    version: Annotated[int | None, Query(ge=1, le=MAX_VERSION)] = None,
) -> TemplateOut:
    """One template: its latest version, or the version named."""
    return TemplateOut.of(templating.get(services, principal, template_id, version))


@router.post("", status_code=201)
def create_template(body: TemplateIn, services: ServicesDep, principal: PrincipalDep) -> TemplateOut:
    """Create a template (admins and knowledge managers) for one of your teams, or a global one
    (admins); it starts at version 1."""
    principal.require(Action.MANAGE_TEMPLATES)
    if body.id is None:
        raise InvalidFields("a new template needs an id", [("id", "is required to create a template")])
    template = _checked(body)
    team = templating.owner(principal, template.team)
    templating.check_collections(services, principal, template, team)
    services.templates.create(template.body(), team, principal.user)
    return TemplateOut.of(templating.get(services, principal, template.id))


@router.put("/{template_id}")
def update_template(
    template_id: str, body: TemplateIn, services: ServicesDep, principal: PrincipalDep
) -> TemplateOut:
    """Change a template of your team (admins: any): the change is its next version; answers keep
    the version they used. Its team stays the one it was created with."""
    current = templating.changeable(services, principal, template_id)
    template = _checked(body, template_id)
    if template.team not in (None, current.team):
        raise InvalidFields(
            "a template's team is set when it is created",
            [("team", f"must be {current.team!r} (the template's team) or left out")],
        )
    templating.check_collections(services, principal, template, current.team)
    services.templates.update(template_id, template.body(), principal.user)
    return TemplateOut.of(templating.get(services, principal, template_id))


@router.delete("/{template_id}", status_code=204)
def retire_template(template_id: str, services: ServicesDep, principal: PrincipalDep) -> Response:
    """Retire a template of your team (admins: any): no longer offered; every version is kept
    (PUT brings it back)."""
    templating.changeable(services, principal, template_id)
    services.templates.retire(template_id, principal.user)
    return Response(status_code=204)


@router.post("/{template_id}/render")
def render_template(
    template_id: str, body: RenderBody, services: ServicesDep, principal: PrincipalDep
) -> RenderOut:
    """The question and filters a form's values make, without asking it (422 names each bad value)."""
    template = templating.usable(services, principal, template_id, body.version)
    rendered = render(template, body.values)
    return RenderOut(
        question=rendered.question,
        filters=dict(rendered.filters),
        answer_options=AnswerOptionsIO(length=rendered.answer.length, style=rendered.answer.style),
        template={"id": template.id, "version": template.version},
    )
