"""Request and response bodies of the HTTP API (pydantic lives at the edge only)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from enum import Enum
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from core.domain import Answer, Document


def _value(member: object) -> object:
    """Domain enums arrive as members; the API speaks their values."""
    return member.value if isinstance(member, Enum) else member


def _mapping(pairs: object) -> object:
    """Domain values keep mappings as (key, value) pairs, to stay frozen and hashable."""
    return dict(pairs) if isinstance(pairs, tuple) else pairs


EnumValue = Annotated[str, BeforeValidator(_value)]


class Filters(BaseModel):
    model_config = ConfigDict(extra="forbid")

    document_ids: list[str] = Field(default_factory=list, max_length=100)
    media_types: list[str] = Field(default_factory=list, max_length=20)
    tags: list[str] = Field(default_factory=list, max_length=20)
    ingested_after: datetime | None = None
    ingested_before: datetime | None = None


class SearchBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str = Field(min_length=1, max_length=2000)
    collections: list[str] = Field(
        default_factory=list, max_length=50, description="Empty: every visible one."
    )
    filters: Filters = Field(default_factory=Filters)
    limit: int = Field(10, ge=1, le=50)
    mode: Literal["dense", "sparse", "hybrid"] = "hybrid"
    rerank: bool = True


class TemplateRef(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=64)
    version: int | None = Field(None, ge=1, le=1_000_000, description="Default: the latest version.")
    values: dict[str, Any] = Field(default_factory=dict, max_length=20, description="Field name -> value.")


class AskBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: str | None = Field(None, min_length=1, max_length=2000, description="Or a template.")
    template: TemplateRef | None = Field(
        None, description="A question template and the values chosen in its form, instead of a question."
    )
    collections: list[str] = Field(
        default_factory=list, max_length=50, description="Empty: the template's, else every visible one."
    )
    filters: Filters = Field(
        default_factory=Filters, description="With a template, a filter given here replaces the template's."
    )
    passages: int = Field(6, ge=1, le=20, description="How many passages the answer may draw on.")
    stream: bool = False

    @model_validator(mode="after")
    def _question_or_template(self) -> AskBody:
        if (self.question is None) == (self.template is None):
            raise ValueError("give either a question or a template with its values, not both")
        return self


class PassageOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    chunk_id: str
    document_id: str
    collection: str
    source_name: str
    text: str
    pages: list[int]
    section_path: list[str]
    char_start: int
    char_end: int
    score: float


class CitationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    marker: int
    document_id: str
    title: str
    pages: list[int]
    quote: str
    char_start: int
    char_end: int
    support: float


class BoxOut(BaseModel):
    """A rectangle on a page, in fractions of the page's width (x) and height (y) from its top left."""

    model_config = ConfigDict(from_attributes=True)

    page: int
    x0: float
    y0: float
    x1: float
    y1: float


class HighlightOut(BaseModel):
    """Where a cited passage (the document's text ``start``..``end``, as a citation gives them) sits."""

    document_id: str
    start: int
    end: int
    boxes_known: bool = Field(
        description="False where the parser kept no positions (DOCX, HTML, Markdown, text, older uploads)."
    )
    page_images: bool = Field(True, description="Whether the document has page images (PDFs and images).")
    pages: list[int] = Field(description="The pages the highlighted boxes are on.")
    boxes: list[BoxOut] = Field(description="One per printed line of the passage (words merged).")
    context: str = Field("", description="The text around the passage, as the index holds it.")
    context_start: int = Field(0, description="Where the passage starts in `context`.")
    context_end: int = Field(0, description="Where the passage ends in `context`.")


class TemplateStamp(BaseModel):
    id: str
    version: int


class ReviewedOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    by: str
    at: datetime
    verdict: str


