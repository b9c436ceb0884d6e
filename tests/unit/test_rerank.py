"""The sentence reranker: a passage whose one sentence answers beats a vaguely related one."""

from __future__ import annotations

from collections.abc import Sequence

from core.domain import Passage
from core.protocols import SearchFilter, SearchRequest, Vectors
from ingest.embed import HashingEmbedder
from retrieval.rerank import SentenceReranker
from retrieval.search import Searcher


def passage(doc: str, text: str, score: float) -> Passage:
    return Passage(f"c-{doc}", doc, "kb", f"{doc}.txt", text, (1,), score)


def test_the_passage_with_the_answering_sentence_moves_up() -> None:
    vague = passage("vague", "Thermostats and sensors and wiring, in general terms, for many homes.", 1.0)
    precise = passage(
        "precise",
        "The box has a lid. Error code E-104 means the temperature sensor failed. Colours vary.",
        0.9,
    )
    other = passage("other", "Refunds are paid within seven business days of the return.", 0.5)
    ranked = SentenceReranker(HashingEmbedder(), weight=0.7).rerank(
        "what does error code E-104 mean", [vague, precise, other], limit=3
    )
    assert ranked[0].document_id == "precise"


def test_limit_depth_and_empty_input() -> None:
    reranker = SentenceReranker(HashingEmbedder(), depth=2)
    items = [
        passage(str(i), f"Sentence number {i} about thermostats and sensors.", 1.0 - i / 10) for i in range(5)
    ]
    ranked = reranker.rerank("thermostats", items, limit=4)
    assert len(ranked) == 4
    assert [p.document_id for p in ranked[2:]] == ["2", "3"]  # beyond the depth the order stays
    assert reranker.rerank("anything", [], limit=3) == []


class _Store:
    """Answers every search with the same passages (the store is not what is tested here)."""

    def __init__(self, passages: list[Passage]) -> None:
        self.passages = passages

    def search(self, request: SearchRequest) -> list[Passage]:
        return list(self.passages)

    def attach_sentences(self, passages: Sequence[Passage]) -> list[Passage]:
        return list(passages)


class _Counting(HashingEmbedder):
    def __init__(self) -> None:
        super().__init__()
        self.texts: list[str] = []

    def embed(self, texts: Sequence[str]) -> Vectors:
        self.texts += list(texts)
        return super().embed(texts)


def test_the_question_is_embedded_once_for_search_and_rerank() -> None:
    embedder = _Counting()
    passages = [passage("a", "Error code E-104 means the sensor failed.", 1.0), passage("b", "Refunds.", 0.5)]
    searcher = Searcher(_Store(passages), embedder, SentenceReranker(embedder))  # type: ignore[arg-type]
    searcher.search("what does E-104 mean", SearchFilter(), limit=2)
    assert embedder.texts.count("what does E-104 mean") == 1
