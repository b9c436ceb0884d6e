"""Sourcebook's own golden-set format: JSON lines, one case per line.

    {"id": str, "collection": str, "question": str|null,
     "template": {"id", "version", "values"}|null, "answerable": bool,
     "expected_answer": str|null, "expected_facts": [str],
     "expected_sources": [{"source_name": str, "document_id": str|null, "pages": [int]}],
     "origin": "manual"|"review", "notes": str|null, "category": str}

``expected_facts`` are the strings a correct answer must all contain (normalised); when a case
gives none, its ``expected_answer`` is the one fact. ``category`` says what kind of support work
a case stands for (``CATEGORIES``), so a report can say where answering is weak.

Written by hand (``eval/golden/``) or by promoting a reviewed answer from the Review queue
(``origin: "review"``). A case asks either a free question or a template with values. Defined
here, on the bottom floor, because the API (promotion) and the eval (loading) both speak it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from core.errors import InvalidInput

Origin = Literal["manual", "review"]
CATEGORIES = (
    "error-code",
    "how-to",
    "policy",
    "comparison",
    "spec",
    "firmware",
    "warranty",
    "unanswerable-near-miss",
)
UNCATEGORISED = "uncategorised"


@dataclass(frozen=True, slots=True)
class ExpectedSource:
    source_name: str
    document_id: str | None = None
    pages: tuple[int, ...] = ()  # empty: any page


@dataclass(frozen=True, slots=True)
class TemplateRef:
    id: str
    version: int | None
    values: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class GoldenCase:
    id: str
    collection: str
    question: str | None
    answerable: bool
    template: TemplateRef | None = None
    expected_answer: str | None = None
    expected_sources: tuple[ExpectedSource, ...] = ()
    origin: Origin = "manual"
    notes: str | None = None
    expected_facts: tuple[str, ...] = ()
    category: str = UNCATEGORISED

    @property
    def facts(self) -> tuple[str, ...]:
        """What a correct answer must contain: the listed facts, else the expected answer."""
        if self.expected_facts:
            return self.expected_facts
        return (self.expected_answer,) if self.expected_answer else ()

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "collection": self.collection,
            "question": self.question,
            "template": None
            if self.template is None
            else {
                "id": self.template.id,
                "version": self.template.version,
                "values": dict(self.template.values),
            },
            "answerable": self.answerable,
            "expected_answer": self.expected_answer,
            "expected_sources": [
                {"source_name": s.source_name, "document_id": s.document_id, "pages": list(s.pages)}
                for s in self.expected_sources
            ],
            "origin": self.origin,
            "notes": self.notes,
            "expected_facts": list(self.expected_facts),
            "category": self.category,
        }


def parse_case(data: Mapping[str, Any], *, where: str = "case") -> GoldenCase:
    """One case from its JSON object; ``InvalidInput`` names the field that is wrong."""

    def need(cond: bool, message: str) -> None:
        if not cond:
            raise InvalidInput(f"{where}: {message}")

    need(isinstance(data, Mapping), "a case must be a JSON object")
    need(isinstance(data.get("id"), str) and bool(data["id"]), "'id' must be a non-empty string")
    need(
        isinstance(data.get("collection"), str) and bool(data["collection"]), "'collection' must be a string"
    )
    question, template = data.get("question"), data.get("template")
    need(question is None or isinstance(question, str), "'question' must be a string or null")
    need(bool(question) or template is not None, "a case needs a 'question' or a 'template'")
    ref = None
    if template is not None:
        need(
            isinstance(template, Mapping) and isinstance(template.get("id"), str),
            "'template' must be an object with an 'id'",
        )
        version = template.get("version")
        need(version is None or isinstance(version, int), "'template.version' must be an integer or null")
        values = template.get("values") or {}
        need(isinstance(values, Mapping), "'template.values' must be an object")
        ref = TemplateRef(template["id"], version, dict(values))
    need(isinstance(data.get("answerable"), bool), "'answerable' must be true or false")
    expected = data.get("expected_answer")
    need(expected is None or isinstance(expected, str), "'expected_answer' must be a string or null")
    sources = []
    for i, s in enumerate(data.get("expected_sources") or []):
        need(
            isinstance(s, Mapping) and isinstance(s.get("source_name"), str),
            f"expected_sources[{i}] needs a 'source_name'",
        )
        pages = s.get("pages") or []
        need(
            isinstance(pages, list) and all(isinstance(p, int) and p >= 1 for p in pages),
            f"expected_sources[{i}].pages must be page numbers (1-based)",
        )
        sources.append(ExpectedSource(s["source_name"], s.get("document_id"), tuple(pages)))
    need(not (data["answerable"] is False and expected), "an unanswerable case has no 'expected_answer'")
    origin = data.get("origin", "manual")
    need(origin in ("manual", "review"), "'origin' must be 'manual' or 'review'")
    facts = data.get("expected_facts") or []
    need(
        isinstance(facts, list) and all(isinstance(f, str) and f.strip() for f in facts),
        "'expected_facts' must be a list of non-empty strings",
    )
    need(not (data["answerable"] is False and facts), "an unanswerable case has no 'expected_facts'")
    category = data.get("category") or UNCATEGORISED
    need(isinstance(category, str), "'category' must be a string (for example one of CATEGORIES)")
    return GoldenCase(
        id=data["id"],
        collection=data["collection"],
        question=question or None,
        answerable=data["answerable"],
        template=ref,
        expected_answer=expected,
        expected_sources=tuple(sources),
        origin=origin,
        notes=data.get("notes"),
        expected_facts=tuple(facts),
        category=category,
    )


def load_golden(path: Path) -> list[GoldenCase]:
    """Every case of a golden-set file; ids must be unique."""
    cases: list[GoldenCase] = []
    seen: set[str] = set()
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path.name} line {number}"
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"{where}: not JSON ({exc.msg})") from exc
        case = parse_case(data, where=where)
        if case.id in seen:
            raise InvalidInput(f"{where}: duplicate id {case.id!r}")
        seen.add(case.id)
        cases.append(case)
    return cases
