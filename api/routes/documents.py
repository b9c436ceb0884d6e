from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Query, Response, UploadFile
from fastapi import Path as PathParam
from fastapi.responses import FileResponse

from api import scope
from api.deps import PrincipalDep, ServicesDep
from api.schemas import DocumentOut, UploadOut, UploadResult
from api.services import Services
from core.access import Action, Principal, Role
from core.domain import Document, DocumentStatus
from core.errors import Conflict, Forbidden, InvalidInput, NotFound, TooLarge, Unsupported
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
    info = scope.collection(services, principal, collection)
    principal.require(Action.UPLOAD, team=info.team)
    if len(files) > MAX_FILES:
        raise InvalidInput(f"at most {MAX_FILES} files per request")
    results = []
    for upload_file in files:
        submission = services.intake.add(
            collection, upload_file.filename or "unnamed", upload_file.file, tags=tuple(tags or ())
        )
        results.append(
            UploadResult(
                source_name=submission.source_name,
                outcome=submission.outcome.value,
                document_id=submission.document_id,
                job_id=submission.job_id,
                reason=submission.reason,
            )
        )
    services.audit.record(
        principal.user,
        "upload",
        collection,
        team=info.team,
        detail={"files": [r.model_dump() for r in results]},
    )
    if len(results) == 1 and results[0].outcome == Outcome.REJECTED.value:
        _reject(results[0].reason or "the file was rejected")
    return UploadOut(collection=collection, results=results)


def _reject(reason: str) -> None:
    """A single rejected file is the request's failure: say which kind, with its status code."""
    if reason.startswith("exceeds the"):
        raise TooLarge(reason)
    if reason.startswith("not a supported document type"):
        raise Unsupported(reason)
    raise InvalidInput(reason)


def _guard_original(services: Services, principal: Principal, doc: Document) -> None:
    """Where the index holds redacted text, the original (and its page images) is for curators."""
    policy, _ = services.catalog.pii_settings(doc.collection)
    if policy == "redact" and principal.role not in {Role.ADMIN, Role.KNOWLEDGE_MANAGER}:
        raise Forbidden(
            "this collection redacts personal data: its originals open for knowledge managers only"
        )


def _out(services: Services, doc: Document) -> DocumentOut:
    job = services.catalog.latest_job(doc.id)
    return DocumentOut.of(doc, job.progress if job else None, job.stage if job else None)


@router.get("")
def list_documents(
    services: ServicesDep,
    principal: PrincipalDep,
    collection: Annotated[str | None, Query(max_length=64)] = None,
    status: Annotated[str | None, Query(pattern="^(queued|processing|ready|failed)$")] = None,
) -> list[DocumentOut]:
    principal.require(Action.READ)
    names = (
        [scope.collection(services, principal, collection).name]
        if collection
        else [c.name for c in scope.visible_collections(services, principal)]
    )
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


@router.get(
    "/{document_id}/pages/{page}",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}, "description": "The page as a PNG image."}},
)
def page_image(
    document_id: str,
    services: ServicesDep,
    principal: PrincipalDep,
    page: Annotated[int, PathParam(ge=1, le=100_000)],
) -> Response:
    from ingest.preview import render_page

    principal.require(Action.READ)
    doc = scope.document(services, principal, document_id)
    _guard_original(services, principal, doc)
    png = render_page(
        services.blobs.path(doc.sha256), doc.media_type, page, max_pixels=services.settings.max_image_pixels
    )
    return Response(png, media_type="image/png", headers={"Cache-Control": "private, max-age=3600"})


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
    return UploadResult(
        source_name=submission.source_name,
        outcome=submission.outcome.value,
        document_id=submission.document_id,
        job_id=submission.job_id,
        reason=submission.reason,
    )


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
