"""Feedback on answers, the review queue, human overrides and golden sets."""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from api import scope
from api.deps import PrincipalDep, ServicesDep
from api.schemas import CitationOut, TemplateStamp
from api.services import Services
from core.access import Action, Principal
from core.answer_codec import answer_from_row, answer_to_row
from core.catalog.answers import AnswerRecord
from core.catalog.review import ReviewItem
from core.domain import Answer, Citation
from core.errors import Conflict, InvalidFields, NotFound
from core.golden import ExpectedSource, GoldenCase, TemplateRef

router = APIRouter(prefix="/v1", tags=["review"])

Reason = Literal["wrong", "incomplete", "not cited", "outdated", "other"]
_MARKER = re.compile(r"\s*\[\d+\]")


class FeedbackBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    helpful: bool
    reason: Reason | None = None
    flag: bool = Field(False, description="Ask a person to look at it, helpful or not.")
    comment: str | None = Field(None, max_length=2000)


class CreatedOut(BaseModel):
    id: str


class SourceRef(BaseModel):
    model_config = ConfigDict(extra="forbid")

    document_id: str = Field(min_length=1, max_length=64)
    pages: list[Annotated[int, Field(ge=1, le=100_000)]] = Field(default_factory=list, max_length=50)


class ReviewBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    verdict: Literal["right", "wrong"]
    correct_answer: str | None = Field(None, max_length=5000)
    correct_sources: list[SourceRef] = Field(default_factory=list, max_length=20)
    approve: bool = Field(
        False, description="Serve this answer (or the correction) first to the same question from now on."
    )


class PromoteBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    golden_set: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    collection: str | None = Field(
        None, max_length=64, description="The case's collection, when the answer did not name one."
    )


class PromotedOut(BaseModel):
    case_id: str
    golden_set: str


class ReviewItemOut(BaseModel):
    id: str
    answer_id: str
    question: str
    answer: str
    citations: list[CitationOut]
    refused: bool
    collections: list[str]
    template: TemplateStamp | None
    values: dict[str, Any] | None
    helpful: bool
    reason: str | None
    flagged: bool
    comment: str | None
    user: str
    team: str
    created_at: datetime
    state: str
    verdict: str | None
    correct_answer: str | None
    correct_sources: list[dict[str, Any]]
    reviewer: str | None
    reviewed_at: datetime | None

    @classmethod
    def of(cls, item: ReviewItem) -> ReviewItemOut:
        f, a = item.feedback, item.answer
        stamp = TemplateStamp(id=a.template_id, version=a.template_version or 1) if a.template_id else None
        answer = answer_from_row(a.answer, a.question)
        return cls(
            id=f.id,
            answer_id=a.id,
            question=a.question,
            answer=answer.text,
            citations=[CitationOut.model_validate(c) for c in answer.citations],
            refused=a.refused,
            collections=list(a.collections),
            template=stamp,
            values=a.values,
            helpful=f.helpful,
            reason=f.reason,
            flagged=f.flagged,
            comment=f.comment,
            user=f.user,
            team=a.team,
            created_at=f.created_at,
            state=f.state,
            verdict=f.verdict,
            correct_answer=f.correct_answer,
            correct_sources=list(f.correct_sources),
            reviewer=f.reviewer,
            reviewed_at=f.reviewed_at,
        )


def _answer_for(services: Services, principal: Principal, answer_id: str) -> AnswerRecord:
    """An answer the caller asked, or one asked in a team they belong to."""
    record = services.answers.get(answer_id)
    if not (
        record.user == principal.user
        or principal.visible_teams is None
        or any(t in principal.teams for t in record.teams)
    ):
        raise NotFound(f"no answer with id {answer_id!r}")
    return record


