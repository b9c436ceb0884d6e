"""The mapping from the error tree to HTTP is complete: every error type has its own status."""

from __future__ import annotations

import inspect

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api import errors as http
from core import errors as E
from ingest.blobs import Oversized

ERRORS = sorted(
    (c for _, c in inspect.getmembers(E, inspect.isclass) if issubclass(c, E.SourcebookError)),
    key=lambda c: c.__name__,
)
EXPECTED = {
    E.SourcebookError: 400,
    E.NotFound: 404,
    E.Conflict: 409,
    E.InvalidInput: 400,
    E.InvalidFields: 422,
    E.Unsupported: 415,
    E.TooLarge: 413,
    E.IngestFailed: 422,
    E.Unauthorized: 401,
    E.Forbidden: 403,
    E.QuotaExceeded: 429,
    E.BackendUnavailable: 503,
}


def _raise(error: type[E.SourcebookError]) -> E.SourcebookError:
    if error is E.QuotaExceeded:
        return E.QuotaExceeded("over the limit", 7)
    if error is E.InvalidFields:
        return E.InvalidFields("wrong", [("body.name", "too long")])
    return error(f"a {error.__name__}")


@pytest.mark.parametrize("error", [e for e in ERRORS if e is not E.SourcebookError], ids=lambda e: e.__name__)
def test_every_error_type_is_named_in_the_mapping(error: type[E.SourcebookError]) -> None:
    mapped = [kind for kind, _, _ in http._STATUS]
    assert error in mapped, f"{error.__name__} has no HTTP status in api/errors.py"


def test_each_error_type_has_its_status() -> None:
    assert {e: http.status_of(e)[0] for e in ERRORS} == EXPECTED


def test_a_subclass_comes_before_its_parent_in_the_mapping() -> None:
    order = [kind for kind, _, _ in http._STATUS]
    for i, kind in enumerate(order):
        assert not any(issubclass(kind, earlier) for earlier in order[:i]), kind.__name__


def test_an_adapters_own_error_takes_its_parents_status() -> None:
    assert http.status_of(Oversized)[0] == 413


@pytest.mark.parametrize("error", ERRORS, ids=lambda e: e.__name__)
def test_a_raised_error_is_answered_as_problem_json_with_its_status(error: type[E.SourcebookError]) -> None:
    app = FastAPI()
    http.install(app)

    @app.get("/boom")
    def boom() -> None:
        raise _raise(error)

    response = TestClient(app).get("/boom")
    assert response.status_code == EXPECTED[error]
    assert response.headers["content-type"] == http.PROBLEM
    body = response.json()
    assert body["status"] == EXPECTED[error] and body["detail"] == _raise(error).reason
