"""A small in-memory Sourcebook API at the HTTP edge, for the UI's page-logic tests.

It answers the routes the UI calls with the shapes the real API uses (api/schemas.py and
/work/notes/contract.md) and records every request, so a test can check what a page sent.
The real API is exercised by the browser test; this one keeps AppTest fast and deterministic.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import httpx

Json = dict[str, Any]

AGENT_KEY = "sb_agent_secret"
MANAGER_KEY = "sb_manager_secret"

PNG_1PX = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cf000000030101005ef5d8b40000000049454e44ae426082"
)

TEMPLATE: Json = {
    "id": "troubleshoot-error",
    "version": 2,
    "title": "Troubleshoot an error code",
    "description": "What an error code means on a product, and how to fix it.",
    "audience": ["support"],
    "collections": ["acme-support"],
    "fields": [
        {
            "name": "product",
            "label": "Product",
            "kind": "select",
            "options": ["T-100", "T-200"],
            "default": "T-200",
            "required": True,
            "help": None,
        },
        {
            "name": "code",
            "label": "Error code",
            "kind": "text",
            "options": [],
            "default": None,
            "required": True,
            "help": "As shown on the display, e.g. E-104",
        },
        {
            "name": "channels",
            "label": "Channels",
            "kind": "multiselect",
            "options": ["phone", "chat"],
            "default": ["chat"],
            "required": False,
            "help": None,
        },
        {
            "name": "severity",
            "label": "Severity",
            "kind": "radio",
            "options": ["low", "high"],
            "default": "low",
            "required": False,
            "help": None,
        },
        {
            "name": "firmware",
            "label": "Firmware",
            "kind": "number",
            "options": [],
            "default": 4,
            "required": False,
            "help": None,
        },
        {
            "name": "since",
            "label": "Since",
            "kind": "date",
            "options": [],
            "default": "2024-07-01",
            "required": False,
            "help": None,
        },
    ],
    "question": "What does error {{ code }} mean on the {{ product }}?",
    "filters": {"tags": ["{{ product }}"]},
    "answer": {"length": "short", "style": "prose"},
    "retired": False,
    "updated_by": "km",
    "updated_at": "2026-11-29T10:00:00Z",
}

CITATION: Json = {
    "marker": 1,
    "document_id": "d" * 64,
    "title": "t-series-user-manual.pdf",
    "pages": [3],
    "quote": "E-104 means the water tank is not seated [properly].",
    "char_start": 10,
    "char_end": 60,
    "support": 0.8,
}

PASSAGE: Json = {
    "chunk_id": "c1",
    "document_id": "d" * 64,
    "collection": "acme-support",
    "source_name": "t-series-user-manual.pdf",
    "text": "E-104 means the water tank is not seated properly. Reseat it.",
    "pages": [3],
    "section_path": ["Errors"],
    "char_start": 0,
    "char_end": 60,
    "score": 0.7,
}


def _page_png() -> bytes:
    """A blank page, 100 x 140 pixels."""
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (100, 140), "white").save(out, format="PNG")
    return out.getvalue()


def _sse(event: str, data: object) -> str:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n"


@dataclass
class FakeApi:
    templates: list[Json] = field(default_factory=lambda: [TEMPLATE])
    refuse: bool = False
    reviewed: Json | None = None
    documents: list[Json] = field(default_factory=list)
    review_items: list[Json] = field(default_factory=list)
    requests: list[tuple[str, str, Any]] = field(default_factory=list)
    queries: list[str] = field(default_factory=list)
    # Where the cited passage sits: "known" (boxes on page 3), "unknown" (a PDF parsed before
    # boxes were kept) or "text" (a format without page images: the text around it).
    boxes: str = "known"

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def sent(self, method: str, path: str) -> list[Any]:
        """Bodies of the requests a page sent to one route."""
        return [body for m, p, body in self.requests if (m, p) == (method, path)]

    def _passage(self) -> Json:
        known = self.boxes == "known"
        box = {"page": 3, "x0": 0.1, "y0": 0.5, "x1": 0.9, "y1": 0.55}
        context = "Errors. " + str(PASSAGE["text"]) + " See also E-105."
        return {
            "document_id": CITATION["document_id"],
            "start": CITATION["char_start"],
            "end": CITATION["char_end"],
            "boxes_known": known,
            "page_images": self.boxes != "text",
            "pages": [3] if known else [],
            "boxes": [box] if known else [],
            "context": context,
            "context_start": len("Errors. "),
            "context_end": len("Errors. ") + len("E-104 means the water tank is not seated properly."),
        }

    def handle(self, request: httpx.Request) -> httpx.Response:
        key = request.headers.get("authorization", "").removeprefix("Bearer ")
        body: Any = None
        if request.content and request.headers.get("content-type", "").startswith("application/json"):
            body = json.loads(request.content)
        self.requests.append((request.method, request.url.path, body))
        self.queries.append(request.url.query.decode())
        if key not in (AGENT_KEY, MANAGER_KEY):
            return self._problem(401, "unknown or revoked API key")
        manager = key == MANAGER_KEY
        route = (request.method, request.url.path)
        if route == ("GET", "/v1/me"):
            role = "knowledge_manager" if manager else "agent"
            return httpx.Response(
                200,
                json={
                    "user": f"{role}-support",
                    "teams": ["support"],
                    "role": role,
                    "can_manage": manager,
                    "can_upload": manager,
                    "can_review": manager,
                },
            )
        if route == ("GET", "/v1/collections"):
            return httpx.Response(
                200,
                json=[
                    {
                        "name": "acme-support",
                        "team": "support",
                        "description": "",
                        "document_count": 1,
                        "chunk_count": 9,
                    }
                ],
            )
        if route == ("GET", "/v1/templates"):
            if self.templates is None:
                return self._problem(404, "Not Found")
            return httpx.Response(200, json=self.templates)
        if route == ("POST", "/v1/ask"):
            return self._answer(body)
        if request.method == "POST" and request.url.path.endswith("/feedback"):
            return httpx.Response(201, json={"id": "fb-1"})
        if route == ("GET", f"/v1/documents/{CITATION['document_id']}/pages/3"):
            if self.boxes == "text":
                return self._problem(
                    415, "page images exist for PDFs and images only; open the original instead"
                )
            return httpx.Response(200, content=_page_png(), headers={"content-type": "image/png"})
        if route == ("GET", f"/v1/documents/{CITATION['document_id']}/passage"):
            return httpx.Response(200, json=self._passage())
        if route == ("GET", f"/v1/documents/{CITATION['document_id']}/original"):
            return httpx.Response(200, content=b"%PDF-1.4 fake", headers={"content-type": "application/pdf"})
        if route == ("POST", "/v1/collections/acme-support/reindex"):
            return httpx.Response(202, json={"collection": "acme-support", "queued": 4})
        if route == ("GET", "/v1/documents"):
            return httpx.Response(200, json=self.documents)
        if route == ("POST", "/v1/documents"):
            return self._upload(request)
        if request.method == "POST" and request.url.path.endswith("/retry"):
            return httpx.Response(
                202,
                json={
                    "source_name": "x",
                    "outcome": "queued",
                    "document_id": "x",
                    "job_id": "job-2",
                    "reason": None,
                },
            )
        if request.method == "GET" and request.url.path.startswith("/v1/jobs/"):
            return httpx.Response(
                200,
                json={
                    "id": "job-1",
                    "collection": "acme-support",
                    "source_name": "x",
                    "document_id": "x",
                    "state": "running",
                    "stage": "embed",
                    "progress": 0.5,
                    "attempts": 1,
                    "error": None,
                },
            )
        if route == ("GET", "/v1/review"):
            return httpx.Response(200, json=self.review_items)
        if route == ("GET", "/v1/golden"):
            return httpx.Response(200, json=["support-reviewed"])
        if request.method == "POST" and request.url.path.startswith("/v1/review/"):
            if request.url.path.endswith("/promote"):
                return httpx.Response(200, json={"case_id": "case-1", "golden_set": body["golden_set"]})
            item = dict(self.review_items[0]) | {"state": "closed", "verdict": body["verdict"]}
            return httpx.Response(200, json=item)
        if route == ("GET", "/v1/insights"):
            return httpx.Response(200, json=INSIGHTS)
        if route == ("GET", "/v1/models"):
            return httpx.Response(200, json=MODELS)
        if route == ("GET", "/v1/quality"):
            return httpx.Response(200, json=QUALITY)
        return self._problem(404, "Not Found")

    def _answer(self, body: Json) -> httpx.Response:
        if body.get("template") and not body["template"]["values"].get("code"):
            return self._problem(
                422,
                "the template's values are not valid",
                errors=[{"loc": ["body", "values", "code"], "msg": "Error code is required"}],
            )
        question = body.get("question") or "What does error E-104 mean on the T-200?"
        if self.refuse:
            events = [
                _sse("passages", [PASSAGE]),
                _sse("citations", []),
                _sse(
                    "done",
                    {
                        "refused": True,
                        "refusal_reason": "the documents do not say",
                        "escalate": True,
                        "cached": False,
                        "provenance": {},
                        "flags": [],
                        "notes": [],
                        "answer_id": "ans-refused",
                        "question": question,
                    },
                ),
            ]
        else:
            events = [
                _sse("passages", [PASSAGE]),
                _sse(
                    "sentence",
                    {"text": "E-104 means the water tank is not seated properly.", "citation": CITATION},
                ),
                _sse("citations", [CITATION]),
                _sse(
                    "done",
                    {
                        "refused": False,
                        "refusal_reason": None,
                        "escalate": False,
                        "cached": False,
                        "provenance": {},
                        "flags": [],
                        "notes": [],
                        "answer_id": "ans-1",
                        "latency_ms": 42.0,
                        "question": question,
                        "reviewed": self.reviewed,
                    },
                ),
            ]
        return httpx.Response(200, text="".join(events), headers={"content-type": "text/event-stream"})

    def _upload(self, request: httpx.Request) -> httpx.Response:
        name = "rejected.exe" if b"MZ" in request.content else "notes.md"
        if name == "rejected.exe":
            return self._problem(415, "not a supported document type: application/x-dosexec")
        return httpx.Response(
            202,
            json={
                "collection": "acme-support",
                "results": [
                    {
                        "source_name": name,
                        "outcome": "queued",
                        "document_id": "n" * 64,
                        "job_id": "job-1",
                        "reason": None,
                    }
                ],
            },
        )

    @staticmethod
    def _problem(status: int, detail: str, **extra: object) -> httpx.Response:
        return httpx.Response(
            status,
            json={"type": "about:blank", "title": "x", "status": status, "detail": detail} | extra,
            headers={"content-type": "application/problem+json"},
        )


INSIGHTS: Json = {
    "totals": {
        "questions": 12,
        "active_users": 3,
        "helpful_rate": 0.75,
        "refusal_rate": 0.25,
        "escalation_rate": 0.08,
        "p50_ms": 120.0,
        "p95_ms": 480.0,
    },
    "days": [
        {
            "date": "2026-11-28",
            "questions": 5,
            "active_users": 2,
            "helpful": 3,
            "unhelpful": 1,
            "refusals": 1,
            "escalations": 0,
            "p50_ms": 110.0,
            "p95_ms": 400.0,
        },
        {
            "date": "2026-11-29",
            "questions": 7,
            "active_users": 3,
            "helpful": 3,
            "unhelpful": 1,
            "refusals": 2,
            "escalations": 1,
            "p50_ms": 130.0,
            "p95_ms": 500.0,
        },
    ],
    "templates": [
        {
            "id": "troubleshoot-error",
            "title": "Troubleshoot an error code",
            "questions": 9,
            "helpful_rate": 0.8,
        }
    ],
    "usage": [
        {"team": "support", "requests": 12, "credits": 12.0},
        {"user": "agent-support", "requests": 12, "credits": 12.0},
    ],
}

MODELS: Json = {
    "live": "minilm-acme-1",
    "index": "minilm-acme-1--2",
    "models": [
        {
            "name": "minilm",
            "base": "all-MiniLM-L6-v2",
            "live": False,
            "offered": True,
            "created_at": "",
            "eval": None,
        },
        {
            "name": "minilm-acme-1",
            "base": "all-MiniLM-L6-v2",
            "live": True,
            "offered": True,
            "created_at": "2026-11-28T09:00:00+00:00",
            "eval": {"ndcg@10": 0.71},
        },
    ],
    "switches": [
        {
            "at": "2026-11-28T10:00:00Z",
            "model": "minilm-acme-1",
            "index_name": "minilm-acme-1--2",
            "action": "use",
            "actor": "km-support",
            "previous_model": "minilm",
            "documents": 11,
        }
    ],
}


def _quality_point(day: int, model: str, correct: float, dropped: list[str]) -> Json:
    return {
        "at": f"2026-11-{day:02d}T03:00:00Z",
        "collection": "acme-support",
        "model": model,
        "templates": {"troubleshoot-error": 2},
        "cases": 40,
        "correct": correct,
        "gold_cited": correct + 0.1,
        "refused": 1 - correct - 0.1,
        "dropped": dropped,
    }


QUALITY: Json = {
    "interval_s": 86400.0,
    "tolerance": 0.05,
    "points": [
        _quality_point(26, "minilm", 0.7, []),
        _quality_point(27, "minilm", 0.72, []),
        _quality_point(28, "minilm-acme-1", 0.78, []),
        _quality_point(29, "minilm-acme-1", 0.66, ["correct", "gold_cited", "refused"]),
    ],
    "flagged": ["acme-support"],
}
