"""A question template's fields as Streamlit widgets, and the values they give back as JSON."""

from __future__ import annotations

import datetime as dt
from typing import Any

import streamlit as st

from ui.client import Json


def _index(options: list[str], default: Any, required: bool) -> int | None:
    if default in options:
        return options.index(default)
    return 0 if required and options else None


def _date(default: Any) -> dt.date | None:
    if isinstance(default, str) and default:
        try:
            return dt.date.fromisoformat(default[:10])
        except ValueError:
            return None
    return None


def field_widget(field: Json, key: str) -> Any:
    """One field, drawn by its kind; returns a JSON-ready value (None when left empty)."""
    kind = field.get("kind", "text")
    label = str(field.get("label") or field["name"])
    if field.get("required"):
        label += " *"
    options = [str(o) for o in field.get("options") or []]
    default = field.get("default")
    required = bool(field.get("required"))
    help_text = field.get("help") or None
    if kind == "select":
        return st.selectbox(label, options, index=_index(options, default, required), key=key, help=help_text)
    if kind == "radio":
        return st.radio(
            label, options, index=_index(options, default, required), key=key, help=help_text, horizontal=True
        )
    if kind == "multiselect":
        chosen = default if isinstance(default, list) else ([default] if default in options else [])
        return st.multiselect(
            label, options, default=[c for c in chosen if c in options], key=key, help=help_text
        )
    if kind == "number":
        value = default if isinstance(default, int | float) and not isinstance(default, bool) else None
        return st.number_input(label, value=value, key=key, help=help_text)
    if kind == "date":
        picked = st.date_input(label, value=_date(default), key=key, help=help_text)
        return picked.isoformat() if isinstance(picked, dt.date) else None
    text = st.text_input(label, value=str(default or ""), key=key, help=help_text)
    return text.strip() or None


def missing(fields: list[Json], values: dict[str, Any]) -> list[str]:
    """Labels of required fields left empty, to say which ones before asking the API."""
    return [
        str(f.get("label") or f["name"])
        for f in fields
        if f.get("required") and values.get(f["name"]) in (None, "", [])
    ]


def template_form(template: Json) -> dict[str, Any] | None:
    """The template's form; its values once submitted and complete, else None."""
    fields: list[Json] = list(template.get("fields") or [])
    prefix = f"tpl-{template['id']}-{template.get('version', 1)}"
    with st.form(prefix):
        values = {f["name"]: field_widget(f, f"{prefix}-{f['name']}") for f in fields}
        submitted = st.form_submit_button("Ask", type="primary")
    if not submitted:
        return None
    gaps = missing(fields, values)
    if gaps:
        st.error("Please fill in: " + ", ".join(gaps))
        return None
    return values
