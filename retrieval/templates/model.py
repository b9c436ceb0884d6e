"""What a question template is: its fields, its patterns, its answer options, and the limits
that checking (``validation``) and rendering (``rendering``) hold it to."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from core.errors import InvalidFields
from retrieval.templates.answer_shape import AnswerOptions

FIELD_KINDS = ("select", "multiselect", "radio", "text", "number", "date")
CHOICE_KINDS = ("select", "multiselect", "radio")
LIST_FILTERS = ("tags", "media_types", "document_ids")  # each a list of patterns
DATE_FILTERS = ("ingested_after", "ingested_before")  # each one pattern rendering YYYY-MM-DD
PROPERTIES = (
    "id",
    "team",
    "title",
    "description",
    "audience",
    "collections",
    "fields",
    "question",
    "filters",
    "answer",
)
READ_ONLY = ("version", "retired", "updated_by", "updated_at")  # set by the catalog, ignored here
FIELD_PROPERTIES = ("name", "label", "kind", "options", "default", "required", "help")

MAX_QUESTION_CHARS = 2000
MAX_TEXT_VALUE_CHARS = 300
MAX_FIELDS = 20
MAX_OPTIONS = 100
MAX_TEAM_CHARS = 128


@dataclass(frozen=True, slots=True)
class TemplateField:
    name: str
    label: str
    kind: str
    options: tuple[str, ...] = ()
    default: str | float | tuple[str, ...] | None = None
    required: bool = False
    help: str = ""

    def as_dict(self) -> dict[str, Any]:
        default = list(self.default) if isinstance(self.default, tuple) else self.default
        return {
            "name": self.name,
            "label": self.label,
            "kind": self.kind,
            "options": list(self.options),
            "default": default,
            "required": self.required,
            "help": self.help,
        }


@dataclass(frozen=True, slots=True)
class QuestionTemplate:
    """One version of a template. ``body()`` is what the catalog stores for that version; the team
    is not part of it (the catalog keeps it beside the versions, like ``retired``)."""

    id: str
    title: str
    question: str
    fields: tuple[TemplateField, ...]
    team: str | None = None  # the team it belongs to; None: global (every team, changed by admins)
    description: str = ""
    audience: tuple[str, ...] = ()  # roles or teams; empty: everyone
    collections: tuple[str, ...] = ()  # where it asks by default; empty: every visible collection
    filters: tuple[tuple[str, tuple[str, ...]], ...] = ()
    answer: AnswerOptions = field(default_factory=AnswerOptions)
    version: int = 1
    retired: bool = False
    updated_by: str | None = None
    updated_at: datetime | None = None

    def body(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "description": self.description,
            "audience": list(self.audience),
            "collections": list(self.collections),
            "fields": [f.as_dict() for f in self.fields],
            "question": self.question,
            "filters": {key: list(patterns) for key, patterns in self.filters},
            "answer": {"length": self.answer.length, "style": self.answer.style}
            | ({"shape": self.answer.shape} if self.answer.shape else {}),
        }

    def offered_to(self, role: str, teams: Sequence[str]) -> bool:
        return not self.audience or role in self.audience or any(t in self.audience for t in teams)


@dataclass(frozen=True, slots=True)
class RenderedQuestion:
    question: str
    values: Mapping[str, Any]  # the checked values, defaults filled in
    filters: Mapping[str, list[str] | str]  # LIST_FILTERS -> values, DATE_FILTERS -> YYYY-MM-DD
    answer: AnswerOptions


class Problems:
    """Every problem found, each with where it is; raised together as ``InvalidFields``."""

    def __init__(self) -> None:
        self.found: list[tuple[str, str]] = []

    def add(self, where: str, what: str) -> None:
        self.found.append((where, what))

    def raise_if_any(self, subject: str) -> None:
        if not self.found:
            return
        count = len(self.found)
        listed = "; ".join(f"{where}: {what}" for where, what in self.found)
        noun = "problem" if count == 1 else "problems"
        raise InvalidFields(f"{subject} has {count} {noun}: {listed}", self.found)
