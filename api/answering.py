"""One question, start to finish, under the production controls.

Quota and rate limit first (429 before any work), input limits and the injection tripwire, then
a reviewed answer if a reviewer approved one, else the cache, else search and generate. Every
question ends in the audit trail and in the answers table with its text PII-redacted, whatever
path it took, and comes back with the id that feedback refers to.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from core.access import Principal
from core.catalog.answers import Override
from core.domain import Answer, AnswerHints, Citation, Passage
from core.errors import InvalidInput
from core.protocols import SearchFilter
from core.services import Services
from ingest.pii import PiiDetector
from retrieval.answer_shape import AnswerOptions, shape_answer
from retrieval.cache import cache_key, normalise
from retrieval.guard import find_injection

_REDACT = PiiDetector()

REVIEWED = "human review"  # the generator an approved answer names in its provenance


@dataclass(frozen=True, slots=True)
class Reviewed:
    by: str
    at: datetime
    verdict: str


@dataclass(frozen=True, slots=True)
class TemplateUse:
    id: str
    version: int
    values: Mapping[str, Any]
    options: AnswerOptions

    def as_key(self) -> tuple[str, int, dict[str, Any]]:
        return self.id, self.version, dict(self.values)


@dataclass(frozen=True, slots=True)
class Outcome:
    answer: Answer
    cached: bool
    latency_ms: float
    flags: tuple[str, ...] = ()
    answer_id: str = ""
    template: tuple[str, int] | None = None
    reviewed: Reviewed | None = None


def redact(text: str) -> str:
    return _REDACT.redact(text)[0]


def admit(services: Services, principal: Principal, question: str) -> list[str]:
    """Refuse what is over a limit; the injection flags of the question."""
    services.quotas.admit(principal)
    limit = services.settings.max_question_chars
    if len(question) > limit:
        raise InvalidInput(f"the question is {len(question)} characters long; the limit is {limit}")
    return [f"question: {flag.kind}" for flag in find_injection(question)]


def scope_key(
    question: str,
    template: TemplateUse | None,
    search_filter: SearchFilter,
    scope: Sequence[str] | None,
) -> str:
    """What a human override matches: the same template and values (or the same normalised
    question and filters), the same collections, the same access scope."""
    narrowing = dataclasses.asdict(search_filter)
    del narrowing["teams"], narrowing["collections"]
    parts = {
        "template": [template.id, dict(template.values)] if template else None,
        "question": None if template else normalise(question),
        "filters": None if template else narrowing,
        "collections": sorted(search_filter.collections),
        "scope": sorted(scope) if scope is not None else "*",
    }
    encoded = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(encoded.encode()).hexdigest()


def ask(
    services: Services,
    principal: Principal,
    question: str,
    search_filter: SearchFilter,
    *,
    passages: int,
    template: TemplateUse | None = None,
) -> Outcome:
    started = time.perf_counter()
    flags = admit(services, principal, question)
    key = scope_key(question, template, search_filter, principal.visible_teams)
    override = services.answers.find_override(key)
    answer = _reviewed_answer(services, principal, question, override) if override else None
    reviewed = (
        Reviewed(override.reviewer, override.approved_at, override.verdict) if answer and override else None
    )
    cached = False
    if answer is None:
        override = None
        answer, cached, passage_flags = _generated(
            services, principal, question, search_filter, passages, template
        )
        flags += passage_flags
    services.quotas.charge(principal, 1)
    latency_ms = (time.perf_counter() - started) * 1000
    values = {
        k: redact(v) if isinstance(v, str) else v for k, v in (template.values if template else {}).items()
    }
    stored = answer_body(answer, reviewed)
    answer_id = services.answers.record(
        user=principal.user,
        teams=principal.teams,
        collections=search_filter.collections,
        question=redact(question),
        scope_key=key,
        template=(template.id, template.version, values) if template else None,
        answer=stored,
        refused=answer.refused,
        escalate=answer.refused,
        latency_ms=latency_ms,
        cached=cached,
        override_id=override.id if override else None,
    )
    services.audit.record(
        principal.user,
        "question",
        ",".join(search_filter.collections),
        team=",".join(principal.teams) or None,
        detail={
            "answer_id": answer_id,
            "question": redact(question),
            "template": [template.id, template.version, values] if template else None,
            "filters": dataclasses.asdict(search_filter),
            "passages": [p.chunk_id for p in answer.passages],
            "answer": redact(answer.text),
            "citations": [
                {"document_id": c.document_id, "pages": list(c.pages), "support": c.support}
                for c in answer.citations
            ],
            "refused": answer.refused,
            "provenance": dict(answer.provenance),
            "latency_ms": round(latency_ms, 1),
            "cached": cached,
            "reviewed": stored["reviewed"],
            "flags": flags,
        },
    )
    return Outcome(
        answer,
        cached,
        latency_ms,
        tuple(flags),
        answer_id,
        (template.id, template.version) if template else None,
        reviewed,
    )


def _generated(
    services: Services,
    principal: Principal,
    question: str,
    search_filter: SearchFilter,
    passages: int,
    template: TemplateUse | None,
) -> tuple[Answer, bool, list[str]]:
    cache = services.answer_cache
    key = cache_key(
        question=question,
        template=template.as_key() if template else None,
        filters=dataclasses.asdict(search_filter) | {"passages": passages},
        scope=principal.visible_teams,
        fingerprint=services.catalog.fingerprint(search_filter.collections, search_filter.teams),
        generator=repr(services.provenance),
    )
    answer = cache.get(key) if cache is not None else None
    if answer is not None:
        return answer, True, []
    found = services.searcher.search(question, search_filter, limit=passages)
    passage_flags = _passage_flags(found)
    hints = AnswerHints(template.values, shape=template.options.shape) if template is not None else None
    answer = services.generator.answer(question, found, hints)
    answer = replace(answer, provenance=services.provenance, notes=(*answer.notes, *passage_flags))
    if template is not None:
        answer = shape_answer(answer, template.options)
    if cache is not None:
        cache.put(key, answer)
    return answer, False, passage_flags


def _reviewed_answer(
    services: Services, principal: Principal, question: str, override: Override
) -> Answer | None:
    """The approved answer, unless a document it cites is gone or out of the caller's sight."""
    citations = tuple(Citation(**(c | {"pages": tuple(c["pages"])})) for c in override.answer["citations"])
    for citation in citations:
        document = services.catalog.find_document(citation.document_id)
        if document is None or not principal.sees(document.team or ""):
            return None
    provenance = (("generator", REVIEWED), ("reviewer", override.reviewer), ("review", override.feedback_id))
    return Answer(
        question,
        override.answer["text"],
        citations,
        refused=bool(override.answer.get("refused", False)),
        refusal_reason=override.answer.get("refusal_reason"),
        provenance=provenance,
    )


def answer_body(answer: Answer, reviewed: Reviewed | None = None) -> dict[str, Any]:
    """An answer as the answers table keeps it (the passages by id only)."""
    return {
        "text": redact(answer.text),
        "citations": [
            dataclasses.asdict(c) | {"pages": list(c.pages), "quote": redact(c.quote)}
            for c in answer.citations
        ],
        "refused": answer.refused,
        "refusal_reason": answer.refusal_reason,
        "notes": list(answer.notes),
        "provenance": dict(answer.provenance),
        "passages": [p.chunk_id for p in answer.passages],
        "reviewed": None
        if reviewed is None
        else {"by": reviewed.by, "at": reviewed.at.isoformat(), "verdict": reviewed.verdict},
    }


def _passage_flags(passages: list[Passage]) -> list[str]:
    notes = []
    for n, passage in enumerate(passages, start=1):
        for flag in find_injection(passage.text):
            notes.append(
                f"passage {n} ({passage.source_name}) contains text phrased as instructions "
                f"({flag.kind}: {flag.excerpt!r}); it was treated as data"
            )
    return notes
