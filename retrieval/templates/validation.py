"""Checking a template completely: ``parse_template`` names every problem it finds (unknown field
kinds, choices without options, a pattern that refers to no field, Jinja syntax errors, constructs
a sandbox should never have to stop). Also the shipped set, loaded and checked the same way."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import replace
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from core.errors import InvalidFields
from retrieval.templates.answer_shape import LENGTHS, SHAPES, STYLES, AnswerOptions
from retrieval.templates.model import (
    CHOICE_KINDS,
    DATE_FILTERS,
    FIELD_KINDS,
    FIELD_PROPERTIES,
    LIST_FILTERS,
    MAX_FIELDS,
    MAX_OPTIONS,
    MAX_TEAM_CHARS,
    PROPERTIES,
    READ_ONLY,
    Problems,
    QuestionTemplate,
    TemplateField,
)
from retrieval.templates.rendering import coerce
from retrieval.templates.sandbox import RENDER_ERRORS, pattern_problems, render_pattern

FOLDER = Path(__file__).resolve().parent.parent / "question_templates"

_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


def parse_template(data: Mapping[str, Any], *, source: str = "the template") -> QuestionTemplate:
    """A checked template, or ``InvalidFields`` naming every problem found in ``data``."""
    problems = Problems()
    if not isinstance(data, Mapping):
        problems.add("template", "must be a mapping of properties")
        problems.raise_if_any(source)
    for key in data:
        if key not in PROPERTIES and key not in READ_ONLY:
            problems.add(str(key), f"is not a template property (use {', '.join(PROPERTIES)})")

    template_id = data.get("id")
    if not isinstance(template_id, str) or not _ID.match(template_id):
        problems.add(
            "id", "must be 1-64 lowercase letters, digits, '-' or '_', starting with a letter or digit"
        )
    team = _team(problems, data.get("team"))
    title = _text(problems, data, "title", required=True, limit=200)
    description = _text(problems, data, "description", limit=2000)
    audience = _names(problems, data, "audience")
    collections = _names(problems, data, "collections")
    names: set[str] = set()
    fields = _fields(problems, data.get("fields"), names)

    question = data.get("question")
    if not isinstance(question, str) or not question.strip():
        problems.add("question", "a question pattern is required")
        question = ""
    else:
        _check_pattern(problems, "question", question, names)
    filters = _filters(problems, data.get("filters"), names)
    answer = _answer(problems, data.get("answer"))
    problems.raise_if_any(source)

    template = QuestionTemplate(
        id=str(template_id),
        team=team,
        title=title,
        description=description,
        audience=audience,
        collections=collections,
        fields=fields,
        question=question,
        filters=filters,
        answer=answer,
    )
    _check_renders(template, source)
    return template


def _text(
    problems: Problems, data: Mapping[str, Any], key: str, *, required: bool = False, limit: int
) -> str:
    value = data.get(key)
    if value is None:
        if required:
            problems.add(key, "is required")
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        problems.add(key, "must be a non-empty text" if required else "must be a text")
        return ""
    if len(value) > limit:
        problems.add(key, f"is {len(value)} characters long; the limit is {limit}")
    return value.strip()


def _team(problems: Problems, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_TEAM_CHARS:
        problems.add("team", f"must be a team name of 1-{MAX_TEAM_CHARS} characters, or left out (global)")
        return None
    return value.strip()


def _names(problems: Problems, data: Mapping[str, Any], key: str) -> tuple[str, ...]:
    value = data.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        problems.add(key, "must be a list of names")
        return ()
    return tuple(dict.fromkeys(v.strip() for v in value))


def _fields(problems: Problems, raw: Any, seen: set[str]) -> tuple[TemplateField, ...]:
    """The fields that pass; ``seen`` gathers every well-formed name, so a field with a wrong
    kind is reported once, not again by the patterns that refer to it."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        problems.add("fields", "must be a list of fields")
        return ()
    if len(raw) > MAX_FIELDS:
        problems.add("fields", f"has {len(raw)} fields; the limit is {MAX_FIELDS}")
    found: list[TemplateField] = []
    for n, item in enumerate(raw):
        where = f"fields[{n}]"
        if not isinstance(item, Mapping):
            problems.add(where, "must be a mapping with name, label and kind")
            continue
        name = item.get("name")
        if isinstance(name, str) and _NAME.match(name):
            where = f"fields[{n}] {name!r}"
            if name in seen:
                problems.add(where, "is defined twice")
            seen.add(name)
        else:
            problems.add(where, "needs a name of lowercase letters, digits and '_' starting with a letter")
            name = f"field{n}"
        for key in item:
            if key not in FIELD_PROPERTIES:
                problems.add(where, f"{key!r} is not a field property (use {', '.join(FIELD_PROPERTIES)})")
        kind = item.get("kind")
        if kind not in FIELD_KINDS:
            problems.add(where, f"unknown field kind {kind!r}; use one of {', '.join(FIELD_KINDS)}")
            continue
        label = item.get("label") or name.replace("_", " ").capitalize()
        help_text = item.get("help") or ""
        if not isinstance(label, str) or not isinstance(help_text, str):
            problems.add(where, "label and help must be texts")
            continue
        required = item.get("required", False)
        if not isinstance(required, bool):
            problems.add(where, "required must be true or false")
            required = False
        options = _options(problems, where, kind, item.get("options"))
        default = _default(problems, where, kind, options, item.get("default"))
        found.append(TemplateField(name, label, kind, options, default, required, help_text))
    return tuple(found)


