from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, File, Form, Query, Response, UploadFile
from fastapi import Path as PathParam
from fastapi.responses import FileResponse

from api import scope
from api.deps import PrincipalDep, ServicesDep
from api.schemas import BoxOut, DocumentOut, HighlightOut, UploadOut, UploadResult
from api.services import Services
from core.access import Action, Principal, Role
from core.domain import Document, DocumentStatus
from core.errors import Conflict, Forbidden, InvalidInput, NotFound
from core.layout import Box, highlight
from ingest import detect
from ingest.intake import Outcome

router = APIRouter(prefix="/v1/documents", tags=["documents"])

MAX_FILES = 100


@router.post("", status_code=202)
def upload(
    services: ServicesDep,
    principal: PrincipalDep,
    collection: Annotated[str, Form(min_length=1, max_length=64)],
    files: Annotated[list[UploadFile], File(description="One or many documents.")],
    tags: Annotated[list[str] | None, Form(max_length=20)] = None,
) -> UploadOut:
    """Queue documents for ingestion; poll `/v1/jobs/{id}` or `/v1/documents/{id}` for progress."""
    team = scope.team_of(services, principal, collection)
    principal.require(Action.UPLOAD, team=team)
    if len(files) > MAX_FILES:
        raise InvalidInput(f"at most {MAX_FILES} files per request")
    # Each file is audited as it is taken in (by the intake), before its document is queued.
    submissions = [
        services.intake.add(
            collection,
            upload_file.filename or "unnamed",
            upload_file.file,
            tags=tuple(tags or ()),
            actor=principal.user,
        )
        for upload_file in files
    ]
    results = [UploadResult.model_validate(s) for s in submissions]
    # A single rejected file is the request's failure: its own error says which kind (413, 415...).
    if len(submissions) == 1 and submissions[0].outcome is Outcome.REJECTED:
        raise submissions[0].error or InvalidInput("the file was rejected")
    return UploadOut(collection=collection, results=results)


def _guard_original(services: Services, principal: Principal, doc: Document) -> None:
    """Where the index holds redacted text, the original (and its page images) is for curators."""
    policy, _ = services.catalog.pii_settings(doc.collection)
    if policy == "redact" and principal.role not in {Role.ADMIN, Role.KNOWLEDGE_MANAGER}:
        raise Forbidden(
            "this collection redacts personal data: its originals open for knowledge managers only"
        )


def _out(services: Services, doc: Document) -> DocumentOut:
    job = services.jobs.latest(doc.id)
    return DocumentOut.of(doc, job.progress if job else None, job.stage if job else None)


@router.get("")
def list_documents(
    services: ServicesDep,
    principal: PrincipalDep,
    collection: Annotated[str | None, Query(max_length=64)] = None,
    status: Annotated[str | None, Query(pattern="^(queued|processing|ready|failed)$")] = None,
) -> list[DocumentOut]:
    principal.require(Action.READ)
    if collection:
        scope.team_of(services, principal, collection)
        names = [collection]
    else:
        names = [c.name for c in scope.visible_collections(services, principal)]
    docs = [d for name in names for d in services.catalog.documents(name)]
    return [_out(services, d) for d in docs if status is None or d.status.value == status]


@router.get("/{document_id}")
def get_document(document_id: str, services: ServicesDep, principal: PrincipalDep) -> DocumentOut:
    principal.require(Action.READ)
    return _out(services, scope.document(services, principal, document_id))


@router.get("/{document_id}/original", response_class=FileResponse)
def download_original(document_id: str, services: ServicesDep, principal: PrincipalDep) -> FileResponse:
    principal.require(Action.READ)
    doc = scope.document(services, principal, document_id)
    _guard_original(services, principal, doc)
    path = services.blobs.path(doc.sha256)
    if not path.is_file():
        raise NotFound("the original file is no longer stored")
    filename = doc.source_name.rsplit("/", 1)[-1]
    return FileResponse(path, media_type=doc.media_type, filename=filename)


Offset = Annotated[int | None, Query(ge=0, le=2**31 - 1, description="A citation's char_start / char_end.")]


def _passage_boxes(services: Services, doc: Document, start: int, end: int) -> list[Box] | None:
    """The rectangles of the passage ``start``..``end`` (one per printed line); None: not known."""
    if end <= start:
        raise InvalidInput("the passage's end must come after its start")
    spans = services.catalog.passage_boxes(doc.id, start, end)
    return None if spans is None else highlight(spans, start, end)


