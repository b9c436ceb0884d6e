"""Rendering a template: the values a person chose are checked against its fields, then the
question and the retrieval filters render in the sandbox (``sandbox``)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from typing import Any

from retrieval.templates.model import (
    DATE_FILTERS,
    MAX_QUESTION_CHARS,
    MAX_TEXT_VALUE_CHARS,
    Problems,
    QuestionTemplate,
    RenderedQuestion,
)
from retrieval.templates.sandbox import RENDER_ERRORS, render_pattern

_SINGLE_NAME = re.compile(r"^\{\{\s*([a-z][a-z0-9_]*)\s*\}\}$")
_SPACE = re.compile(r"[ \t]+")


def coerce(kind: str, options: tuple[str, ...], raw: Any) -> Any:
    """One value in the form its field kind takes, or ``ValueError`` saying what is wrong."""
    if kind in ("select", "radio"):
        value = str(raw) if isinstance(raw, str | int | float) and not isinstance(raw, bool) else None
        if value not in options:
            raise ValueError(f"is not one of the options ({', '.join(options)})")
        return value
    if kind == "multiselect":
        items = [raw] if isinstance(raw, str) else raw
        if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
            raise ValueError("must be a list of options")
        wrong = [i for i in items if i not in options]
        if wrong:
            raise ValueError(f"{', '.join(map(repr, wrong))} not among the options ({', '.join(options)})")
        return list(dict.fromkeys(items))
    if kind == "number":
        if isinstance(raw, bool):
            raise ValueError("must be a number")
        try:
            number = float(raw)
        except (TypeError, ValueError):
            raise ValueError("must be a number") from None
        if number != number or number in (float("inf"), float("-inf")):
            raise ValueError("must be a finite number")
        return int(number) if number.is_integer() else number
    if kind == "date":
        try:
            return date.fromisoformat(str(raw)).isoformat()
        except ValueError:
            raise ValueError("must be a date written YYYY-MM-DD") from None
    if not isinstance(raw, str | int | float) or isinstance(raw, bool):
        raise ValueError("must be a text")
    text = " ".join(str(raw).split())
    if len(text) > MAX_TEXT_VALUE_CHARS:
        raise ValueError(f"is {len(text)} characters long; the limit is {MAX_TEXT_VALUE_CHARS}")
    return text


def check_values(template: QuestionTemplate, values: Mapping[str, Any]) -> dict[str, Any]:
    """The values to render with: checked against each field, defaults filled in."""
    problems = Problems()
    names = [f.name for f in template.fields]
    for name in values:
        if name not in names:
            problems.add(
                f"values.{name}",
                f"is not a field of template {template.id!r} (its fields: {', '.join(names) or 'none'})",
            )
    checked: dict[str, Any] = {}
    for f in template.fields:
        raw = values.get(f.name)
        if raw is None or raw == "" or raw == []:
            raw = list(f.default) if isinstance(f.default, tuple) else f.default
        if raw is None or raw == "" or raw == []:
            if f.required:
                problems.add(f"values.{f.name}", f"{f.label} is required")
            checked[f.name] = [] if f.kind == "multiselect" else ""
            continue
        try:
            checked[f.name] = coerce(f.kind, f.options, raw)
        except ValueError as exc:
            problems.add(f"values.{f.name}", f"{f.label}: {raw!r} {exc}")
    problems.raise_if_any(f"the form of template {template.id!r}")
    return checked


def render(template: QuestionTemplate, values: Mapping[str, Any]) -> RenderedQuestion:
    checked = check_values(template, values)
    problems = Problems()
    question = ""
    try:
        question = _tidy(render_pattern(template.question, checked))
    except RENDER_ERRORS as exc:
        problems.add("question", f"could not be rendered: {exc}")
    if not problems.found and not question:
        problems.add("question", "renders empty with these values")
    if len(question) > MAX_QUESTION_CHARS:
        problems.add("question", f"renders {len(question)} characters; the limit is {MAX_QUESTION_CHARS}")
    filters: dict[str, list[str] | str] = {}
    for key, patterns in template.filters:
        rendered: list[str] = []
        for n, pattern in enumerate(patterns):
            single = _SINGLE_NAME.match(pattern.strip())
            value = checked.get(single.group(1)) if single else None
            if isinstance(value, list):  # a multiselect: each choice is one filter value
                rendered += [str(v) for v in value]
                continue
            try:
                text = _tidy(render_pattern(pattern, checked))
            except RENDER_ERRORS as exc:
                problems.add(f"filters.{key}[{n}]", f"could not be rendered: {exc}")
                continue
            if text:
                rendered.append(text)
        if key in DATE_FILTERS:
            if rendered:
                try:
                    filters[key] = date.fromisoformat(rendered[0]).isoformat()
                except ValueError:
                    problems.add(
                        f"filters.{key}", f"rendered {rendered[0]!r}, which is not a YYYY-MM-DD date"
                    )
        elif rendered:
            filters[key] = list(dict.fromkeys(rendered))
    problems.raise_if_any(f"template {template.id!r}")
    return RenderedQuestion(question, checked, filters, template.answer)


def _tidy(text: str) -> str:
    return "\n".join(line for line in (_SPACE.sub(" ", ln).strip() for ln in text.splitlines()) if line)