def _options(problems: Problems, where: str, kind: str, raw: Any) -> tuple[str, ...]:
    if kind not in CHOICE_KINDS:
        if raw:
            problems.add(where, f"a {kind} field takes no options")
        return ()
    if not raw:
        problems.add(where, f"a {kind} field needs options to choose from")
        return ()
    if not isinstance(raw, list) or not all(isinstance(o, str | int | float) for o in raw):
        problems.add(where, "options must be a list of texts")
        return ()
    options = tuple(str(o) for o in raw)
    if len(options) > MAX_OPTIONS:
        problems.add(where, f"has {len(options)} options; the limit is {MAX_OPTIONS}")
    if len(set(options)) != len(options):
        problems.add(where, "lists an option twice")
    return options


def _default(
    problems: Problems, where: str, kind: str, options: tuple[str, ...], raw: Any
) -> str | float | tuple[str, ...] | None:
    if raw is None or raw == "" or raw == []:
        return None
    try:
        value = coerce(kind, options, raw)
    except ValueError as exc:
        problems.add(where, f"default {raw!r}: {exc}")
        return None
    return tuple(value) if isinstance(value, list) else value


def _filters(problems: Problems, raw: Any, names: set[str]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    if raw is None:
        return ()
    if not isinstance(raw, Mapping):
        problems.add("filters", "must be a mapping such as {tags: ['{{ product }}']}")
        return ()
    found = []
    for key, patterns in raw.items():
        where = f"filters.{key}"
        if key in DATE_FILTERS:
            patterns = [patterns] if isinstance(patterns, str) else patterns
            if not (isinstance(patterns, list) and len(patterns) == 1):
                problems.add(where, "takes one pattern that renders a date (YYYY-MM-DD)")
                continue
        elif key not in LIST_FILTERS:
            problems.add(where, f"unknown filter; use {', '.join(LIST_FILTERS + DATE_FILTERS)}")
            continue
        if isinstance(patterns, str):
            patterns = [patterns]
        if not isinstance(patterns, list) or not all(isinstance(p, str) for p in patterns):
            problems.add(where, "must be a list of patterns")
            continue
        for n, pattern in enumerate(patterns):
            _check_pattern(problems, f"{where}[{n}]", pattern, names)
        found.append((str(key), tuple(patterns)))
    return tuple(found)


def _answer(problems: Problems, raw: Any) -> AnswerOptions:
    if raw is None:
        return AnswerOptions()
    if not isinstance(raw, Mapping):
        problems.add("answer", "must be a mapping with length and style")
        return AnswerOptions()
    length, style = raw.get("length", "medium"), raw.get("style", "prose")
    shape = raw.get("shape", "")
    for key in raw:
        if key not in ("length", "style", "shape"):
            problems.add(f"answer.{key}", "is not an answer option (use length, style, shape)")
    if shape not in SHAPES:
        problems.add("answer.shape", f"{shape!r} is not one of {', '.join(s for s in SHAPES if s)}")
    if length not in LENGTHS:
        problems.add("answer.length", f"{length!r} is not one of {', '.join(LENGTHS)}")
    if style not in STYLES:
        problems.add("answer.style", f"{style!r} is not one of {', '.join(STYLES)}")
    return AnswerOptions(str(length), str(style), str(shape))


def _check_pattern(problems: Problems, where: str, pattern: str, names: set[str]) -> None:
    for problem in pattern_problems(pattern, names):
        problems.add(where, problem)


def _check_renders(template: QuestionTemplate, source: str) -> None:
    """Render once with example values: a pattern that fails at run time is a template problem."""
    sample: dict[str, Any] = {}
    for f in template.fields:
        if f.default is not None:
            sample[f.name] = list(f.default) if isinstance(f.default, tuple) else f.default
        elif f.kind in CHOICE_KINDS:
            sample[f.name] = [f.options[0]] if f.kind == "multiselect" else f.options[0]
        else:
            sample[f.name] = {"text": "example", "number": 1, "date": date.today().isoformat()}[f.kind]
    problems = Problems()
    for where, pattern in _patterns(template):
        try:
            render_pattern(pattern, sample)
        except RENDER_ERRORS as exc:
            problems.add(where, f"does not render with example values: {exc}")
    problems.raise_if_any(source)


def _patterns(template: QuestionTemplate) -> Iterator[tuple[str, str]]:
    yield "question", template.question
    for key, patterns in template.filters:
        for n, pattern in enumerate(patterns):
            yield f"filters.{key}[{n}]", pattern


def load_yaml(path: Path) -> QuestionTemplate:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise InvalidFields(f"{path.name} is not valid YAML: {exc}", [("file", str(exc))]) from exc
    return parse_template(data, source=path.name)


@cache
def shipped() -> tuple[QuestionTemplate, ...]:
    """The starter templates shipped with Sourcebook, seeded into the catalog at start."""
    return tuple(load_yaml(path) for path in sorted(FOLDER.glob("*.yaml")))


def from_record(
    body: Mapping[str, Any],
    *,
    version: int,
    retired: bool,
    updated_by: str | None,
    updated_at: datetime | None,
    team: str | None = None,
) -> QuestionTemplate:
    """A stored version, checked again (a template that no longer passes is refused, not run)."""
    template = parse_template(body, source=f"template {body.get('id')!r} version {version}")
    return replace(
        template, team=team, version=version, retired=retired, updated_by=updated_by, updated_at=updated_at
    )