@router.post("/answers/{answer_id}/feedback", status_code=201)
def give_feedback(
    answer_id: str, body: FeedbackBody, services: ServicesDep, principal: PrincipalDep
) -> CreatedOut:
    """Helpful or not (with a reason), and a flag; unhelpful or flagged answers go to review.
    The comment is kept PII-redacted, as the question is: reviewers see `[EMAIL]`, not the address."""
    principal.require(Action.READ)
    _answer_for(services, principal, answer_id)
    feedback = services.feedback.add(
        answer_id,
        principal.user,
        helpful=body.helpful,
        reason=body.reason,
        flagged=body.flag,
        comment=services.answering.redact(body.comment) if body.comment else body.comment,
    )
    return CreatedOut(id=feedback.id)


@router.get("/review")
def review_queue(
    services: ServicesDep, principal: PrincipalDep, state: Literal["open", "closed"] = "open"
) -> list[ReviewItemOut]:
    """Unhelpful and flagged answers of your teams, newest first (reviewers: admins, knowledge
    managers, engineers)."""
    principal.require(Action.REVIEW)
    items = services.review_queue.items(state, principal.visible_teams)
    return [ReviewItemOut.of(i) for i in items]


@router.get("/review/{item_id}")
def review_item(item_id: str, services: ServicesDep, principal: PrincipalDep) -> ReviewItemOut:
    principal.require(Action.REVIEW)
    return ReviewItemOut.of(services.review_queue.item(item_id, principal.visible_teams))


@router.post("/review/{item_id}")
def review(item_id: str, body: ReviewBody, services: ServicesDep, principal: PrincipalDep) -> ReviewItemOut:
    """Mark an answer right or wrong, with the correct answer and sources. `approve`: the same
    template and values (or the same question) in the same scope is answered with it first."""
    principal.require(Action.REVIEW)
    item = services.review_queue.item(item_id, principal.visible_teams)
    correct = (body.correct_answer or "").strip() or None
    sources = [s.model_dump() for s in body.correct_sources]
    problems = []
    for n, source in enumerate(body.correct_sources):
        try:
            scope.document(services, principal, source.document_id)
        except NotFound as exc:
            problems.append((f"correct_sources.{n}.document_id", exc.reason))
    if body.verdict == "wrong" and body.approve and correct is None:
        problems.append(("correct_answer", "an answer marked wrong needs the correct answer to be approved"))
    if problems:
        raise InvalidFields("; ".join(what for _, what in problems), problems)
    override = _override(services, item, correct, body.correct_sources) if body.approve else None
    reviewed = services.review_queue.review(
        item_id,
        principal.user,
        verdict=body.verdict,
        correct_answer=correct,
        correct_sources=sources,
        override=override,
        teams=principal.visible_teams,
    )
    return ReviewItemOut.of(reviewed)


def _override(
    services: Services, item: ReviewItem, correct: str | None, sources: list[SourceRef]
) -> dict[str, Any]:
    """The answer to serve: the correction with its sources as citations, or the original."""
    original = answer_from_row(item.answer.answer, item.answer.question)
    if correct is None:
        served = Answer(
            original.question,
            original.text,
            original.citations,
            refused=item.answer.refused,
            refusal_reason=original.refusal_reason,
        )
        return answer_to_row(served)
    citations = []
    for marker, source in enumerate(sources, start=1):
        document = services.catalog.get_document(source.document_id)
        title = document.title or document.source_name
        citations.append(Citation(marker, document.id, title, tuple(source.pages), "", 0, 0, 1.0))
    text = correct
    if citations and not _MARKER.search(text):
        text = f"{text} " + " ".join(f"[{c.marker}]" for c in citations)
    return answer_to_row(Answer(item.answer.question, text, tuple(citations)))


