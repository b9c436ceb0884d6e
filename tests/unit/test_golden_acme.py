"""The acme-support golden set holds only facts the sample documents really say, covers every kind
of support work, and asks template cases in the exact words the shipped templates render."""

from __future__ import annotations

import html
import importlib.util
import re
from collections import Counter
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from core.golden import CATEGORIES, GoldenCase, load_golden
from retrieval.templates import render, shipped

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "eval" / "golden" / "acme-support.jsonl"
SAMPLES = ROOT / "samples"
HAND_WRITTEN = (
    "faq.md",
    "known-issues.txt",
    "troubleshooting-guide.html",
    "support-announcement-2024-08.eml",
)


def _normal(text: str) -> str:
    return " ".join(text.lower().split())


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


@cache
def _source_text() -> str:
    """Every string of samples/_content.py (the generated documents) and the text of the
    hand-written documents beside them, markup removed, one normalised text."""
    spec = importlib.util.spec_from_file_location("acme_content", SAMPLES / "_content.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    parts = [s for name, v in vars(module).items() if name.isupper() for s in _strings(v)]
    for name in HAND_WRITTEN:
        text = (SAMPLES / "acme-support" / name).read_text(encoding="utf-8")
        parts.append(html.unescape(re.sub(r"<[^>]+>", " ", text)).replace("**", ""))
    return _normal("\n".join(parts))


@cache
def _cases() -> tuple[GoldenCase, ...]:
    return tuple(load_golden(GOLDEN))


def test_the_set_is_large_enough_and_covers_every_category() -> None:
    cases = _cases()
    counts = Counter(c.category for c in cases)
    assert len(cases) >= 70
    assert set(counts) == set(CATEGORIES), counts
    assert all(counts[c] >= 5 for c in CATEGORIES), counts
    assert all(c.answerable == (c.category != "unanswerable-near-miss") for c in cases)


@pytest.mark.parametrize("case", [c for c in _cases() if c.answerable], ids=lambda c: c.id)
def test_every_expected_fact_is_in_the_sample_documents(case: GoldenCase) -> None:
    assert case.facts, "an answerable case needs an expected answer or facts"
    for fact in case.facts:
        assert _normal(fact) in _source_text(), f"{case.id}: {fact!r} is in no sample document"
    assert case.expected_sources, "an answerable case names the document that answers it"
    for source in case.expected_sources:
        assert (SAMPLES / "acme-support" / source.source_name).is_file()


def test_unanswerable_cases_expect_nothing() -> None:
    for case in _cases():
        if not case.answerable:
            assert not case.facts and not case.expected_sources, case.id


def test_template_cases_ask_exactly_what_the_shipped_template_renders() -> None:
    templates = {t.id: t for t in shipped()}
    template_cases = [c for c in _cases() if c.template is not None]
    assert {c.template.id for c in template_cases if c.template} == set(templates)
    for case in template_cases:
        assert case.template is not None
        template = templates[case.template.id]
        assert case.template.version == template.version
        assert case.question == render(template, case.template.values).question, case.id
