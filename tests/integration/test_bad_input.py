"""Hostile and odd input through the real API: a clear 4xx or a safe result, never a 500, and
nothing personal or deceptive kept."""

from __future__ import annotations

import io
import re
import threading
import time
import zipfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from core.access import Role
from core.settings import Settings
from tests.conftest import SAMPLES
from tests.integration.api_server import Server, serve, upload

pytestmark = pytest.mark.integration

COMMENT = "Wrong! Call me on +44 20 7946 0958 or mail ana.lopez@example.com; card 4111 1111 1111 1111"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    home = tmp_path_factory.mktemp("bad-input") / "home"
    settings = Settings(
        home=home, embedder="hashing", workers=1, rate_limit_user_per_minute=0, rate_limit_team_per_minute=0
    )
    with serve(settings) as running:
        admin = running.client(running.admin)
        assert admin.post("/v1/collections", json={"name": "kb", "team": "support"}).status_code == 201
        upload(admin, "kb", SAMPLES / "faq.md")
        yield running


@pytest.fixture(scope="module")
def curator(server: Server) -> httpx.Client:
    return server.client(server.key(Role.KNOWLEDGE_MANAGER, "support"))


def docx_bomb(unpacked_mb: int) -> bytes:
    """A real DOCX (from python-docx) with one more part of zeros: tiny packed, huge unpacked."""
    import docx

    document = docx.Document()
    document.add_paragraph("Quarterly summary.")
    plain = io.BytesIO()
    document.save(plain)
    bomb = io.BytesIO()
    with zipfile.ZipFile(plain) as source, zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            target.writestr(item, source.read(item))
        with target.open("word/media/padding.xml", "w") as padding:
            for _ in range(unpacked_mb):
                padding.write(b"\0" * (1024 * 1024))
    return bomb.getvalue()


@pytest.mark.parametrize(
    ("filters", "finds"),
    [
        ({"ingested_before": "0001-01-01T00:00:00"}, False),
        ({"ingested_after": "0001-01-01"}, True),
        ({"ingested_before": "9999-12-31T23:59:59"}, True),
        ({"ingested_after": "9999-12-31"}, False),
        ({"ingested_before": "0001-01-01T00:00:00+14:00"}, False),
    ],
)
def test_dates_at_the_ends_of_the_calendar_filter_instead_of_failing(
    curator: httpx.Client, filters: dict[str, str], finds: bool
) -> None:
    search = curator.post("/v1/search", json={"query": "warranty", "filters": filters})
    assert search.status_code == 200, search.text
    assert bool(search.json()["passages"]) is finds
    ask = curator.post("/v1/ask", json={"question": "How long is the warranty?", "filters": filters})
    assert ask.status_code == 200, ask.text
    assert bool(ask.json()["passages"]) is finds


def test_feedback_comments_reach_the_review_queue_redacted(server: Server, curator: httpx.Client) -> None:
    agent = server.client(server.key(Role.AGENT, "support"))
    answer = agent.post("/v1/ask", json={"question": "How do I reset the thermostat?"}).json()
    sent = agent.post(
        f"/v1/answers/{answer['answer_id']}/feedback", json={"helpful": False, "comment": COMMENT}
    )
    assert sent.status_code == 201, sent.text
    queue = curator.get("/v1/review").json()
    (item,) = [i for i in queue if i["answer_id"] == answer["answer_id"]]
    assert item["comment"] == "Wrong! Call me on [PHONE] or mail [EMAIL]; card [CARD]"


def test_an_office_file_that_unpacks_too_far_is_refused_before_parsing(curator: httpx.Client) -> None:
    bomb = docx_bomb(20)
    assert len(bomb) < 100_000
    response = curator.post(
        "/v1/documents", data={"collection": "kb"}, files=[("files", ("summary.docx", bomb))]
    )
    assert response.status_code == 413, response.text
    detail = response.json()["detail"]
    assert re.fullmatch(
        r"the file unpacks to 20\.\d MB, \d+ times its size; "
        r"more than 100 times is refused as a likely decompression bomb",
        detail,
    ), detail
    (failed,) = [
        d for d in curator.get("/v1/documents?collection=kb").json() if d["source_name"] == "summary.docx"
    ]
    assert failed["status"] == "failed"
    assert failed["failure_reason"] == detail


