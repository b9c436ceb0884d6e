"""The UI's only way to the service: the public HTTP API, through httpx, with the caller's key.

Every method maps one endpoint and returns its JSON as plain dicts and lists; errors arrive as
``ApiError`` carrying the problem+json ``detail`` the API wrote for people to read.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

Json = dict[str, Any]

ASK_PATH = "/v1/ask"


class ApiError(Exception):
    """A request the API refused or could not serve, with the message it gave."""

    def __init__(self, status: int, detail: str, errors: tuple[str, ...] = ()) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.errors = errors

    def __str__(self) -> str:
        extra = "; ".join(e for e in self.errors if e.rsplit(": ", 1)[-1] not in self.detail)
        return f"{self.detail} ({extra})" if extra else self.detail


@dataclass(frozen=True, slots=True)
class StreamEvent:
    """One server-sent event of a streamed answer: passages, sentence, citations or done."""

    event: str
    data: Any


def _raise_for(response: httpx.Response) -> None:
    if response.is_success:
        return
    try:
        body = response.json()
    except ValueError:
        body = {}
    detail = str(body.get("detail") or response.reason_phrase or f"HTTP {response.status_code}")
    errors = tuple(
        f"{'.'.join(str(p) for p in e.get('loc', []) if p != 'body') or 'request'}: {e.get('msg', '')}"
        for e in body.get("errors", [])
        if isinstance(e, dict)
    )
    raise ApiError(response.status_code, detail, errors)


def parse_sse(lines: Iterator[str]) -> Iterator[StreamEvent]:
    """Server-sent events from text lines: ``event:`` then ``data:`` lines, a blank line ends one."""
    event, data = "message", list[str]()
    for line in lines:
        if not line:
            if data:
                yield StreamEvent(event, json.loads("\n".join(data)))
            event, data = "message", []
        elif line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].lstrip())
    if data:
        yield StreamEvent(event, json.loads("\n".join(data)))


class SourcebookClient:
    """A signed-in session with the API. ``transport`` lets tests put a fake at the HTTP edge."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 120.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(
            base_url=self.base_url,
            headers={"Authorization": f"Bearer {api_key}"},
            timeout=timeout,
            transport=transport,
        )

    def close(self) -> None:
        self._http.close()

    def _get(self, path: str, **params: Any) -> Any:
        response = self._http.get(path, params={k: v for k, v in params.items() if v not in (None, "")})
        _raise_for(response)
        return response.json()

    def _send(self, method: str, path: str, body: Any = None) -> Any:
        response = self._http.request(method, path, json=body)
        _raise_for(response)
        return response.json() if response.content else None

    # who am I
    def me(self) -> Json:
        result: Json = self._get("/v1/me")
        return result

    # collections and documents
    def collections(self) -> list[Json]:
        result: list[Json] = self._get("/v1/collections")
        return result

    def create_collection(self, name: str, team: str, description: str = "") -> Json:
        result: Json = self._send(
            "POST", "/v1/collections", {"name": name, "team": team, "description": description}
        )
        return result

    def reindex(self, collection: str) -> Json:
        result: Json = self._send("POST", f"/v1/collections/{collection}/reindex")
        return result

    def documents(self, collection: str | None = None) -> list[Json]:
        result: list[Json] = self._get("/v1/documents", collection=collection)
        return result

    def document(self, document_id: str) -> Json:
        result: Json = self._get(f"/v1/documents/{document_id}")
        return result

    def upload(self, collection: str, name: str, content: bytes, tags: Sequence[str] = ()) -> Json:
        """Upload one file; the result row says queued, unchanged or rejected (with why)."""
        response = self._http.post(
            "/v1/documents",
            data={"collection": collection, "tags": list(tags)},
            files=[("files", (name, content))],
        )
        _raise_for(response)
        results: list[Json] = response.json()["results"]
        return results[0]

    def job(self, job_id: str) -> Json:
        result: Json = self._get(f"/v1/jobs/{job_id}")
        return result

    def retry(self, document_id: str) -> Json:
        result: Json = self._send("POST", f"/v1/documents/{document_id}/retry")
        return result

    def delete_document(self, document_id: str) -> None:
        self._send("DELETE", f"/v1/documents/{document_id}")

    def page_image(
        self, document_id: str, page: int, start: int | None = None, end: int | None = None
    ) -> bytes:
        """The page as PNG; with a citation's offsets, the cited passage drawn on it."""
        params = {"start": start, "end": end} if start is not None and end is not None else {}
        response = self._http.get(f"/v1/documents/{document_id}/pages/{page}", params=params)
        _raise_for(response)
        return response.content

    def passage(self, document_id: str, start: int, end: int) -> Json:
        """Where a cited passage sits: its boxes per page (if known) and the text around it."""
        result: Json = self._get(f"/v1/documents/{document_id}/passage", start=start, end=end)
        return result

    def original(self, document_id: str) -> bytes:
        response = self._http.get(f"/v1/documents/{document_id}/original")
        _raise_for(response)
        return response.content

    def original_url(self, document_id: str) -> str:
        return f"{self.base_url}/v1/documents/{document_id}/original"

    # templates and answers
    def templates(self) -> list[Json]:
        result: list[Json] = self._get("/v1/templates")
        return result

    def ask(
        self,
        *,
        question: str | None = None,
        template: Json | None = None,
        collections: Sequence[str] = (),
    ) -> Iterator[StreamEvent]:
        """A streamed answer: ``passages``, one ``sentence`` at a time, ``citations``, ``done``."""
        body: Json = {"collections": list(collections), "stream": True}
        if template is not None:
            body["template"] = template
        else:
            body["question"] = question
        with self._http.stream("POST", ASK_PATH, json=body) as response:
            if not response.is_success:
                response.read()
                _raise_for(response)
            if not response.headers.get("content-type", "").startswith("text/event-stream"):
                response.read()
                yield StreamEvent("answer", response.json())
                return
            yield from parse_sse(response.iter_lines())

    def feedback(
        self, answer_id: str, *, helpful: bool, reason: str | None, flag: bool, comment: str | None
    ) -> Json:
        result: Json = self._send(
            "POST",
            f"/v1/answers/{answer_id}/feedback",
            {"helpful": helpful, "reason": reason, "flag": flag, "comment": comment},
        )
        return result

    # review
    def review_queue(self, state: str = "open") -> list[Json]:
        result: list[Json] = self._get("/v1/review", state=state)
        return result

    def review(
        self,
        item_id: str,
        *,
        verdict: str,
        correct_answer: str | None,
        correct_sources: Sequence[Json],
        approve: bool,
    ) -> Json:
        result: Json = self._send(
            "POST",
            f"/v1/review/{item_id}",
            {
                "verdict": verdict,
                "correct_answer": correct_answer,
                "correct_sources": list(correct_sources),
                "approve": approve,
            },
        )
        return result

    def promote(self, item_id: str, golden_set: str, collection: str | None = None) -> Json:
        body: Json = {"golden_set": golden_set}
        if collection:
            body["collection"] = collection
        result: Json = self._send("POST", f"/v1/review/{item_id}/promote", body)
        return result

    def golden_sets(self) -> list[str]:
        result: list[str] = self._get("/v1/golden")
        return result

    # insights
    def insights(
        self, *, team: str | None = None, since: str | None = None, until: str | None = None
    ) -> Json:
        result: Json = self._get("/v1/insights", team=team, since=since, until=until)
        return result

    # models and quality over time
    def models(self) -> Json:
        """The live embedding model, the models there are and every switch (newest first)."""
        result: Json = self._get("/v1/models")
        return result

    def quality(self, collection: str | None = None) -> Json:
        """The scheduled golden-case runs, oldest first, and the collections flagged."""
        result: Json = self._get("/v1/quality", collection=collection)
        return result