def _highlight(
    doc: Document, start: int, end: int, boxes: list[Box] | None, context: tuple[str, int, int] = ("", 0, 0)
) -> HighlightOut:
    text, context_start, context_end = context
    return HighlightOut(
        document_id=doc.id,
        page_images=doc.media_type == detect.PDF or doc.media_type in detect.IMAGES,
        start=start,
        end=end,
        boxes_known=boxes is not None,
        pages=sorted({box.page for box in boxes or ()}),
        boxes=[BoxOut.model_validate(box) for box in boxes or ()],
        context=text,
        context_start=context_start,
        context_end=context_end,
    )


@router.get(
    "/{document_id}/pages/{page}",
    response_class=Response,
    responses={
        200: {
            "model": HighlightOut,
            "content": {"image/png": {}},
            "description": "The page as a PNG image, the cited passage drawn on it when `start` and `end` "
            "are given; with `format=json`, the passage's boxes on this page instead.",
        }
    },
)
def page_image(
    document_id: str,
    services: ServicesDep,
    principal: PrincipalDep,
    page: Annotated[int, PathParam(ge=1, le=100_000)],
    start: Offset = None,
    end: Offset = None,
    format: Annotated[Literal["png", "json"], Query()] = "png",
) -> Response:
    """A page of a PDF or an image; with a citation's offsets, the passage highlighted on it."""
    from ingest.preview import render_page

    principal.require(Action.READ)
    doc = scope.document(services, principal, document_id)
    _guard_original(services, principal, doc)
    if (start is None) != (end is None):
        raise InvalidInput("give both start and end (a citation's char_start and char_end), or neither")
    boxes = None if start is None or end is None else _passage_boxes(services, doc, start, end)
    on_page = [box for box in boxes or () if box.page == page]
    if format == "json":
        if start is None or end is None:
            raise InvalidInput("format=json returns a passage's boxes: give start and end")
        if doc.page_count is not None and not 1 <= page <= doc.page_count:
            raise NotFound(f"the document has no page {page}")
        body = _highlight(doc, start, end, None if boxes is None else on_page)
        return Response(body.model_dump_json(), media_type="application/json")
    png = render_page(
        services.blobs.path(doc.sha256),
        doc.media_type,
        page,
        max_pixels=services.settings.max_image_pixels,
        highlight=on_page,
    )
    headers = {"Cache-Control": "private, max-age=3600"}
    if start is not None:
        headers["X-Highlighted-Boxes"] = str(len(on_page)) if boxes is not None else "unknown"
    return Response(png, media_type="image/png", headers=headers)


@router.get("/{document_id}/passage")
def passage(
    document_id: str,
    services: ServicesDep,
    principal: PrincipalDep,
    start: Annotated[int, Query(ge=0, le=2**31 - 1, description="A citation's char_start.")],
    end: Annotated[int, Query(ge=1, le=2**31 - 1, description="A citation's char_end.")],
) -> HighlightOut:
    """Where a cited passage sits: its boxes on every page it spans (draw them, or fetch each page
    with the same offsets), and the text around it for documents without page images."""
    principal.require(Action.READ)
    doc = scope.document(services, principal, document_id)
    boxes = _passage_boxes(services, doc, start, end)
    return _highlight(doc, start, end, boxes, services.catalog.passage_context(doc.id, start, end))


@router.post("/{document_id}/retry", status_code=202)
def retry_document(document_id: str, services: ServicesDep, principal: PrincipalDep) -> UploadResult:
    """Process a failed document again from its stored original (a knowledge manager's retry)."""
    doc = scope.document(services, principal, document_id)
    principal.require(Action.UPLOAD, team=doc.team)
    if doc.status is not DocumentStatus.FAILED:
        raise Conflict(f"only a failed document can be retried; this one is {doc.status.value}")
    path = services.blobs.path(doc.sha256)
    if not path.is_file():
        raise NotFound("the original file is no longer stored; upload it again")
    submission = services.intake.add_path(doc.collection, path, name=doc.source_name, retry_failed=True)
    services.audit.record(
        principal.user, "retry", doc.collection, team=doc.team, detail={"document_id": doc.id}
    )
    return UploadResult.model_validate(submission)


@router.delete("/{document_id}", status_code=204)
def delete_document(document_id: str, services: ServicesDep, principal: PrincipalDep) -> Response:
    doc = scope.document(services, principal, document_id)
    principal.require(Action.UPLOAD, team=doc.team)
    services.library.delete_document(doc.id)
    services.audit.record(
        principal.user,
        "delete",
        doc.collection,
        team=doc.team,
        detail={"document_id": doc.id, "source_name": doc.source_name},
    )
    return Response(status_code=204)
