"""Search and ask: the support agent's questions, answered from visible collections only."""

from __future__ import annotations

import json
from collections.abc import Iterator

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from api import answering, scope
from api.deps import PrincipalDep, ServicesDep
from api.schemas import AnswerOut, AskBody, CitationOut, PassageOut, SearchBody, SearchOut
from core.domain import Answer

router = APIRouter(prefix="/v1", tags=["answers"])


@router.post("/search")
def search(body: SearchBody, services: ServicesDep, principal: PrincipalDep) -> SearchOut:
    """Hybrid search (dense + BM25 fused in the engine), reranked; filtered to the caller's teams."""
    search_filter = scope.search_filter(services, principal, body.collections, body.filters)
    answering.admit(services, principal, body.query)
    passages = services.searcher.search(
        body.query, search_filter, limit=body.limit, mode=body.mode, rerank=body.rerank
    )
    services.audit.record(
        principal.user,
        "search",
        ",".join(body.collections),
        team=",".join(principal.teams) or None,
        detail={"query": answering.redact(body.query), "passages": [p.chunk_id for p in passages]},
    )
    return SearchOut(query=body.query, passages=[PassageOut.of(p) for p in passages])


@router.post(
    "/ask",
    response_model=AnswerOut,
    responses={200: {"content": {"text/event-stream": {}}, "description": "With `stream: true`: SSE."}},
)
def ask(
    body: AskBody, request: Request, services: ServicesDep, principal: PrincipalDep
) -> AnswerOut | StreamingResponse:
    """A cited answer, or a plain refusal with the closest passages when the documents do not say.

    With `stream: true` the answer arrives as server-sent events: `passages`, one `sentence` per
    answer sentence (with its citation), `citations`, then `done`.
    """
    search_filter = scope.search_filter(services, principal, body.collections, body.filters)
    outcome = answering.ask(services, principal, body.question, search_filter, passages=body.passages)
    if services.answer_cache is not None:
        request.app.state.metrics.cache_lookup(outcome.cached)
    out = AnswerOut.of(outcome.answer, cached=outcome.cached, flags=outcome.flags)
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
        },
    )


def _sentences(answer: Answer) -> Iterator[tuple[int | None, str]]:
    """The answer's sentences with the marker each one ends with (``… [2]``)."""
    import re

    for match in re.finditer(r"(.+?)(?:\s*\[(\d+)\])(?=\s|$)|(.+?)$", answer.text, flags=re.S):
        if match.group(1) is not None:
            yield int(match.group(2)), match.group(1).strip()
        elif match.group(3) and match.group(3).strip():
            yield None, match.group(3).strip()