class AnswerOut(BaseModel):
    answer_id: str = Field("", description="What feedback on this answer refers to.")
    question: str
    answer: str
    citations: list[CitationOut]
    refused: bool
    refusal_reason: str | None
    escalate: bool = Field(description="True when a person should take the question over.")
    notes: list[str] = Field(
        default_factory=list, description="What the citation check removed, if anything."
    )
    passages: list[PassageOut]
    provenance: dict[str, str] = Field(
        default_factory=dict, description="Generator, model, prompt and embedder versions behind it."
    )
    cached: bool = Field(False, description="Served from the answer cache.")
    flags: list[str] = Field(
        default_factory=list, description="Text in the question or passages phrased as instructions."
    )
    template: TemplateStamp | None = Field(None, description="The template and version it was asked with.")
    reviewed: ReviewedOut | None = Field(
        None, description="Set when a reviewer's approved answer was served instead of a generated one."
    )
    latency_ms: float = 0.0

    @classmethod
    def of(
        cls,
        a: Answer,
        *,
        cached: bool = False,
        flags: Sequence[str] = (),
        answer_id: str = "",
        template: tuple[str, int] | None = None,
        reviewed: ReviewedOut | None = None,
        latency_ms: float = 0.0,
    ) -> AnswerOut:
        return cls(
            answer_id=answer_id,
            template=TemplateStamp(id=template[0], version=template[1]) if template else None,
            reviewed=reviewed,
            latency_ms=round(latency_ms, 1),
            question=a.question,
            answer=a.text,
            citations=[CitationOut.model_validate(c) for c in a.citations],
            refused=a.refused,
            refusal_reason=a.refusal_reason,
            escalate=a.refused,
            notes=list(a.notes),
            passages=[PassageOut.model_validate(p) for p in a.passages],
            provenance=dict(a.provenance),
            cached=cached,
            flags=list(flags),
        )


class SearchOut(BaseModel):
    query: str
    passages: list[PassageOut]


class DocumentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    collection: str
    source_name: str
    title: str | None
    media_type: str
    size: int
    page_count: int | None
    status: EnumValue
    failure_reason: str | None
    version: int
    tags: list[str]
    progress: float | None = None
    stage: str | None = None
    created_at: datetime | None
    updated_at: datetime | None
    pii_found: Annotated[dict[str, int] | None, BeforeValidator(_mapping)] = Field(
        None, description="Personal data found, per kind, where the collection screens for it."
    )

    @classmethod
    def of(cls, d: Document, progress: float | None = None, stage: str | None = None) -> DocumentOut:
        return cls.model_validate(d).model_copy(update={"progress": progress, "stage": stage})


class UploadResult(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    source_name: str
    outcome: Annotated[Literal["queued", "unchanged", "rejected"], BeforeValidator(_value)]
    document_id: str | None
    job_id: str | None
    reason: str | None


class UploadOut(BaseModel):
    collection: str
    results: list[UploadResult]


class JobOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    collection: str
    source_name: str
    document_id: str | None
    state: EnumValue
    stage: str
    progress: float
    attempts: int
    error: str | None


PiiPolicyName = Literal["allow", "flag", "redact"]


def _compiles(patterns: dict[str, str]) -> dict[str, str]:
    for label, pattern in patterns.items():
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"pattern {label!r} is not a valid regular expression: {exc}") from exc
    return patterns


PiiPatterns = Annotated[
    dict[Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")], Annotated[str, Field(max_length=500)]],
    Field(max_length=20, description="Your own kinds of personal data: label -> regular expression."),
    AfterValidator(_compiles),
]


class CollectionBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    team: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    description: str = Field("", max_length=2000)
    pii_policy: PiiPolicyName = "allow"
    pii_patterns: PiiPatterns = Field(default_factory=dict)


class CollectionPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: str | None = Field(None, max_length=2000)
    pii_policy: PiiPolicyName | None = Field(
        None, description="allow; flag (record what is found); redact (index the redacted text)."
    )
    pii_patterns: PiiPatterns | None = None


class CollectionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    name: str
    team: str
    description: str
    document_count: int
    chunk_count: int
    pii_policy: str = "allow"
    pii_patterns: Annotated[dict[str, str], BeforeValidator(_mapping)] = Field(default_factory=dict)


class ReindexOut(BaseModel):
    collection: str
    queued: int | None = Field(
        description="Documents queued again; null when a worker queues them (the cluster setup)."
    )
