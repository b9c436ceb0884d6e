"""The one mapping from Sourcebook's errors to HTTP: RFC 9457 problem+json.

Routes raise domain errors and never build error responses. An unexpected exception is logged
with its traceback and answered with a 500 that reveals nothing of the internals.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

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


def install(app: FastAPI) -> None:
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
        return problem(exc.status_code, str(exc.detail), str(exc.detail))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem(500, "Internal server error", "an unexpected error occurred; it has been logged")
