"""Answering: one question, start to finish, under the production controls.

Quota and rate limit first (429 before any work), input limits and the injection tripwire, then
a reviewed answer if a reviewer approved one, else the cache, else search and generate. Every
question ends in the audit trail and in the answers table with its text PII-redacted, whatever
path it took, and comes back with the id that feedback refers to.

One use case for every door: the API's routes, the CLI's ``ask`` and the eval runner all call
``Answering``; the shell builds it with its collaborators.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, replace
from typing import Any, Protocol

from core.access import Principal
from core.answer_codec import Reviewed, answer_from_row, answer_to_row
from core.catalog.overrides import Override
from core.domain import Answer, AnswerHints, Document, Passage
from core.errors import InvalidInput
from core.protocols import Generator, Redactor, SearchFilter, SearchMode
from core.quota import Quotas
from retrieval.cache import AnswerCache, cache_key, normalise
from retrieval.guard import find_injection
from retrieval.search import Searcher
from retrieval.templates import AnswerOptions, shape_answer

REVIEWED = "human review"  # the generator an approved answer names in its provenance


class Documents(Protocol):
    """What answering reads of the catalogued documents."""

    def find_document(self, document_id: str) -> Document | None: ...

    def fingerprint(self, collections: Sequence[str] = (), teams: Sequence[str] | None = None) -> str:
        """Changes whenever a document in these collections is added, changed or deleted."""
        ...


class Overrides(Protocol):
    """Where the reviewers' approved answers are found."""

    def find(self, scope_key: str) -> Override | None: ...


class AnswerLog(Protocol):
    """Where answers are kept."""

    def record(
        self,
        *,
        user: str,
        teams: Sequence[str],
        collections: Sequence[str],
        question: str,
        scope_key: str,
        template: tuple[str, int, dict[str, Any]] | None,
        answer: dict[str, Any],
        refused: bool,
        escalate: bool,
        latency_ms: float,
        cached: bool,
        override_id: str | None,
    ) -> str: ...


