"""The sandbox question templates render in, and the check that runs before it.

Patterns render in Jinja2's ``SandboxedEnvironment`` with ``StrictUndefined``. Before that, a
pattern is parsed and refused if it uses anything a question never needs (attribute access,
calls, arithmetic, include/import, assignments, macros, nested loops, filters outside a short
text-only list): the sandbox stays the second line of defence, not the only one.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateError, TemplateSyntaxError, meta, nodes
from jinja2.sandbox import SandboxedEnvironment

MAX_PATTERN_CHARS = 2000

# Filters that only reshape text. Everything else (attribute access, calls, arithmetic, imports,
# macros, assignments) is refused before the sandbox ever sees it.
SAFE_FILTERS = frozenset(
    {
        "capitalize",
        "count",
        "d",
        "default",
        "first",
        "float",
        "int",
        "join",
        "last",
        "length",
        "lower",
        "replace",
        "round",
        "sort",
        "string",
        "title",
        "trim",
        "truncate",
        "unique",
        "upper",
    }
)
_SAFE_NODES: tuple[type[nodes.Node], ...] = (
    nodes.Template,
    nodes.Output,
    nodes.TemplateData,
    nodes.Name,
    nodes.Const,
    nodes.If,
    nodes.For,
    nodes.Filter,
    nodes.Test,
    nodes.Compare,
    nodes.Operand,
    nodes.And,
    nodes.Or,
    nodes.Not,
    nodes.Neg,
    nodes.Concat,
    nodes.CondExpr,
    nodes.List,
    nodes.Tuple,
    nodes.Keyword,
    nodes.Getitem,
    nodes.Getattr,
)
# What a filter given the wrong kind of value raises (``round`` on a text, ``join`` on a number).
RENDER_ERRORS = (TemplateError, TypeError, ValueError, ArithmeticError, LookupError)
_LOOP_ATTRS = frozenset({"index", "index0", "first", "last", "length", "revindex", "revindex0"})
_NODE_NAMES = {
    "Call": "calling a function",
    "Include": "{% include %}",
    "Import": "{% import %}",
    "FromImport": "{% from … import %}",
    "Extends": "{% extends %}",
    "Block": "{% block %}",
    "Macro": "{% macro %}",
    "CallBlock": "{% call %}",
    "Assign": "{% set %}",
    "AssignBlock": "{% set %}",
    "With": "{% with %}",
    "FilterBlock": "{% filter %}",
    "Scope": "a scope block",
    "ScopedEvalContextModifier": "{% autoescape %}",
    "Add": "arithmetic (+)",
    "Sub": "arithmetic (-)",
    "Mul": "arithmetic (*)",
    "Div": "arithmetic (/)",
    "FloorDiv": "arithmetic (//)",
    "Mod": "arithmetic (%)",
    "Pow": "arithmetic (**)",
    "Dict": "a dict literal",
    "Slice": "slicing",
}


def environment() -> SandboxedEnvironment:
    return SandboxedEnvironment(
        undefined=StrictUndefined, autoescape=False, trim_blocks=True, lstrip_blocks=True
    )


_ENV = environment()


def pattern_problems(pattern: str, names: set[str]) -> list[str]:
    """What is wrong with a pattern over these field names: syntax, unsafe constructs, unknown names."""
    if len(pattern) > MAX_PATTERN_CHARS:
        return [f"is {len(pattern)} characters long; the limit is {MAX_PATTERN_CHARS}"]
    try:
        tree = _ENV.parse(pattern)
    except TemplateSyntaxError as exc:
        return [f"Jinja syntax error on line {exc.lineno}: {exc.message}"]
    problems = list(_unsafe(tree))
    known = ", ".join(sorted(names)) or "none"
    for name in sorted(meta.find_undeclared_variables(tree) - names - {"loop"}):
        problems.append(f"refers to {name!r}, which is not a field of this template (fields: {known})")
    return problems


def render_pattern(pattern: str, values: Mapping[str, Any]) -> str:
    """Raises one of ``RENDER_ERRORS`` when the values do not fit the pattern."""
    return _compiled(pattern).render(values)


@lru_cache(maxsize=1024)
def _compiled(pattern: str) -> Template:
    return _ENV.from_string(pattern)


def _unsafe(tree: nodes.Template) -> Iterator[str]:
    reported: set[str] = set()

    def walk(node: nodes.Node, loops: int) -> Iterator[str]:
        name = type(node).__name__
        if not isinstance(node, _SAFE_NODES):
            what = _NODE_NAMES.get(name, name)
            if what not in reported:
                reported.add(what)
                yield f"{what} is not allowed in a template"
            return
        if isinstance(node, nodes.Getattr) and not (
            isinstance(node.node, nodes.Name) and node.node.name == "loop" and node.attr in _LOOP_ATTRS
        ):
            what = f"attribute access ('.{node.attr}')"
            if what not in reported:
                reported.add(what)
                yield f"{what} is not allowed in a template; only loop.index and the like"
            return
        if isinstance(node, nodes.Getitem) and not isinstance(node.arg, nodes.Const | nodes.Neg):
            yield "indexing is allowed with a number only, as in {{ products[0] }}"
            return
        if isinstance(node, nodes.Filter) and node.name not in SAFE_FILTERS:
            yield f"the filter {node.name!r} is not allowed; use {', '.join(sorted(SAFE_FILTERS))}"
            return
        if isinstance(node, nodes.For):
            if loops >= 1:
                yield "loops inside loops are not allowed in a template"
                return
            loops += 1
        for child in node.iter_child_nodes():
            yield from walk(child, loops)

    return walk(tree, 0)