@router.post("/review/{item_id}/promote")
def promote(item_id: str, body: PromoteBody, services: ServicesDep, principal: PrincipalDep) -> PromotedOut:
    """Add a reviewed case to a golden set (the golden-set JSONL format of `eval/`)."""
    principal.require(Action.REVIEW)
    item = services.review_queue.item(item_id, principal.visible_teams)
    if body.collection is not None:
        scope.team_of(services, principal, body.collection)
    case = golden_case(services, item, body.collection)
    team = scope.team_of(services, principal, case.collection)  # the set is this team's
    case_id = services.golden_sets.promote(item_id, body.golden_set, team, case.to_json(), principal.user)
    return PromotedOut(case_id=case_id, golden_set=body.golden_set)


def golden_case(services: Services, item: ReviewItem, collection: str | None = None) -> GoldenCase:
    f, a = item.feedback, item.answer
    if f.state != "closed" or f.verdict is None:
        raise Conflict("review this item (right or wrong) before promoting it")
    if f.verdict == "wrong" and not f.correct_answer:
        raise Conflict("an answer marked wrong needs the correct answer before it becomes a golden case")
    answer = answer_from_row(a.answer, a.question)
    if f.correct_answer:
        answerable, expected = True, _MARKER.sub("", f.correct_answer).strip()
    elif a.refused:
        answerable, expected = False, None
    else:
        answerable, expected = True, _MARKER.sub("", answer.text).strip()
    refs = (
        [(s["document_id"], s.get("pages", []), None) for s in f.correct_sources]
        if f.correct_sources
        else [(c.document_id, c.pages, c.title) for c in answer.citations]
    )
    sources, collections = [], []
    for document_id, pages, title in refs if answerable else []:
        document = services.catalog.find_document(document_id)
        if document is not None:
            collections.append(document.collection)
        name = document.source_name if document is not None else (title or document_id)
        sources.append(ExpectedSource(name, document_id, tuple(sorted(set(pages)))))
    collection = collection or (a.collections[0] if a.collections else None) or next(iter(collections), None)
    if collection is None:
        raise Conflict(
            "the answer searched every visible collection and cites no document: "
            "name the case's collection in the request"
        )
    notes = f"reviewed by {f.reviewer} on {f.reviewed_at:%Y-%m-%d}: {f.verdict}" if f.reviewed_at else None
    if notes and f.reason:
        notes += f"; reported as {f.reason}"
    if notes and f.comment:
        notes += f"; {f.comment}"
    return GoldenCase(
        id=f"review-{f.id[:12]}",
        collection=collection,
        question=a.question,
        answerable=answerable,
        template=TemplateRef(a.template_id, a.template_version, a.values or {}) if a.template_id else None,
        expected_answer=expected,
        expected_sources=tuple(sources),
        origin="review",
        notes=notes,
    )


@router.get("/golden")
def golden_sets(services: ServicesDep, principal: PrincipalDep) -> list[str]:
    """The names of your teams' golden sets (a name is a team's own: other teams' are not listed)."""
    principal.require(Action.REVIEW)
    return services.golden_sets.names(principal.visible_teams)


@router.get(
    "/golden/{name}",
    response_class=Response,
    responses={200: {"content": {"application/x-ndjson": {}}, "description": "One case per line."}},
)
def golden_set(
    name: str,
    services: ServicesDep,
    principal: PrincipalDep,
    team: Annotated[
        str | None, Query(max_length=128, description="One of your teams' set of that name.")
    ] = None,
) -> Response:
    """A golden set of your teams as JSON lines, the cases of collections you can see."""
    principal.require(Action.REVIEW)
    teams = principal.visible_teams
    if team is not None:
        if not principal.sees(team):
            raise NotFound(f"no golden set named {name!r}")
        teams = (team,)
    cases = services.golden_sets.cases(name, teams)
    if principal.visible_teams is not None:
        visible = {c.name for c in scope.visible_collections(services, principal)}
        cases = [c for c in cases if c.get("collection") in visible]
    if not cases:
        raise NotFound(f"no golden set named {name!r}")
    lines = "".join(json.dumps(c, ensure_ascii=False) + "\n" for c in cases)
    return Response(lines, media_type="application/x-ndjson")
