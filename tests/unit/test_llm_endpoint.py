"""The OpenAI-compatible generator against a real local HTTP server that streams Server-Sent Events
the way OpenAI, vLLM and Ollama do, spoken to by the real openai client: markers as models write
them, a refusal, a made-up sentence, and an endpoint that does not answer in time."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from core.domain import Passage
from core.errors import BackendUnavailable
from ingest.embed import HashingEmbedder
from retrieval.extractive import ExtractiveGenerator
from retrieval.llm import CitationChecker, OpenAICompatibleGenerator, cited_sentences

RESTART = (
    "To restart the thermostat without losing settings, press and hold the dial for 3 seconds and "
    "choose Restart."
)
RESET = "A factory reset erases all schedules, Wi-Fi settings and the link to your Northwind account."
MANUAL = Passage(
    "c1",
    "manual",
    "acme-support",
    "t-series-user-manual.pdf",
    f"5. Restart and factory reset\n{RESTART} {RESET} The thermostat then starts in pairing mode.",
    (4,),
    0.9,
    char_start=2000,
)
POLICY = Passage(
    "c2",
    "policy",
    "acme-support",
    "refund-and-sla-policy.docx",
    "Refunds are issued to the original payment method within 7 business days.",
    (1,),
    0.4,
)
PASSAGES = [MANUAL, POLICY]
QUESTION = "How do I restart the thermostat without losing settings?"
TIMEOUT_S = 0.5


@dataclass
class Endpoint:
    """What the server streams next, and what it was asked."""

    url: str
    flavour: str = "openai"
    reply: str = ""
    behaviour: str = "answer"  # answer | silent (no response) | stall (stops mid-stream) | error (503)
    received: list[dict[str, Any]] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)


def _tokens(text: str) -> list[str]:
    """Pieces the way a model streams them: words with their spaces, markers cut in pieces."""
    return re.findall(r"\s*\w+|\s*[^\w\s]", text)


def _chunk(flavour: str, delta: dict[str, str], finish: str | None = None) -> dict[str, Any]:
    chunk: dict[str, Any] = {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1_700_000_000,
        "model": "local-model",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    if flavour == "ollama":
        chunk["system_fingerprint"] = "fp_ollama"
        chunk["choices"][0]["delta"] = {"role": "assistant", **delta}
    if flavour == "vllm":
        chunk["choices"][0]["logprobs"] = None
        chunk["usage"] = None
    return chunk


def _events(flavour: str, text: str) -> Iterator[dict[str, Any]]:
    if flavour != "ollama":
        yield _chunk(flavour, {"role": "assistant", "content": ""})
    for piece in _tokens(text):
        yield _chunk(flavour, {"content": piece})
    yield _chunk(flavour, {"content": ""} if flavour == "ollama" else {}, finish="stop")
    if flavour == "vllm":  # stream_options.include_usage: a last chunk with no choices
        yield {
            "id": "chatcmpl-1",
            "object": "chat.completion.chunk",
            "created": 1_700_000_000,
            "model": "local-model",
            "choices": [],
            "usage": {"prompt_tokens": 90, "completion_tokens": 30, "total_tokens": 120},
        }


@pytest.fixture
def endpoint() -> Iterator[Endpoint]:
    state = Endpoint("")

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # chunked transfer encoding, one event per chunk, as servers do

        def do_POST(self) -> None:
            state.received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            if state.behaviour == "silent":
                state.release.wait(10)
                return
            if state.behaviour == "error":
                body = b'{"error": {"message": "model is loading", "type": "server_error"}}'
                self.send_response(503)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for n, event in enumerate(_events(state.flavour, state.reply)):
                if state.behaviour == "stall" and n == 3:
                    state.release.wait(10)
                    return
                self._send(f"data: {json.dumps(event)}\n\n".encode())
            self._send(b"data: [DONE]\n\n")
            self._send(b"")

        def _send(self, data: bytes) -> None:
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    yield state
    state.release.set()
    server.shutdown()
    server.server_close()


def _generator(endpoint: Endpoint, *, fallback: bool = True) -> OpenAICompatibleGenerator:
    embedder = HashingEmbedder()
    return OpenAICompatibleGenerator(
        endpoint.url,
        "local-model",
        "key",
        TIMEOUT_S,
        CitationChecker(embedder),
        fallback=ExtractiveGenerator(embedder) if fallback else None,
    )


@pytest.mark.parametrize("flavour", ["openai", "vllm", "ollama"])
@pytest.mark.parametrize(
    "reply",
    [f"{RESTART} [1]", f"{RESTART[:-1]} [1].", f"{RESTART[:-1]}[1]."],
    ids=["marker-after-full-stop", "marker-before-full-stop", "marker-touching"],
)
def test_a_sentence_copied_from_a_passage_gets_through_with_either_marker_style(
    endpoint: Endpoint, flavour: str, reply: str
) -> None:
    endpoint.flavour, endpoint.reply = flavour, reply
    answer = _generator(endpoint).answer(QUESTION, PASSAGES)
    assert not answer.refused
    assert answer.notes == ()
    assert answer.text == f"{RESTART} [1]"
    (citation,) = answer.citations
    assert (citation.document_id, citation.pages, citation.quote) == ("manual", (4,), RESTART)
    assert MANUAL.text[citation.char_start - 2000 : citation.char_end - 2000] == RESTART
    request = endpoint.received[0]
    assert request["stream"] is True and request["model"] == "local-model"


@pytest.mark.parametrize(
    "reply",
    [
        f"{RESTART} [1][2] {RESET} [1, 2]",
        f"{RESTART}[1] [2] {RESET}[2,1]",
        f"{RESTART[:-1]} [1-2]. {RESET[:-1]} [1], [2].",
    ],
    ids=["side-by-side", "spaced-and-reversed", "range-and-comma-list"],
)
def test_several_markers_on_a_sentence_cite_the_passage_that_supports_it(
    endpoint: Endpoint, reply: str
) -> None:
    endpoint.reply = reply
    answer = _generator(endpoint).answer(QUESTION, PASSAGES)
    assert answer.text == f"{RESTART} [1] {RESET} [2]"
    assert [c.document_id for c in answer.citations] == ["manual", "manual"]
    assert [c.quote for c in answer.citations] == [RESTART, RESET]
    assert answer.notes == ()


@pytest.mark.parametrize(
    "reply",
    [
        f"{RESTART} {RESET}\n\nSources: [1]",
        f"{RESTART} {RESET}\n\n[1] [2]",
        f"{RESTART} {RESET} [1]",  # one marker at the end of the paragraph
    ],
    ids=["sources-line", "marker-line", "paragraph-end"],
)
def test_a_trailing_list_of_markers_cites_the_sentences_before_it(endpoint: Endpoint, reply: str) -> None:
    endpoint.reply = reply
    answer = _generator(endpoint).answer(QUESTION, PASSAGES)
    assert answer.text == f"{RESTART} [1] {RESET} [2]"
    assert {c.document_id for c in answer.citations} == {"manual"}


def test_a_refusal_is_a_refusal(endpoint: Endpoint) -> None:
    endpoint.flavour, endpoint.reply = "ollama", "NOT IN DOCUMENTS"
    answer = _generator(endpoint).answer("What does the T400 cost?", PASSAGES)
    assert answer.refused
    assert answer.refusal_reason == "the model found no answer in the passages"
    assert answer.passages == tuple(PASSAGES)


def test_a_made_up_sentence_is_removed_and_the_answer_quoted_instead(endpoint: Endpoint) -> None:
    endpoint.flavour = "vllm"
    endpoint.reply = "You can restart it by unplugging the router twice and calling the hotline. [1]"
    answer = _generator(endpoint).answer(QUESTION, PASSAGES)
    assert "router twice" not in answer.text
    assert answer.notes[0].startswith("removed a sentence with not supported by the passage it cites")
    assert answer.notes[-1] == "the model's answer failed the citation check: quoted instead"


def test_a_made_up_sentence_beside_a_supported_one_is_dropped_alone(endpoint: Endpoint) -> None:
    endpoint.reply = f"{RESTART} [1] Northwind offers a free replacement dial to every customer who asks. [1]"
    answer = _generator(endpoint).answer(QUESTION, PASSAGES)
    assert answer.text == f"{RESTART} [1]"
    assert len(answer.notes) == 1 and "free replacement dial" in answer.notes[0]


def test_an_endpoint_that_does_not_answer_in_time_falls_back_to_quoting(endpoint: Endpoint) -> None:
    endpoint.behaviour = "silent"
    answer = _generator(endpoint).answer(QUESTION, PASSAGES)
    assert answer.notes[-1] == "the language model endpoint did not answer within 0.5 s: quoted instead"
    assert len(endpoint.received) == 2  # the client's one retry, then the fallback


def test_without_a_fallback_a_silent_endpoint_is_a_clear_error(endpoint: Endpoint) -> None:
    endpoint.behaviour = "silent"
    with pytest.raises(
        BackendUnavailable, match=r"^the language model endpoint did not answer within 0\.5 s$"
    ):
        _generator(endpoint, fallback=False).answer(QUESTION, PASSAGES)


def test_an_endpoint_that_stops_mid_answer_is_a_clear_error(endpoint: Endpoint) -> None:
    endpoint.behaviour, endpoint.reply = "stall", f"{RESTART} [1]"
    with pytest.raises(
        BackendUnavailable, match=r"^the language model endpoint stopped mid-answer: nothing came for 0\.5 s$"
    ):
        _generator(endpoint, fallback=False).answer(QUESTION, PASSAGES)


def test_markers_are_given_back_to_the_sentence_they_follow() -> None:
    assert cited_sentences("First sentence is long enough. [2]\nSecond one ends here [1].") == [
        ("First sentence is long enough.", [2]),
        ("Second one ends here.", [1]),
    ]
    assert cited_sentences("An answer with no markers at all.") == [("An answer with no markers at all.", [])]
    assert cited_sentences("[3] A marker that opens the answer.") == [
        ("A marker that opens the answer.", [3])
    ]
    # a short sentence keeps its own marker; it is not handed to the sentence before it
    assert cited_sentences("A sentence long enough here. [1] Yes. [2]") == [
        ("A sentence long enough here.", [1]),
        ("Yes.", [2]),
    ]


def test_an_endpoint_that_answers_with_an_error_status_says_which(endpoint: Endpoint) -> None:
    endpoint.behaviour = "error"
    with pytest.raises(BackendUnavailable, match=r"HTTP 503 \(InternalServerError\)"):
        _generator(endpoint, fallback=False).answer(QUESTION, PASSAGES)
