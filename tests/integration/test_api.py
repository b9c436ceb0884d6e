"""The query service over real HTTP (uvicorn): access control, errors, uploads, search, ask, SSE."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from core.access import Role
from core.settings import Settings
from tests.conftest import SAMPLES
from tests.integration.api_server import Server, serve, upload

pytestmark = pytest.mark.integration

LEGAL_TEXT = b"# Legal hold\n\nError E-104 in legal matters means the litigation hold notice expired.\n"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    home = tmp_path_factory.mktemp("api") / "home"
    settings = Settings(home=home, embedder="hashing", workers=2, reranker="none")
    with serve(settings) as running:
        admin = running.client(running.admin)
        for name, team in (("support-kb", "support"), ("legal-kb", "legal")):
            assert admin.post("/v1/collections", json={"name": name, "team": team}).status_code == 201
        upload(
            admin,
            "support-kb",
            SAMPLES / "faq.md",
            SAMPLES / "warranty-policy-letter-scanned.pdf",
            SAMPLES / "troubleshooting-guide.html",
        )
        legal = tmp_path_factory.mktemp("legal") / "legal-hold.md"
        legal.write_bytes(LEGAL_TEXT)
        upload(admin, "legal-kb", legal)
        yield running


@pytest.fixture(scope="module")
def support(server: Server) -> httpx.Client:
    return server.client(server.key(Role.AGENT, "support"))


@pytest.fixture(scope="module")
def legal(server: Server) -> httpx.Client:
    return server.client(server.key(Role.AGENT, "legal"))


def _legal_doc_id(server: Server) -> str:
    docs = server.client(server.admin).get("/v1/documents", params={"collection": "legal-kb"}).json()
    return str(docs[0]["id"])


def test_health_ready_metrics_and_offline_docs(server: Server) -> None:
    client = server.client()
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json()["status"] == "ready"
    docs = client.get("/docs").text
    assert "cdn.jsdelivr.net" not in docs and "unpkg.com" not in docs
    assert client.get("/metrics").text.count("sourcebook_http_requests_total") > 0


def test_requests_are_counted_by_route_and_status(server: Server) -> None:
    client = server.client()
    client.post("/v1/search", json={"query": "reset"})  # no key: a 401 from inside the route
    client.get("/no/such/route")
    metrics = client.get("/metrics").text
    assert re.search(
        r'sourcebook_http_requests_total\{method="POST",route="/v1/search",status="401"\} [1-9]', metrics
    ), metrics
    assert 'sourcebook_http_requests_total{method="GET",route="unmatched",status="404"}' in metrics
    assert re.search(
        r'sourcebook_http_request_seconds_count\{method="POST",route="/v1/search"\} [1-9]', metrics
    )


def test_a_key_is_required_and_errors_are_problem_json(server: Server) -> None:
    response = server.client().post("/v1/search", json={"query": "reset"})
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"] == "an API key is required (Authorization: Bearer <key>)"
    bad = server.client("sb_000000000000_nope").post("/v1/search", json={"query": "reset"})
    assert (bad.status_code, bad.json()["detail"]) == (401, "unknown or revoked API key")


def test_agents_cannot_upload_and_validation_is_422(support: httpx.Client) -> None:
    denied = support.post(
        "/v1/documents", data={"collection": "support-kb"}, files=[("files", ("a.txt", b"hello there"))]
    )
    assert (denied.status_code, denied.json()["detail"]) == (403, "the agent role may not upload")
    invalid = support.post("/v1/search", json={"query": "", "limit": 1000})
    assert invalid.status_code == 422
    assert invalid.json()["title"] == "Invalid request"


def test_bad_uploads_get_the_right_status_and_reason(server: Server) -> None:
    manager = server.client(server.key(Role.KNOWLEDGE_MANAGER, "support"))
    empty = manager.post(
        "/v1/documents", data={"collection": "support-kb"}, files=[("files", ("e.txt", b""))]
    )
    assert (empty.status_code, empty.json()["detail"]) == (400, "file is empty")
    exe = manager.post(
        "/v1/documents",
        data={"collection": "support-kb"},
        files=[("files", ("setup.exe", b"MZ\x90\x00\x03" + b"\x00" * 300))],
    )
    assert exe.status_code == 415
    assert exe.json()["detail"].startswith("not a supported document type")
    other_team = manager.post(
        "/v1/documents", data={"collection": "legal-kb"}, files=[("files", ("a.txt", b"hello"))]
    )
    assert other_team.status_code == 404


def test_an_upload_over_the_limit_is_refused_before_it_is_read(tmp_path: Path) -> None:
    # A body shorter than its Content-Length would hang a real connection: use the ASGI client.
    from fastapi.testclient import TestClient

    from sourcebook.wiring import create_api

    settings = Settings(home=tmp_path / "home", embedder="hashing", reranker="none")
    with TestClient(create_api(settings)) as client:
        response = client.post(
            "/v1/documents",
            headers={"content-length": str(settings.max_upload_bytes + 2 * 1024 * 1024)},
            content=b"",
        )
    assert response.status_code == 413
    assert response.json()["detail"] == "exceeds the 200 MB upload limit"


def test_search_never_returns_another_teams_passages(support: httpx.Client, legal: httpx.Client) -> None:
    body = {"query": "What does error E-104 mean in legal matters?", "limit": 20}
    for mode in ("dense", "sparse", "hybrid"):
        found = support.post("/v1/search", json=body | {"mode": mode}).json()["passages"]
        assert all(p["collection"] == "support-kb" for p in found), mode
        legal_found = legal.post("/v1/search", json=body | {"mode": mode}).json()["passages"]
        assert legal_found and all(p["collection"] == "legal-kb" for p in legal_found), mode
    named = support.post("/v1/search", json=body | {"collections": ["legal-kb"]})
    assert (named.status_code, named.json()["detail"]) == (404, "no collection named 'legal-kb'")


def test_documents_downloads_and_pages_are_team_scoped(server: Server, support: httpx.Client) -> None:
    listed = support.get("/v1/documents").json()
    assert {d["collection"] for d in listed} == {"support-kb"}
    status = {d["source_name"]: d["status"] for d in listed}
    for name in ("faq.md", "warranty-policy-letter-scanned.pdf", "troubleshooting-guide.html"):
        assert status[name] == "ready", status
    legal_id = _legal_doc_id(server)
    for path in (
        f"/v1/documents/{legal_id}",
        f"/v1/documents/{legal_id}/original",
        f"/v1/documents/{legal_id}/pages/1",
    ):
        response = support.get(path)
        assert (response.status_code, response.json()["detail"]) == (404, f"no document with id '{legal_id}'")
    scan = next(d for d in listed if d["source_name"].endswith("scanned.pdf"))
    page = support.get(f"/v1/documents/{scan['id']}/pages/1")
    assert page.headers["content-type"] == "image/png" and page.content[:4] == b"\x89PNG"
    assert support.get(f"/v1/documents/{scan['id']}/pages/9").status_code == 404
    original = support.get(f"/v1/documents/{scan['id']}/original")
    assert original.content == (SAMPLES / "warranty-policy-letter-scanned.pdf").read_bytes()


def test_ask_answers_with_citations_or_refuses(support: httpx.Client) -> None:
    answer = support.post("/v1/ask", json={"question": "How much does CarePlus cost?"}).json()
    assert answer["passages"]
    assert all(p["collection"] == "support-kb" for p in answer["passages"])
    if not answer["refused"]:
        assert answer["citations"]
        for citation in answer["citations"]:
            assert f"[{citation['marker']}]" in answer["answer"]
            assert citation["pages"]


def test_ask_streams_server_sent_events(support: httpx.Client) -> None:
    events: list[tuple[str, object]] = []
    body = {"question": "How do I fix short cycling?", "stream": True}
    with support.stream("POST", "/v1/ask", json=body) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        event = ""
        for line in response.iter_lines():
            if line.startswith("event: "):
                event = line.removeprefix("event: ")
            elif line.startswith("data: "):
                events.append((event, json.loads(line.removeprefix("data: "))))
    names = [name for name, _ in events]
    assert names[0] == "passages" and names[-2:] == ["citations", "done"]
    passages = events[0][1]
    assert isinstance(passages, list) and all(p["collection"] == "support-kb" for p in passages)


def test_delete_document_and_collection(server: Server, tmp_path: Path) -> None:
    admin = server.client(server.admin)
    assert admin.post("/v1/collections", json={"name": "scratch", "team": "support"}).status_code == 201
    again = admin.post("/v1/collections", json={"name": "scratch", "team": "support"})
    assert (again.status_code, again.json()["detail"]) == (
        409,
        "the collection name 'scratch' is taken: choose another name",
    )
    note = tmp_path / "note.txt"
    note.write_bytes(b"The scratch note says the hotline moved.\n")
    [result] = upload(admin, "scratch", note)
    assert admin.delete(f"/v1/documents/{result['document_id']}").status_code == 204
    assert admin.get(f"/v1/documents/{result['document_id']}").status_code == 404
    assert admin.delete("/v1/collections/scratch").status_code == 204
    assert admin.get("/v1/collections/scratch").status_code == 404
