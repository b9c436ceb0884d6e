"""Question templates: bad templates are refused with clear messages; values are checked; the
sandbox renders questions and filters; answer options shape the answer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from core.domain import Answer, Citation
from core.errors import InvalidFields
from retrieval.templates import AnswerOptions, load_yaml, parse_template, render, shape_answer, shipped


def _template(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": "error-code",
        "title": "Troubleshoot an error code",
        "fields": [
            {
                "name": "product",
                "label": "Product",
                "kind": "select",
                "options": ["T100", "T200"],
                "required": True,
            },
            {"name": "code", "label": "Error code", "kind": "text", "required": True},
            {"name": "extras", "kind": "multiselect", "options": ["wifi", "power"]},
            {"name": "units", "kind": "number", "default": 1},
            {"name": "since", "kind": "date"},
        ],
        "question": "What does {{ code }} mean on the {{ product }}?{% if extras %} ({{ extras | join(', ') }}){% endif %}",
        "filters": {"tags": ["{{ product }}", "{{ extras }}"], "ingested_after": "{{ since }}"},
        "answer": {"length": "short", "style": "bullets"},
    }
    return body | changes


def _problems(data: dict[str, Any]) -> list[tuple[str, str]]:
    with pytest.raises(InvalidFields) as caught:
        parse_template(data)
    return list(caught.value.problems)


def test_a_good_template_renders_its_question_and_filters() -> None:
    template = parse_template(_template())
    rendered = render(
        template, {"product": "T200", "code": " E-104 ", "extras": ["power"], "since": "2024-05-01"}
    )
    assert rendered.question == "What does E-104 mean on the T200? (power)"
    assert rendered.filters == {"tags": ["T200", "power"], "ingested_after": "2024-05-01"}
    assert rendered.values["units"] == 1  # the default filled in
    assert rendered.answer == AnswerOptions("short", "bullets")
    # An optional value left out drops its filter instead of filtering on an empty tag.
    bare = render(template, {"product": "T100", "code": "E-101"})
    assert bare.filters == {"tags": ["T100"]} and bare.question == "What does E-101 mean on the T100?"


def test_unknown_field_kind_and_missing_options_are_named() -> None:
    problems = _problems(
        _template(
            fields=[
                {"name": "product", "kind": "dropdown", "options": ["a"]},
                {"name": "code", "kind": "select"},
                {"name": "extras", "kind": "radio", "options": ["x", "x"]},
                {"name": "units", "kind": "number", "default": "lots"},
                {"name": "since", "kind": "date", "default": "yesterday"},
            ]
        )
    )
    assert problems == [
        (
            "fields[0] 'product'",
            "unknown field kind 'dropdown'; use one of select, multiselect, radio, text, number, date",
        ),
        ("fields[1] 'code'", "a select field needs options to choose from"),
        ("fields[2] 'extras'", "lists an option twice"),
        ("fields[3] 'units'", "default 'lots': must be a number"),
        ("fields[4] 'since'", "default 'yesterday': must be a date written YYYY-MM-DD"),
    ]


def test_a_pattern_referring_to_an_unknown_field_is_named() -> None:
    problems = _problems(_template(question="What does {{ code }} mean on the {{ prodcut }}?"))
    assert problems == [
        (
            "question",
            "refers to 'prodcut', which is not a field of this template "
            "(fields: code, extras, product, since, units)",
        )
    ]
    filters = _problems(_template(filters={"tags": ["{{ model }}"], "colour": ["red"]}))
    assert [where for where, _ in filters] == ["filters.tags[0]", "filters.colour"]
    assert "unknown filter; use tags, media_types, document_ids" in filters[1][1]


def test_jinja_syntax_errors_say_where() -> None:
    problems = _problems(_template(question="What does {{ code mean?"))
    assert len(problems) == 1 and problems[0][0] == "question"
    assert problems[0][1].startswith("Jinja syntax error on line 1:")
    with pytest.raises(InvalidFields, match=r"^the template has 1 problem: question: Jinja syntax error"):
        parse_template(_template(question="{% if code %}unclosed"))


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("{{ code.__class__.__mro__ }}", "attribute access ('.__mro__') is not allowed in a template"),
        ("{{ code.upper() }}", "calling a function is not allowed in a template"),
        ("{{ range(10) }}", "calling a function is not allowed in a template"),
        ("{% include 'secrets.txt' %}", "{% include %} is not allowed in a template"),
        ("{% import 'x' as y %}", "{% import %} is not allowed in a template"),
        ("{% set x = code %}{{ x }}", "{% set %} is not allowed in a template"),
        ("{% macro m() %}x{% endmacro %}", "{% macro %} is not allowed in a template"),
        ("{{ 'a' * 1000000000 }}", "arithmetic (*) is not allowed in a template"),
        ("{{ 9 ** 9 ** 9 }}", "arithmetic (**) is not allowed in a template"),
        ("{{ code | attr('upper') }}", "the filter 'attr' is not allowed"),
        ("{{ code | format('x') }}", "the filter 'format' is not allowed"),
        (
            "{% for a in code %}{% for b in code %}x{% endfor %}{% endfor %}",
            "loops inside loops are not allowed",
        ),
        ("{{ code[product] }}", "indexing is allowed with a number only"),
    ],
)
def test_unsafe_constructs_are_refused_before_rendering(pattern: str, message: str) -> None:
    problems = _problems(_template(question=pattern))
    assert any(where == "question" and what.startswith(message) for where, what in problems), problems


def test_bad_values_are_named_per_field() -> None:
    template = parse_template(_template())
    with pytest.raises(InvalidFields) as caught:
        render(template, {"product": "T900", "extras": ["wifi", "solar"], "units": "many", "colour": "red"})
    assert caught.value.problems == (
        (
            "values.colour",
            "is not a field of template 'error-code' (its fields: product, code, extras, units, since)",
        ),
        ("values.product", "Product: 'T900' is not one of the options (T100, T200)"),
        ("values.code", "Error code is required"),
        ("values.extras", "Extras: ['wifi', 'solar'] 'solar' not among the options (wifi, power)"),
        ("values.units", "Units: 'many' must be a number"),
    )
    assert str(caught.value).startswith("the form of template 'error-code' has 5 problems: values.colour:")
    with pytest.raises(InvalidFields, match="must be a date written YYYY-MM-DD"):
        render(template, {"product": "T100", "code": "E-1", "since": "01/05/2024"})
    with pytest.raises(InvalidFields, match="the limit is 300"):
        render(template, {"product": "T100", "code": "x" * 301})


def test_the_sandbox_stops_what_the_checks_let_through_at_render_time() -> None:
    # A value is data: a value that looks like Jinja is not evaluated.
    template = parse_template(_template())
    rendered = render(template, {"product": "T100", "code": "{{ 7 * 7 }} {% include 'x' %}"})
    assert "{{ 7 * 7 }}" in rendered.question


def test_missing_properties_and_bad_answer_options_are_listed_together() -> None:
    problems = _problems({"id": "Bad Id!", "fields": "product", "answer": {"length": "epic", "tone": "warm"}})
    wheres = [where for where, _ in problems]
    assert wheres == ["id", "title", "fields", "question", "answer.tone", "answer.length"]
    assert ("answer.length", "'epic' is not one of short, medium, long") in problems
    assert ("question", "a question pattern is required") in problems


def test_the_shipped_starter_set_is_valid_and_renders(tmp_path: Path) -> None:
    templates = {t.id: t for t in shipped()}
    assert set(templates) == {"troubleshoot-error-code", "policy-topic", "how-to-task", "compare-plans"}
    trouble = render(
        templates["troubleshoot-error-code"],
        {"product": "T300 Pro", "error_code": "E-212", "firmware": "4.2.1", "only_product_documents": "yes"},
    )
    assert trouble.question == (
        "What does error E-212 mean on the T300 Pro with firmware 4.2.1, what causes it and how do I fix it?"
    )
    assert trouble.filters == {"tags": ["T300 Pro"]}
    plain = render(templates["troubleshoot-error-code"], {"product": "T100", "error_code": "E-104"})
    assert plain.filters == {} and "firmware" not in plain.question
    compare = render(
        templates["compare-plans"], {"first": "T100", "second": "T200", "aspects": ["warranty", "Wi-Fi"]}
    )
    assert compare.question == "How do the T100 and the T200 differ in warranty, Wi-Fi?"
    broken = tmp_path / "broken.yaml"
    broken.write_text("id: x\ntitle: [unclosed\n")
    with pytest.raises(InvalidFields, match=r"^broken.yaml is not valid YAML"):
        load_yaml(broken)


def _cited(n: int) -> Answer:
    citations = tuple(
        Citation(m, f"doc{m}", f"Doc {m}", (m,), f"Sentence {m}.", 0, 10, 0.9) for m in range(1, n + 1)
    )
    text = " ".join(f"Sentence {m}. [{m}]" for m in range(1, n + 1))
    return Answer("q", text, citations)


def test_answer_options_shorten_and_bullet_the_answer() -> None:
    short = shape_answer(_cited(3), AnswerOptions("short", "prose"))
    assert short.text == "Sentence 1. [1]" and [c.marker for c in short.citations] == [1]
    bullets = shape_answer(_cited(3), AnswerOptions("long", "bullets"))
    assert bullets.text == "- Sentence 1. [1]\n- Sentence 2. [2]\n- Sentence 3. [3]"
    assert len(bullets.citations) == 3
    refusal = Answer("q", "No.", refused=True)
    assert shape_answer(refusal, AnswerOptions("short", "bullets")) is refusal


def test_a_filter_given_the_wrong_kind_of_value_is_a_template_problem() -> None:
    problems = _problems(_template(question="{{ units | join(', ') }}"))
    assert problems == [("question", "does not render with example values: 'int' object is not iterable")]
    template = parse_template(
        _template(question="Q {{ code | first }}", fields=[{"name": "code", "kind": "text"}], filters={})
    )
    with pytest.raises(InvalidFields, match="question: could not be rendered"):
        render(template, {})  # an optional text left empty has no first letter
