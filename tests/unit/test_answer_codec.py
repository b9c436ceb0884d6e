"""One codec for answers: whole (the cache) and as the answers table keeps them."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from core.answer_codec import (
    Reviewed,
    answer_from_dict,
    answer_from_row,
    answer_to_dict,
    answer_to_row,
)
from core.domain import Answer, Citation, Passage


def an_answer() -> Answer:
    passage = Passage(
        "c1", "d1", "kb", "faq.md", "Mail ana@example.com to reset.", (2, 3), 0.8, ("FAQ",), 0, 30
    )
    citation = Citation(1, "d1", "FAQ", (2, 3), "Mail ana@example.com to reset.", 0, 30, 0.9)
    return Answer(
        "how do I reset?",
        "Mail ana@example.com to reset. [1]",
        (citation,),
        passages=(passage,),
        notes=("a note",),
        provenance=(("generator", "extractive"),),
    )


def test_a_whole_answer_survives_json() -> None:
    answer = an_answer()
    assert answer_from_dict(json.loads(json.dumps(answer_to_dict(answer)))) == answer


def test_the_stored_row_is_redacted_keeps_passage_ids_and_reads_back() -> None:
    answer = an_answer()
    at = datetime(2026, 11, 30, tzinfo=UTC)
    row = json.loads(
        json.dumps(
            answer_to_row(
                answer, Reviewed("rita", at, "right"), lambda t: t.replace("ana@example.com", "[EMAIL]")
            )
        )
    )
    assert row["text"] == "Mail [EMAIL] to reset. [1]"
    assert row["citations"][0]["quote"] == "Mail [EMAIL] to reset."
    assert row["passages"] == ["c1"]
    assert row["reviewed"] == {"by": "rita", "at": at.isoformat(), "verdict": "right"}
    back = answer_from_row(row, answer.question)
    assert back.text == row["text"] and back.citations[0].pages == (2, 3)
    assert back.passages == () and back.notes == answer.notes and back.provenance == answer.provenance
    assert answer_from_row(row, answer.question, (("generator", "human review"),)).provenance == (
        ("generator", "human review"),
    )


def test_a_passages_sentence_vectors_stay_out_of_the_cache_and_the_log() -> None:
    import dataclasses

    import numpy as np

    from core.domain import SentenceVectors

    answer = an_answer()
    vectors = SentenceVectors(((0, 30),), np.ones((1, 4), dtype=np.float32))
    with_vectors = dataclasses.replace(
        answer, passages=(dataclasses.replace(answer.passages[0], sentences=vectors),)
    )
    encoded = json.dumps(answer_to_dict(with_vectors))
    assert "sentences" not in encoded
    assert answer_from_dict(json.loads(encoded)) == answer
