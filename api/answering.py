"""One question, start to finish, under the production controls.

Quota and rate limit first (429 before any work), input limits and the injection tripwire, then
a reviewed answer if a reviewer approved one, else the cache, else search and generate. Every
question ends in the audit trail with its text PII-redacted, whatever path it took.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, replace
from typing import Any

from core.access import Principal
from core.domain import Answer, Passage
from core.errors import InvalidInput
from core.protocols import SearchFilter
from core.services import Services
from ingest.pii import PiiDetector
from retrieval.cache import cache_key
from retrieval.guard import find_injection

_REDACT = PiiDetector()


@dataclass(frozen=True, slots=True)
class Outcome:
    answer: Answer
    cached: bool
    latency_ms: float
    flags: tuple[str, ...] = ()


def redact(text: str) -> str:
    return _REDACT.redact(text)[0]


def admit(services: Services, principal: Principal, question: str) -> list[str]:
    """Refuse what is over a limit; the injection flags of the question."""
    services.quotas.admit(principal)
    limit = services.settings.max_question_chars
    if len(question) > limit:
        raise InvalidInput(f"the question is {len(question)} characters long; the limit is {limit}")
    return [f"question: {flag.kind}" for flag in find_injection(question)]


def ask(
    services: Services,
    principal: Principal,
    question: str,
    search_filter: SearchFilter,
    *,
    passages: int,
    template: tuple[str, int, dict[str, Any]] | None = None,
) -> Outcome:
    started = time.perf_counter()
    flags = admit(services, principal, question)
    cache = services.answer_cache
    key = cache_key(
        question=question,
        template=template,
        filters=dataclasses.asdict(search_filter) | {"passages": passages},
        scope=principal.visible_teams,
        fingerprint=services.catalog.fingerprint(search_filter.collections, search_filter.teams),
        generator=repr(services.provenance),
    )
    answer = cache.get(key) if cache is not None else None
    cached = answer is not None
    if answer is None:
        found = services.searcher.search(question, search_filter, limit=passages)
        passage_flags = _passage_flags(found)
        answer = services.generator.answer(question, found)
        answer = replace(answer, provenance=services.provenance, notes=(*answer.notes, *passage_flags))
        if cache is not None:
            cache.put(key, answer)
        flags += passage_flags
    services.quotas.charge(principal, 1)
    latency_ms = (time.perf_counter() - started) * 1000
    services.audit.record(
        principal.user,
        "question",
        ",".join(search_filter.collections),
        team=",".join(principal.teams) or None,
        detail={
            "question": redact(question),
            "template": list(template) if template else None,
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
            "flags": flags,
        },
    )
    return Outcome(answer, cached, latency_ms, tuple(flags))


def _passage_flags(passages: list[Passage]) -> list[str]:
    notes = []
    for n, passage in enumerate(passages, start=1):
        for flag in find_injection(passage.text):
            notes.append(
                f"passage {n} ({passage.source_name}) contains text phrased as instructions "
                f"({flag.kind}: {flag.excerpt!r}); it was treated as data"
            )
    return notes
