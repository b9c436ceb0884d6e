"""Cited passages on the page, over real HTTP: boxes kept at ingest (text PDF and scan), the page
image with the passage drawn on it, the boxes as JSON, a passage over two pages, text documents
(no page image: the text around the passage), bad offsets and team access."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image

from core.access import Role
from core.settings import Settings
from tests.conftest import SAMPLES
from tests.integration.api_server import Server, serve, upload

pytestmark = pytest.mark.integration

MANUAL = "t-series-user-manual.pdf"
SCAN = "warranty-policy-letter-scanned.pdf"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    home = tmp_path_factory.mktemp("highlight") / "home"
    settings = Settings(home=home, embedder="hashing", workers=2, reranker="none")
    with serve(settings) as running:
        admin = running.client(running.admin)
        for name, team in (("support-kb", "support"), ("legal-kb", "legal")):
            assert admin.post("/v1/collections", json={"name": name, "team": team}).status_code == 201
        upload(admin, "support-kb", SAMPLES / MANUAL, SAMPLES / SCAN, SAMPLES / "faq.md")
        yield running


@pytest.fixture(scope="module")
def support(server: Server) -> httpx.Client:
    return server.client(server.key(Role.AGENT, "support"))


def _document_id(client: httpx.Client, source: str) -> str:
    docs = client.get("/v1/documents", params={"collection": "support-kb"}).json()
    return next(str(d["id"]) for d in docs if d["source_name"] == source)


def _passages(client: httpx.Client, query: str, document_id: str) -> list[dict[str, Any]]:
    body = {"query": query, "filters": {"document_ids": [document_id]}, "limit": 20, "rerank": False}
    response = client.post("/v1/search", json=body)
    assert response.status_code == 200, response.text
    return list(response.json()["passages"])


def _yellow(png: bytes, box: dict[str, float]) -> float:
    """The share of the box's pixels that the highlighter turned yellow."""
    image = Image.open(io.BytesIO(png)).convert("RGB")
    w, h = image.size
    crop = image.crop(
        (int(box["x0"] * w), int(box["y0"] * h), int(box["x1"] * w) + 1, int(box["y1"] * h) + 1)
    )
    rgb = np.asarray(crop, dtype=np.int16)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    return float(((r - b > 50) & (g - b > 30)).mean())  # paper and ink are grey: no blue deficit


@pytest.mark.parametrize(("source", "query"), [(MANUAL, "reset the thermostat"), (SCAN, "warranty period")])
def test_a_citation_is_drawn_on_its_page(support: httpx.Client, source: str, query: str) -> None:
    document_id = _document_id(support, source)
    passage = _passages(support, query, document_id)[0]
    # A quote inside the passage, as a citation gives it: document offsets of one of its sentences.
    start = passage["char_start"] + passage["text"].index(" ") + 1
    end = min(start + 60, passage["char_end"])
    page = passage["pages"][0]

    found = support.get(f"/v1/documents/{document_id}/passage", params={"start": start, "end": end})
    assert found.status_code == 200, found.text
    body = found.json()
    assert body["boxes_known"] is True and body["page_images"] is True
    assert body["boxes"] and set(body["pages"]) <= set(passage["pages"])
    for box in body["boxes"]:
        assert 0 <= box["x0"] < box["x1"] <= 1 and 0 <= box["y0"] < box["y1"] <= 1
    assert body["context"][body["context_start"] : body["context_end"]].split() == (
        passage["text"][start - passage["char_start"] : end - passage["char_start"]].split()
    )

    page = body["boxes"][0]["page"]
    plain = support.get(f"/v1/documents/{document_id}/pages/{page}")
    marked = support.get(f"/v1/documents/{document_id}/pages/{page}", params={"start": start, "end": end})
    assert marked.status_code == 200 and marked.headers["content-type"] == "image/png"
    on_page = [b for b in body["boxes"] if b["page"] == page]
    assert marked.headers["x-highlighted-boxes"] == str(len(on_page))
    assert _yellow(marked.content, on_page[0]) > 0.3
    assert _yellow(plain.content, on_page[0]) < 0.05

    as_json = support.get(
        f"/v1/documents/{document_id}/pages/{page}", params={"start": start, "end": end, "format": "json"}
    ).json()
    assert as_json["boxes"] == on_page and as_json["pages"] == [page]


def test_a_passage_over_two_pages_is_highlighted_on_both(support: httpx.Client) -> None:
    document_id = _document_id(support, MANUAL)
    passages = _passages(support, "thermostat wiring display schedule", document_id)
    first = min(passages, key=lambda p: p["char_start"])
    later = [p for p in passages if min(p["pages"]) > max(first["pages"])]
    assert later, "the manual's passages should reach a second page"
    second = min(later, key=lambda p: p["char_start"])
    start, end = first["char_end"] - 30, second["char_start"] + 30

    body = support.get(f"/v1/documents/{document_id}/passage", params={"start": start, "end": end}).json()
    assert len(body["pages"]) >= 2
    for page in (body["pages"][0], body["pages"][-1]):
        response = support.get(
            f"/v1/documents/{document_id}/pages/{page}", params={"start": start, "end": end}
        )
        assert int(response.headers["x-highlighted-boxes"]) >= 1
        box = next(b for b in body["boxes"] if b["page"] == page)
        assert _yellow(response.content, box) > 0.3


def test_a_text_document_shows_the_text_around_the_passage(support: httpx.Client) -> None:
    document_id = _document_id(support, "faq.md")
    passage = _passages(support, "warranty", document_id)[0]
    start, end = passage["char_start"], passage["char_end"]
    body = support.get(f"/v1/documents/{document_id}/passage", params={"start": start, "end": end}).json()
    assert body["boxes_known"] is False and body["boxes"] == [] and body["page_images"] is False
    assert body["context"][body["context_start"] : body["context_end"]] == passage["text"]
    page = support.get(f"/v1/documents/{document_id}/pages/1", params={"start": start, "end": end})
    assert page.status_code == 415
    assert page.json()["detail"] == "page images exist for PDFs and images only; open the original instead"


def test_bad_offsets_are_rejected_with_a_reason(support: httpx.Client) -> None:
    document_id = _document_id(support, MANUAL)
    backwards = support.get(f"/v1/documents/{document_id}/passage", params={"start": 50, "end": 10})
    assert (backwards.status_code, backwards.json()["detail"]) == (
        400,
        "the passage's end must come after its start",
    )
    half = support.get(f"/v1/documents/{document_id}/pages/1", params={"start": 5})
    assert (half.status_code, half.json()["detail"]) == (
        400,
        "give both start and end (a citation's char_start and char_end), or neither",
    )
    nowhere = support.get(f"/v1/documents/{document_id}/passage", params={"start": 10**9, "end": 10**9 + 5})
    assert (nowhere.status_code, nowhere.json()["detail"]) == (
        404,
        "no text of this document holds the passage",
    )


def test_another_teams_passage_stays_hidden(server: Server, support: httpx.Client) -> None:
    legal = server.client(server.key(Role.AGENT, "legal"))
    document_id = _document_id(support, SCAN)
    for path in (f"/v1/documents/{document_id}/passage", f"/v1/documents/{document_id}/pages/1"):
        response = legal.get(path, params={"start": 0, "end": 40})
        assert response.status_code == 404, path
