"""Search and ask: the support agent's questions, answered from visible collections only."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from api import scope, templating
from api.deps import PrincipalDep, ServicesDep
from api.schemas import AnswerOut, AskBody, CitationOut, PassageOut, ReviewedOut, SearchBody, SearchOut
from core.domain import Answer
from retrieval.answering import TemplateUse
from retrieval.templates import answer_sentences

router = APIRouter(prefix="/v1", tags=["answers"])


@router.post("/search")
def search(body: SearchBody, services: ServicesDep, principal: PrincipalDep) -> SearchOut:
    """Hybrid search (dense + BM25 fused in the engine), reranked; filtered to the caller's teams."""
    search_filter = scope.search_filter(services, principal, body.collections, body.filters)
    passages = services.answering.search(
        principal, body.query, search_filter, limit=body.limit, mode=body.mode, rerank=body.rerank
    )
    return SearchOut(query=body.query, passages=[PassageOut.model_validate(p) for p in passages])


_STREAMED: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/event-stream": {}}, "description": "With `stream: true`: SSE."}
}


@router.post("/ask", response_model=AnswerOut, responses=_STREAMED)
def ask(
    body: AskBody, request: Request, services: ServicesDep, principal: PrincipalDep
) -> AnswerOut | StreamingResponse:
    """A cited answer, or a plain refusal with the closest passages when the documents do not say.

    Ask with a `question`, or with a `template` and the `values` chosen in its form: the template
    renders the question and its filters, and the answer records the template id and version.
    When a reviewer approved an answer to the same question in the same scope, that answer is
    served first, marked `reviewed`. Every answer has an `answer_id` for feedback.

    With `stream: true` the answer arrives as server-sent events: `passages`, one `sentence` per
    answer sentence (with its citation), `citations`, then `done`.
    """
    question, collections, filters, use = body.question or "", body.collections, body.filters, None
    if body.template is not None:
        ref = body.template
        template, rendered = templating.rendered(services, principal, ref.id, ref.values, ref.version)
        question, filters = rendered.question, templating.filters_with(body.filters, rendered)
        collections = collections or list(template.collections)
        use = TemplateUse(template.id, template.version, rendered.values, rendered.answer)
    search_filter = scope.search_filter(services, principal, collections, filters)
    outcome = services.answering.ask(principal, question, search_filter, passages=body.passages, template=use)
    metrics = request.app.state.metrics
    if services.answer_cache is not None and outcome.reviewed is None:
        metrics.cache_lookup(outcome.cached)
    source = "reviewed" if outcome.reviewed else "cached" if outcome.cached else "generated"
    metrics.answered(source, use.id if use else None)
    reviewed = outcome.reviewed
    out = AnswerOut.of(
        outcome.answer,
        cached=outcome.cached,
        flags=outcome.flags,
        answer_id=outcome.answer_id,
        template=outcome.template,
        reviewed=ReviewedOut.model_validate(reviewed) if reviewed else None,
        latency_ms=outcome.latency_ms,
    )
    if not body.stream:
        return out
    return StreamingResponse(
        _events(outcome.answer, out), media_type="text/event-stream", headers={"Cache-Control": "no-store"}
    )


def _sse(event: str, data: object) -> str:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n"


def _events(answer: Answer, out: AnswerOut) -> Iterator[str]:
    yield _sse("passages", [p.model_dump() for p in out.passages])
    by_marker = {c.marker: c for c in out.citations}
    for marker, sentence in _sentences(answer):
        citation: CitationOut | None = by_marker.get(marker) if marker else None
        yield _sse("sentence", {"text": sentence, "citation": citation.model_dump() if citation else None})
    yield _sse("citations", [c.model_dump() for c in out.citations])
    yield _sse(
        "done",
        {
            "refused": out.refused,
            "refusal_reason": out.refusal_reason,
            "escalate": out.escalate,
            "cached": out.cached,
            "provenance": out.provenance,
            "flags": out.flags,
            "notes": out.notes,
            "answer_id": out.answer_id,
            "question": out.question,
            "template": out.template.model_dump() if out.template else None,
            "reviewed": out.reviewed.model_dump(mode="json") if out.reviewed else None,
            "latency_ms": out.latency_ms,
        },
    )


def _sentences(answer: Answer) -> Iterator[tuple[int | None, str]]:
    """The answer's sentences with the marker each one ends with (``… [2]``)."""
    return answer_sentences(answer.text)


@router.post("/answers", response_model=AnswerOut, responses=_STREAMED)
def answers(
    body: AskBody, request: Request, services: ServicesDep, principal: PrincipalDep
) -> AnswerOut | StreamingResponse:
    """The same as `POST /v1/ask`, under the collection's own name (`/v1/answers/{id}/feedback`)."""
    return ask(body, request, services, principal)
