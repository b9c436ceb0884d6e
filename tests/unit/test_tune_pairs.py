"""Training pairs for `sourcebook tune`: what each source teaches, and what must never be trained on."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from core.domain import Chunk, Document, DocumentStatus
from core.errors import InvalidInput
from core.golden import ExpectedSource, GoldenCase
from eval.tuning_gate import held_apart
from ingest.training_pairs import (
    ChunkFinder,
    Pair,
    check_disjoint,
    dataset_pairs,
    dedupe,
    golden_pairs,
    helpful_pairs,
    review_pairs,
    source_summary,
    with_hard_negatives,
)


def _document(doc_id: str, name: str) -> Document:
    return Document(doc_id, "acme", name, "text/plain", "", 100, DocumentStatus.READY)


CHUNKS = {
    "manual": [
        Chunk("manual", 0, "Installing the T100: mount the plate.", (1,), ("Install",), 0, 40),
        Chunk("manual", 1, "Factory reset: press and hold the dial for 10 seconds.", (4,), (), 40, 95),
        Chunk("manual", 2, "Cleaning: wipe with a dry cloth.", (4,), (), 95, 130),
        Chunk("manual", 3, "Warranty: 5 years on the T300 Pro.", (2,), (), 130, 170),
    ],
    "faq": [Chunk("faq", 0, "Wi-Fi drops: reboot the router.", (1,), (), 0, 30)],
}


@pytest.fixture
def finder() -> ChunkFinder:
    docs = [_document("manual", "t-series-user-manual.pdf"), _document("faq", "faq.md")]
    return ChunkFinder(docs, lambda doc_id: CHUNKS[doc_id])


def _case(
    case_id: str,
    question: str,
    *,
    pages: tuple[int, ...] = (4,),
    answer: str | None = None,
    answerable: bool = True,
) -> GoldenCase:
    sources = (ExpectedSource("t-series-user-manual.pdf", None, pages),) if answerable else ()
    return GoldenCase(case_id, "acme", question, answerable, expected_answer=answer, expected_sources=sources)


def test_golden_case_teaches_the_chunk_of_its_page_that_holds_the_fact(finder: ChunkFinder) -> None:
    pairs = golden_pairs(
        [
            _case("a", "How do I factory reset?", answer="hold the dial for 10 seconds"),
            _case("b", "Is there a refund?", answerable=False),
        ],
        finder,
    )
    assert [(p.question, p.positive_id) for p in pairs] == [
        ("How do I factory reset?", CHUNKS["manual"][1].id)
    ]
    assert pairs[0].source == "golden"


def test_golden_case_without_a_matching_fact_teaches_every_chunk_of_its_page(finder: ChunkFinder) -> None:
    pairs = golden_pairs([_case("a", "What is on page four?")], finder)
    assert {p.positive_id for p in pairs} == {CHUNKS["manual"][1].id, CHUNKS["manual"][2].id}
    assert all(p.gold == {CHUNKS["manual"][1].id, CHUNKS["manual"][2].id} for p in pairs)


@dataclass
class _Feedback:
    verdict: str | None = "right"
    state: str = "closed"
    helpful: bool = False
    flagged: bool = False
    correct_answer: str | None = None
    correct_sources: tuple[dict[str, Any], ...] = ()


@dataclass
class _Answer:
    question: str
    citations: list[dict[str, Any]] = field(default_factory=list)
    refused: bool = False

    @property
    def answer(self) -> dict[str, Any]:
        return {"citations": self.citations}


def _cite(chunk: Chunk) -> dict[str, Any]:
    return {
        "document_id": chunk.document_id,
        "pages": list(chunk.pages),
        "quote": chunk.text[:20],
        "char_start": chunk.char_start + 2,
        "char_end": chunk.char_start + 12,
    }


def test_reviews_teach_the_cited_passage_when_right_and_the_correct_sources_when_wrong(
    finder: ChunkFinder,
) -> None:
    right = (_Feedback("right"), _Answer("warranty length?", [_cite(CHUNKS["manual"][3])]))
    corrected = (
        _Feedback(
            "wrong",
            correct_answer="reboot the router",
            correct_sources=({"document_id": "faq", "pages": []},),
        ),
        _Answer("wifi keeps dropping", [_cite(CHUNKS["manual"][0])]),
    )
    wrong_unsourced = (_Feedback("wrong"), _Answer("what colour is it?", [_cite(CHUNKS["manual"][0])]))
    still_open = (_Feedback("right", state="open"), _Answer("open item", [_cite(CHUNKS["manual"][0])]))
    pairs = review_pairs([right, corrected, wrong_unsourced, still_open], finder)
    assert [(p.question, p.positive_id, p.source) for p in pairs] == [
        ("warranty length?", CHUNKS["manual"][3].id, "review"),
        ("wifi keeps dropping", CHUNKS["faq"][0].id, "review"),
    ]


def test_helpful_votes_teach_their_citations_but_not_flagged_or_refused_answers(finder: ChunkFinder) -> None:
    pairs = helpful_pairs(
        [
            (_Feedback(None, state="none", helpful=True), _Answer("reset?", [_cite(CHUNKS["manual"][1])])),
            (_Feedback(None, helpful=True, flagged=True), _Answer("flagged", [_cite(CHUNKS["manual"][1])])),
            (_Feedback(None, helpful=False), _Answer("unhelpful", [_cite(CHUNKS["manual"][1])])),
            (_Feedback(None, helpful=True), _Answer("refused", [], refused=True)),
        ],
        finder,
    )
    assert [(p.question, p.positive_id, p.source) for p in pairs] == [
        ("reset?", CHUNKS["manual"][1].id, "helpful")
    ]


def test_dataset_pairs_take_every_relevant_document() -> None:
    pairs = dataset_pairs(
        "scifact",
        "train",
        {"1": "claim one", "2": "claim two"},
        {"1": {"d1": 1, "d2": 1, "d3": 0}, "2": {"gone": 1}},
        {"d1": "A", "d2": "B", "d3": "C"},
    )
    assert [(p.question, p.positive) for p in pairs] == [("claim one", "A"), ("claim one", "B")]
    assert pairs[0].gold == {"d1", "d2"} and pairs[0].source == "dataset:scifact/train"


def test_training_and_evaluation_sharing_a_question_is_a_clear_error() -> None:
    check_disjoint(["How do I reset?"], ["What is E-104?"])
    with pytest.raises(InvalidInput) as caught:
        check_disjoint(["How do I reset?", "Where is the fuse"], ["how do i  RESET", "What is E-104?"])
    assert caught.value.reason.startswith("training and evaluation share 1 question(s): 'how do i  RESET'")
    assert "held-apart golden cases" in caught.value.reason


def test_hard_negatives_are_top_hits_that_are_not_gold() -> None:
    pairs = [Pair("q", "gold text", "g1", "golden", frozenset({"g1", "g2"}))]

    def search(questions: Any) -> list[list[tuple[str, str]]]:
        assert list(questions) == ["q"]
        return [[("g1", "gold text"), ("n1", "near miss"), ("g2", "other gold"), ("n2", "far")]]

    assert with_hard_negatives(pairs, search, 2)[0].negatives == ("near miss", "far")
    assert with_hard_negatives(pairs, search, 3)[0].negatives == ("near miss", "far", "far")
    assert with_hard_negatives(pairs, None, 2)[0].negatives == ()


def test_hard_negatives_can_skip_the_best_non_gold_hits() -> None:
    pairs = [Pair("q", "gold text", "g1", "golden", frozenset({"g1"}))]

    def search(questions: Any) -> list[list[tuple[str, str]]]:
        return [[("g1", "gold text"), ("n1", "unlabelled answer"), ("n2", "near miss"), ("n3", "far")]]

    assert with_hard_negatives(pairs, search, 1, skip=1)[0].negatives == ("near miss",)
    assert with_hard_negatives(pairs, search, 2, skip=1)[0].negatives == ("near miss", "far")
    assert with_hard_negatives(pairs, search, 1, skip=3) == []  # nothing left to learn from: dropped


def test_held_apart_split_is_by_question_and_the_same_for_the_same_seed() -> None:
    cases = [_case(f"c{i}", f"Question {i}?") for i in range(10)] + [_case("dup", "question 3")]
    train, held = held_apart(cases, 0.3, seed=7)
    assert (train, held) == held_apart(cases, 0.3, seed=7)
    assert len({c.question for c in held}) == 3
    check_disjoint([c.question or "" for c in train], [c.question or "" for c in held])
    assert ("c3" in {c.id for c in held}) == ("dup" in {c.id for c in held})
    assert held_apart(cases, 0.3, seed=8)[1] != held


def test_source_hashes_ignore_order_and_duplicates_are_said_once() -> None:
    a = Pair("q1", "p1", "1", "golden")
    b = Pair("q2", "p2", "2", "golden")
    assert source_summary([a, b]) == source_summary([b, a])
    assert source_summary([a, b])[0]["pairs"] == 2
    assert dedupe([a, Pair("Q1?", "p1", "1", "review"), b]) == [a, b]
