"""A question is embedded once per request: the search, the reranker and the extractive answer
share its vector (a ``Query``), with no cache in between to hide a second embedding."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from core.domain import Chunk, Document, DocumentStatus
from core.protocols import SearchFilter, Vectors
from core.settings import Settings
from ingest.embed import BatchingEmbedder, HashingEmbedder
from sourcebook.wiring import Services

TEXTS = [
    "To reset the router, hold the reset button for ten seconds. The lights blink twice.",
    "Refunds are paid to the original payment method within seven business days.",
    "Error E-104 means the temperature sensor failed. Replace the sensor board.",
]


class _Counting(HashingEmbedder):
    def __init__(self) -> None:
        super().__init__()
        self.seen: list[str] = []

    def embed(self, texts: Sequence[str]) -> Vectors:
        self.seen += list(texts)
        return super().embed(texts)


@pytest.fixture
def services(tmp_path: Path) -> Iterator[tuple[Services, _Counting]]:
    settings = Settings(home=tmp_path, embedder="hashing", reranker="sentence")
    services = Services.open(settings)
    counting = _Counting()
    services._models["hashing"] = BatchingEmbedder(counting)  # the live model under the wiring
    document = Document("doc", "manuals", "manual.txt", "text/plain", "", 0, DocumentStatus.READY)
    chunks = [Chunk("doc", n, text, (1,)) for n, text in enumerate(TEXTS)]
    services.store.upsert(document, chunks, HashingEmbedder().embed(TEXTS))
    yield services, counting
    services.close()


def test_ask_embeds_the_question_once(services: tuple[Services, _Counting]) -> None:
    s, counting = services
    question = "How do I reset the router?"
    answer, _ = s.answering.generate(question, SearchFilter(), passages=3)
    assert not answer.refused and "hold the reset button" in answer.text
    assert counting.seen.count(question) == 1
    assert len(counting.seen) > 1  # the reranker and the answer did embed their sentences


def test_search_embeds_the_query_once(services: tuple[Services, _Counting]) -> None:
    s, counting = services
    found = s.searcher.search("refund payment method", SearchFilter(), limit=2)
    assert found and found[0].chunk_id == Chunk("doc", 1, TEXTS[1], (1,)).id
    assert counting.seen.count("refund payment method") == 1
