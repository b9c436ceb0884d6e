"""The one mapping from Sourcebook's errors to HTTP: RFC 9457 problem+json.

Routes raise domain errors and never build error responses. An unexpected exception is logged
with its traceback under an error id and answered with a 500 that carries the id and reveals
nothing of the internals, on a connection that stays open.
"""

from __future__ import annotations

import logging
import uuid

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import DEFAULT_MAX_HEADER_SIZE
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core import errors as E

log = logging.getLogger(__name__)

PROBLEM = "application/problem+json"

_STATUS: list[tuple[type[E.SourcebookError], int, str]] = [
    (E.NotFound, 404, "Not found"),
    (E.Conflict, 409, "Conflict"),
    (E.InvalidFields, 422, "Unprocessable content"),
    (E.Unsupported, 415, "Unsupported media type"),
    (E.TooLarge, 413, "Content too large"),
    (E.InvalidInput, 400, "Invalid input"),
    (E.IngestFailed, 422, "Document could not be processed"),
    (E.Unauthorized, 401, "Unauthorized"),
    (E.Forbidden, 403, "Forbidden"),
    (E.QuotaExceeded, 429, "Too many requests"),
    (E.BackendUnavailable, 503, "Service unavailable"),
]


def status_of(error: type[E.SourcebookError]) -> tuple[int, str]:
    """The HTTP status and title of an error type: that of its nearest mapped ancestor."""
    for kind, status, title in _STATUS:
        if issubclass(error, kind):
            return status, title
    return 400, "Bad request"


def problem(status: int, title: str, detail: str, **extra: object) -> JSONResponse:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail} | extra
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def unexpected_error(request_line: str) -> JSONResponse:
    """Log the exception being handled under a new error id; the 500 that names the id."""
    error_id = uuid.uuid4().hex[:16]
    log.exception("unexpected error %s on %s", error_id, request_line)
    return problem(
        500,
        "Internal server error",
        f"an unexpected error occurred; it has been logged as {error_id}",
        error_id=error_id,
    )


class UnexpectedErrors:
    """Answers an exception that no handler took with ``unexpected_error``, and keeps the
    connection: Starlette's outermost handler answers too, but then re-raises to the server, and
    uvicorn closes the client's keep-alive connection under it. When the response had already
    started (a stream), closing the connection is the only way left to say it broke: re-raise."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, send_tracked)
        except Exception:
            if started:
                raise
            response = unexpected_error(f"{scope['method']} {scope['path']}")
            await response(scope, receive, send)


def _multipart_reason(exc: BaseException) -> str | None:
    """What the multipart parser found wrong, said plainly: Starlette reports every such error as
    "Invalid multipart data." (a 5,000-character file name, for one)."""
    cause: BaseException | None = exc
    seen: set[int] = set()
    while cause is not None and not isinstance(cause, MultipartParseError) and id(cause) not in seen:
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    if not isinstance(cause, MultipartParseError):
        return None
    if "header size" in str(cause):
        return (
            f"a part of the upload has a header line over {DEFAULT_MAX_HEADER_SIZE} bytes, "
            "most likely a file name that long: shorten the file name and upload it again"
        )
    return f"invalid multipart data: {cause}"


def install(app: FastAPI) -> None:
    # Inside the app's other middleware (create_app adds them after this), so metrics count these 500s.
    app.add_middleware(UnexpectedErrors)

    @app.exception_handler(E.SourcebookError)
    async def domain_error(_request: Request, exc: E.SourcebookError) -> JSONResponse:
        status, title = status_of(type(exc))
        if isinstance(exc, E.QuotaExceeded):
            response = problem(status, title, exc.reason, retry_after_s=exc.retry_after_s)
            response.headers["Retry-After"] = str(exc.retry_after_s)
            return response
        if isinstance(exc, E.InvalidFields):
            errors = [{"loc": where.split("."), "msg": what} for where, what in exc.problems]
            return problem(status, title, exc.reason, errors=errors)
        return problem(status, title, exc.reason)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"loc": [str(part) for part in e.get("loc", ())], "msg": str(e.get("msg", ""))}
            for e in exc.errors()
        ]
        return problem(422, "Invalid request", "the request does not match the API schema", errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return problem(exc.status_code, str(exc.detail), _multipart_reason(exc) or str(exc.detail))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        # Only what fails outside ``UnexpectedErrors`` (in the outer middleware) lands here.
        return unexpected_error(f"{request.method} {request.url.path}")