def test_bidi_and_invisible_characters_never_reach_a_stored_name(curator: httpx.Client) -> None:
    name = "invoice\u202efdp.exe\u200b\u2066.md"
    response = curator.post(
        "/v1/documents", data={"collection": "kb"}, files=[("files", (name, b"# Invoice\n\nPaid in full.\n"))]
    )
    assert response.status_code == 202, response.text
    (result,) = response.json()["results"]
    assert result["source_name"] == "invoicefdp.exe.md"
    stored = curator.get(f"/v1/documents/{result['document_id']}").json()
    assert stored["source_name"] == "invoicefdp.exe.md"


def test_a_file_name_too_long_to_upload_gets_a_reason(curator: httpx.Client, tmp_path: Path) -> None:
    response = curator.post(
        "/v1/documents", data={"collection": "kb"}, files=[("files", ("n" * 5000 + ".md", b"# Notes\n"))]
    )
    assert response.status_code == 400, response.text
    assert response.json()["detail"] == (
        "a part of the upload has a header line over 4224 bytes, most likely a file name that long: "
        "shorten the file name and upload it again"
    )
    # A long name that the upload can carry is shortened, keeping its extension.
    response = curator.post(
        "/v1/documents", data={"collection": "kb"}, files=[("files", ("n" * 3000 + ".md", b"# Notes\n"))]
    )
    assert response.status_code == 202, response.text
    assert response.json()["results"][0]["source_name"] == "n" * 117 + ".md"


@pytest.fixture(params=["sqlite", "postgresql"])
def any_catalog(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Server]:
    """A server on each catalog: PostgreSQL refuses NUL in text where SQLite stores it."""
    url = request.getfixturevalue("postgres_url") if request.param == "postgresql" else None
    settings = Settings(home=tmp_path / "home", embedder="hashing", workers=1, database_url=url)
    with serve(settings) as running:
        admin = running.client(running.admin)
        assert admin.post("/v1/collections", json={"name": "kb", "team": "support"}).status_code == 201
        upload(admin, "kb", SAMPLES / "faq.md")
        yield running


def test_text_no_store_can_hold_is_refused_at_the_door(any_catalog: Server) -> None:
    admin = any_catalog.client(any_catalog.admin)

    def post(path: str, body: str) -> httpx.Response:
        return admin.post(path, content=body.encode(), headers={"content-type": "application/json"})

    answer = admin.post("/v1/ask", json={"question": "How long is the warranty?"}).json()
    refused = {
        "NUL in a question": post("/v1/ask", '{"question": "warranty \\u0000"}'),
        "NUL in a comment": post(
            f"/v1/answers/{answer['answer_id']}/feedback", '{"helpful": false, "comment": "a\\u0000"}'
        ),
        "surrogate in a filter": post(
            "/v1/search", '{"query": "x", "filters": {"document_ids": ["\\ud800"]}}'
        ),
        "NUL in a path": admin.get("/v1/documents/%00abc"),
        "NUL in a query": admin.get("/v1/usage", params={"user": "a\x00"}),
    }
    assert {name: r.status_code for name, r in refused.items()} == dict.fromkeys(refused, 422)
    problem = refused["surrogate in a filter"].json()
    assert problem["errors"] == [
        {
            "loc": ["body", "filters", "document_ids", "0"],
            "msg": "text must not contain NUL characters (U+0000) or unpaired surrogates (U+D800 to U+DFFF)",
        }
    ]
    # A surrogate pair is one character (an emoji as an ASCII-only encoder writes it): welcome.
    assert post("/v1/search", '{"query": "warranty \\ud83d\\ude00"}').status_code == 200


def test_requests_that_open_a_rate_limit_window_together_are_never_a_500(tmp_path: Path) -> None:
    """Several clients at each window's start: their first requests insert the window's counter."""
    settings = Settings(
        home=tmp_path / "home",
        embedder="hashing",
        workers=1,
        rate_limit_user_per_minute=10_000,
        rate_limit_team_per_minute=10_000,
        rate_limit_window_s=1,
    )
    with serve(settings) as running:
        running.client(running.admin).post("/v1/collections", json={"name": "kb", "team": "support"})
        key = running.key(Role.AGENT, "support")
        clients = [running.client(key) for _ in range(8)]
        start = threading.Barrier(len(clients))
        codes: Counter[int] = Counter()

        def ask_at_window_starts(client: httpx.Client) -> None:
            for _ in range(6):
                start.wait()
                if client is clients[0]:
                    time.sleep(1 - time.time() % 1)
                start.wait()  # all at once, just after a window opened
                codes[client.post("/v1/search", json={"query": "reset"}).status_code] += 1

        threads = [threading.Thread(target=ask_at_window_starts, args=(c,)) for c in clients]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert codes == {200: 48}
