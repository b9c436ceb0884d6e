"""The extractive generator and its sentence splitter, with the hashing embedder."""

from __future__ import annotations

from core.domain import Passage
from ingest.embed import HashingEmbedder
from retrieval.extractive import REFUSAL, ExtractiveGenerator
from retrieval.search import collapse_duplicates

DOCUMENT = (
    "Northwind T-series.\n\n"
    "Error E-104 means the internal temperature sensor failed. Replace the sensor board. "
    "The warranty covers the repair.\n\n"
    "Refunds are paid within 7 business days."
)


def passage(text: str, rank_score: float, doc: str = "manual", start: int | None = None) -> Passage:
    offset = DOCUMENT.find(text) if start is None else start
    return Passage(
        f"c-{doc}-{offset}",
        doc,
        "kb",
        f"{doc}.pdf",
        text,
        (2,),
        rank_score,
        char_start=offset,
        char_end=offset + len(text),
    )


def test_answer_cites_each_sentence_with_offsets_into_the_document() -> None:
    body = DOCUMENT.split("\n\n")[1]
    generator = ExtractiveGenerator(HashingEmbedder(), threshold=0.1)
    answer = generator.answer("What does error E-104 mean?", [passage(body, 0.9)])
    assert not answer.refused
    assert answer.citations
    first = answer.citations[0]
    assert DOCUMENT[first.char_start : first.char_end] == first.quote
    assert "E-104" in first.quote
    assert answer.text.startswith(first.quote)
    for c in answer.citations:
        assert f"[{c.marker}]" in answer.text
        assert c.pages == (2,) and c.title == "manual.pdf"


def test_no_sentence_is_repeated() -> None:
    body = DOCUMENT.split("\n\n")[1]
    same = [passage(body, 0.9, "a"), passage(body, 0.8, "b", start=DOCUMENT.find(body))]
    answer = ExtractiveGenerator(HashingEmbedder(), threshold=0.1).answer("error E-104 sensor", same)
    quotes = [c.quote for c in answer.citations]
    assert len(quotes) == len(set(quotes))


def test_below_the_threshold_it_refuses_and_shows_the_closest_passages() -> None:
    refunds = passage(DOCUMENT.split("\n\n")[2], 0.3)
    answer = ExtractiveGenerator(HashingEmbedder(), threshold=0.9).answer(
        "Who founded the company?", [refunds]
    )
    assert answer.refused
    assert answer.text == REFUSAL
    assert answer.citations == ()
    assert answer.passages == (refunds,)
    assert answer.refusal_reason and "below 0.90" in answer.refusal_reason


def test_no_passages_is_a_refusal_with_a_reason() -> None:
    answer = ExtractiveGenerator(HashingEmbedder()).answer("anything", [])
    assert answer.refused
    assert answer.refusal_reason == "no passage in the visible collections matches the question"


def test_near_duplicate_passages_collapse_to_the_better_ranked() -> None:
    text = DOCUMENT.split("\n\n")[1]
    kept = collapse_duplicates(
        [
            passage(text, 0.9, "a"),
            passage(text + " Indeed.", 0.8, "b", 0),
            passage(DOCUMENT.split("\n\n")[2], 0.7, "c"),
        ]
    )
    assert [p.document_id for p in kept] == ["a", "c"]


def test_a_table_row_is_read_with_its_column_names_and_quoted_as_is() -> None:
    table = (
        "Code | Meaning | Action\n"
        "E-101 | No power on R | Check the breaker\n"
        "E-104 | Internal temperature sensor fault | Replace under warranty"
    )
    p = Passage("c1", "codes", "kb", "codes.xlsx", table, (2,), 0.9, char_start=0, char_end=len(table))
    answer = ExtractiveGenerator(HashingEmbedder(), threshold=0.1, max_sentences=1).answer(
        "What does error code E-104 mean?", [p]
    )
    assert answer.citations[0].quote == "E-104 | Internal temperature sensor fault | Replace under warranty"
    assert table[answer.citations[0].char_start : answer.citations[0].char_end] == answer.citations[0].quote
