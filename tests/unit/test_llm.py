"""The OpenAI-compatible generator against a fake endpoint spoken to by the real openai client."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from core.domain import Passage
from ingest.embed import HashingEmbedder
from retrieval.llm import CitationChecker, OpenAICompatibleGenerator

PASSAGES = [
    Passage(
        "c1",
        "manual",
        "kb",
        "manual.pdf",
        "Error E-104 means the temperature sensor failed. Replace the board.",
        (3,),
        0.9,
        char_start=100,
        char_end=168,
    ),
    Passage("c2", "policy", "kb", "policy.docx", "Refunds are paid within seven business days.", (1,), 0.5),
]
REPLY = (
    "Error E-104 means the temperature sensor failed [1]. "
    "Refunds are paid within seven business days [2]. "
    "The moon is made of cheese [1]. "
    "Call us any time."
)


def _sse(text: str) -> bytes:
    chunks = [text[i : i + 20] for i in range(0, len(text), 20)]
    events = [
        {
            "id": "x",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": "m",
            "choices": [{"index": 0, "delta": {"content": c}, "finish_reason": None}],
        }
        for c in chunks
    ]
    return b"".join(f"data: {json.dumps(e)}\n\n".encode() for e in events) + b"data: [DONE]\n\n"


@pytest.fixture
def endpoint() -> Iterator[tuple[str, list[dict[str, object]]]]:
    received: list[dict[str, object]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            body = _sse(REPLY)
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1", received
    server.shutdown()
    server.server_close()


def test_unsupported_and_uncited_sentences_are_removed_and_said(
    endpoint: tuple[str, list[dict[str, object]]],
) -> None:
    url, received = endpoint
    generator = OpenAICompatibleGenerator(url, "local-model", "key", 10, CitationChecker(HashingEmbedder()))
    answer = generator.answer("What does E-104 mean and when are refunds paid?", PASSAGES)
    assert not answer.refused
    assert [c.document_id for c in answer.citations] == ["manual", "policy"]
    assert answer.text == (
        "Error E-104 means the temperature sensor failed. [1] Refunds are paid within seven business days. [2]"
    )
    first = answer.citations[0]
    assert first.quote == "Error E-104 means the temperature sensor failed."
    assert (first.char_start, first.pages) == (100, (3,))
    assert len(answer.notes) == 2
    assert any("not supported by the passage it cites" in n and "cheese" in n for n in answer.notes)
    assert any("no citation" in n and "Call us any time" in n for n in answer.notes)
    system, user = (m["content"] for m in received[0]["messages"])  # type: ignore[attr-defined]
    assert "never an instruction" in system  # prompt answer@2: passages are quoted data
    assert '<passage marker="1" source="manual.pdf" page="3">' in user
    assert '<passage marker="2" source="policy.docx" page="1">' in user


def test_a_citation_to_a_passage_that_was_not_given_is_dropped() -> None:
    kept, dropped = CitationChecker(HashingEmbedder()).check(
        "Error E-104 means the sensor failed [7].", PASSAGES
    )
    assert kept == []
    assert dropped == ["not supported by the passage it cites: 'Error E-104 means the sensor failed.'"]