class Audit(Protocol):
    def record(
        self,
        actor: str,
        action: str,
        target: str = "",
        *,
        team: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> object: ...


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


class Answering:
    """Search and ask under quota, guard, override, cache, answer log and audit."""

    def __init__(
        self,
        *,
        searcher: Searcher,
        generator: Generator,
        quotas: Quotas,
        answers: AnswerLog,
        overrides: Overrides,
        audit: Audit,
        catalog: Documents,
        redactor: Redactor,
        cache: AnswerCache | None = None,
        provenance: tuple[tuple[str, str], ...] = (),
        max_question_chars: int = 2000,
        writes: Callable[[], AbstractContextManager[object]] = nullcontext,
    ) -> None:
        self.searcher = searcher
        self.generator = generator
        self.quotas = quotas
        self.answers = answers
        self.overrides = overrides
        self.audit = audit
        self.catalog = catalog
        self.redactor = redactor
        self.cache = cache
        self.provenance = provenance
        self.max_question_chars = max_question_chars
        # Makes the writes inside it one: the catalog's ``Database.together``.
        self.writes = writes

    def redact(self, text: str) -> str:
        return self.redactor.redact(text)[0]

    def admit(self, principal: Principal, question: str) -> list[str]:
        """Refuse what is over a limit; the injection flags of the question."""
        self.quotas.admit(principal)
        limit = self.max_question_chars
        if len(question) > limit:
            raise InvalidInput(f"the question is {len(question)} characters long; the limit is {limit}")
        return [f"question: {flag.kind}" for flag in find_injection(question)]

    def search(
        self,
        principal: Principal,
        query: str,
        search_filter: SearchFilter,
        *,
        limit: int,
        mode: SearchMode = "hybrid",
        rerank: bool = True,
    ) -> list[Passage]:
        """Passages only (no answer): admitted like a question, and audited."""
        self.admit(principal, query)
        passages = self.searcher.search(query, search_filter, limit=limit, mode=mode, rerank=rerank)
        self.audit.record(
            principal.user,
            "search",
            ",".join(search_filter.collections),
            team=",".join(principal.teams) or None,
            detail={"query": self.redact(query), "passages": [p.chunk_id for p in passages]},
        )
        return passages

    def ask(
        self,
        principal: Principal,
        question: str,
        search_filter: SearchFilter,
        *,
        passages: int,
        template: TemplateUse | None = None,
    ) -> Outcome:
        started = time.perf_counter()
        flags = self.admit(principal, question)
        key = scope_key(question, template, search_filter, principal.visible_teams)
        override = self.overrides.find(key)
        answer = self._reviewed_answer(principal, question, override) if override else None
        reviewed = (
            Reviewed(override.reviewer, override.approved_at, override.verdict)
            if answer and override
            else None
        )
        cached = False
        if answer is None:
            override = None
            answer, cached, passage_flags = self._generated(
                principal, question, search_filter, passages, template
            )
            flags += passage_flags
        latency_ms = (time.perf_counter() - started) * 1000
        values = {
            k: self.redact(v) if isinstance(v, str) else v
            for k, v in (template.values if template else {}).items()
        }
        stored = answer_to_row(answer, reviewed, self.redact)
        # Its credits, its row and its audit entry: one write and one wait for its commit.
        with self.writes():
            self.quotas.charge(principal, 1)
            answer_id = self.answers.record(
                user=principal.user,
                teams=principal.teams,
                collections=search_filter.collections,
                question=self.redact(question),
                scope_key=key,
                template=(template.id, template.version, values) if template else None,
                answer=stored,
                refused=answer.refused,
                escalate=answer.refused,
                latency_ms=latency_ms,
                cached=cached,
                override_id=override.id if override else None,
            )
            self.audit.record(
                principal.user,
                "question",
                ",".join(search_filter.collections),
                team=",".join(principal.teams) or None,
                detail={
                    "answer_id": answer_id,
                    "question": self.redact(question),
                    "template": [template.id, template.version, values] if template else None,
                    "filters": dataclasses.asdict(search_filter),
                    "passages": [p.chunk_id for p in answer.passages],
                    "answer": self.redact(answer.text),
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

    def generate(
        self,
        question: str,
        search_filter: SearchFilter,
        *,
        passages: int,
        template: TemplateUse | None = None,
    ) -> tuple[Answer, list[str]]:
        """Search and generate, with none of the controls: the answer and its passages' flags.

        The eval runner measures this directly; ``ask`` wraps it in the controls.
        """
        query = self.searcher.embed(question)  # once: the search, the reranker and the answer share it
        retrieved = self.searcher.retrieve(query, search_filter, limit=passages)
        query, found = retrieved.query, retrieved.passages
        passage_flags = _passage_flags(found)
        hints = AnswerHints(template.values, shape=template.options.shape) if template is not None else None
        answer = self.generator.answer(query, found, hints)
        # The model that retrieved these passages, even if the live model switched meanwhile.
        provenance = tuple(sorted((dict(self.provenance) | {"embedder": retrieved.model}).items()))
        answer = replace(answer, provenance=provenance, notes=(*answer.notes, *passage_flags))
        if template is not None:
            answer = shape_answer(answer, template.options)
        return answer, passage_flags

    def _generated(
        self,
        principal: Principal,
        question: str,
        search_filter: SearchFilter,
        passages: int,
        template: TemplateUse | None,
    ) -> tuple[Answer, bool, list[str]]:
        key = cache_key(
            question=question,
            template=template.as_key() if template else None,
            filters=dataclasses.asdict(search_filter) | {"passages": passages},
            scope=principal.visible_teams,
            fingerprint=self.catalog.fingerprint(search_filter.collections, search_filter.teams),
            generator=repr((self.provenance, self.searcher.embedder.name)),  # a switch starts afresh
        )
        answer = self.cache.get(key) if self.cache is not None else None
        if answer is not None:
            return answer, True, []
        answer, passage_flags = self.generate(question, search_filter, passages=passages, template=template)
        if self.cache is not None:
            self.cache.put(key, answer)
        return answer, False, passage_flags

    def _reviewed_answer(self, principal: Principal, question: str, override: Override) -> Answer | None:
        """The approved answer, unless a document it cites is gone or out of the caller's sight."""
        provenance = (
            ("generator", REVIEWED),
            ("reviewer", override.reviewer),
            ("review", override.feedback_id),
        )
        answer = answer_from_row(override.answer, question, provenance)
        for citation in answer.citations:
            document = self.catalog.find_document(citation.document_id)
            if document is None or not principal.sees(document.team or ""):
                return None
        return answer


def _passage_flags(passages: list[Passage]) -> list[str]:
    notes = []
    for n, passage in enumerate(passages, start=1):
        for flag in find_injection(passage.text):
            notes.append(
                f"passage {n} ({passage.source_name}) contains text phrased as instructions "
                f"({flag.kind}: {flag.excerpt!r}); it was treated as data"
            )
    return notes
