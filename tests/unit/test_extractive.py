"""The extractive generator and its sentence splitter, with the hashing embedder."""

from __future__ import annotations

import pytest

from core.domain import Passage
from core.errors import InvalidFields
from ingest.embed import HashingEmbedder
from retrieval.evidence import FEATURES, load_model
from retrieval.extractive import REFUSAL, ExtractiveGenerator
from retrieval.question import AnswerHints, analyze, stem
from retrieval.records import read_passage, table_header
from retrieval.search import collapse_duplicates
from retrieval.templates import parse_template, shipped

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
    assert answer.refusal_reason and "0.9" not in answer.refusal_reason  # words for agents
    assert any("answers need 0.90" in note for note in answer.notes)  # the score, for engineers


def test_no_passages_is_a_refusal_with_a_reason() -> None:
    answer = ExtractiveGenerator(HashingEmbedder()).answer("anything", [])
    assert answer.refused
    assert answer.refusal_reason == "No document in the collections you can see matches this question."


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


def test_the_collapse_stops_at_the_passages_it_is_asked_to_keep() -> None:
    paragraphs = DOCUMENT.split("\n\n")
    ranked = [passage(text, 1.0 - n / 10, str(n)) for n, text in enumerate(paragraphs)]
    ranked.insert(1, passage(paragraphs[0], 0.95, "copy"))  # the same text: dropped, not counted
    every = collapse_duplicates(ranked)
    assert "copy" not in [p.document_id for p in every]
    assert len(every) > 2
    assert collapse_duplicates(ranked, keep=2) == every[:2]
    assert len(collapse_duplicates(ranked, threshold=1.01)) == len(ranked)  # above 1: nothing collapses


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
    assert (
        answer.text == "E-104: Meaning: Internal temperature sensor fault; Action: Replace under warranty [1]"
    )


def _doc(text: str, name: str = "manual", section: tuple[str, ...] = ()) -> Passage:
    return Passage(f"c-{name}", name, "kb", f"{name}.pdf", text, (1,), 0.9, section, 0, len(text))


def test_question_analysis_finds_identifiers_and_drops_template_boilerplate() -> None:
    asked = analyze(
        "What does error E-101 mean on the T300 Pro after a reset with firmware 4.2.1, "
        "what causes it and how do I fix it?"
    )
    assert set(asked.ids) == {"e101", "t300pro", "4.2.1"}
    # "mean", "causes", "fix" say nothing; "error" and "firmware" only name the identifiers' kind
    assert asked.key_terms == {stem("reset")}
    assert stem("causes") == stem("cause") and stem("resetting") == stem("reset")
    assert stem("wiring") == stem("wire") and stem("replacing") == stem("replace")


def test_template_values_are_constraints_and_its_pattern_words_are_boilerplate() -> None:
    hints = AnswerHints(
        {"topic": "the restocking fee", "tier": "Pro Installer"},
        "What does the policy say about {{ topic }}?",
        "",
    )
    asked = analyze("What does the policy say about the restocking fee?", hints)
    assert asked.key_terms == {stem("restocking"), stem("fee")}


def test_a_comparison_names_its_entities_and_wants_evidence_for_each() -> None:
    asked = analyze("How do the T100 and the T300 Pro differ in warranty?")
    assert asked.entities == ("t100", "t300pro") and asked.shape == "compare"
    text = "The T100 has a 2 year warranty.\n\nThe T300 Pro has a 5 year warranty."
    answer = ExtractiveGenerator(HashingEmbedder(), threshold=0.05, max_sentences=1).answer(
        "How do the T100 and the T300 Pro differ in warranty?", [_doc(text)]
    )
    assert "2 year" in answer.text and "5 year" in answer.text


def test_a_comparison_says_which_entity_the_documents_do_not_cover() -> None:
    text = "The T100 has a 2 year warranty and a plastic case.\n\nThe T200 has a 3 year warranty."
    answer = ExtractiveGenerator(HashingEmbedder(), threshold=0.05).answer(
        "How do the T100 and the T300 Pro differ in warranty?", [_doc(text)]
    )
    assert "T100 has a 2 year warranty" in answer.text
    assert "T200" not in answer.text  # another model is no evidence
    assert answer.notes == ("The documents do not say this for the T300 Pro.",)


def test_a_sentence_about_another_model_does_not_answer_for_this_one() -> None:
    text = "Support for the legacy T-50 ends on 31 December 2024."
    answer = ExtractiveGenerator(HashingEmbedder(), threshold=0.05).answer(
        "When does support for the T100 end?", [_doc(text + "\n\nThe T100 case is white.")]
    )
    assert answer.refused or "T-50" not in answer.text


def test_an_error_code_no_document_names_is_refused_in_words_an_agent_can_act_on() -> None:
    table = "Code | Meaning\nE-101 | No power on R\nE-104 | Sensor fault"
    answer = ExtractiveGenerator(HashingEmbedder(), threshold=0.05).answer(
        "What does error E-150 mean?", [_doc(table)]
    )
    assert answer.refused
    assert answer.refusal_reason == (
        "No document found mentions E-150: check the code or model, or escalate the question."
    )


def test_a_heading_never_stands_alone_as_an_answer() -> None:
    text = "Warranty for T-series thermostats\nRegister the thermostat within 30 days of purchase."
    answer = ExtractiveGenerator(HashingEmbedder(), threshold=0.05).answer(
        "What is the warranty for T-series thermostats?", [_doc(text)]
    )
    assert all(c.quote != "Warranty for T-series thermostats" for c in answer.citations)
    units = read_passage(_doc(text))
    assert (
        units[0].heading and not units[1].heading and units[1].context == "Warranty for T-series thermostats"
    )


def test_a_question_in_the_documents_is_a_heading_not_an_answer() -> None:
    text = "How many thermostats can I add to one account?\nOne account can hold up to 20 thermostats."
    answer = ExtractiveGenerator(HashingEmbedder(), threshold=0.05, max_sentences=1).answer(
        "How many thermostats can I add to one account?", [_doc(text)]
    )
    assert answer.citations[0].quote == "One account can hold up to 20 thermostats."


def test_the_remedy_follows_the_sentence_that_restates_the_symptom() -> None:
    text = "The TV smells of plastic. This is normal for a new set and fades after a few days of use."
    answer = ExtractiveGenerator(HashingEmbedder(), threshold=0.05, max_sentences=1).answer(
        "Why does the TV smell of plastic?", [_doc(text)]
    )
    assert "fades after a few days" in answer.text


def test_steps_read_on_after_the_best_sentence() -> None:
    text = (
        "To factory reset the thermostat:\n"
        "1. Press and hold the dial for 10 seconds.\n"
        "2. Choose Reset on the screen.\n"
        "3. Confirm with the dial.\n\n"
        "The case is made of recycled plastic."
    )
    answer = ExtractiveGenerator(HashingEmbedder(), threshold=0.05, max_sentences=1).answer(
        "How do I factory reset the thermostat?", [_doc(text)]
    )
    assert "Press and hold" in answer.text and "Confirm with the dial" in answer.text
    assert "recycled" not in answer.text


def test_a_table_header_from_the_chunk_metadata_is_used_when_present() -> None:
    rows = "E-102 | C-wire missing | Fit the C wire"
    split = _doc(rows)
    with_header = type(
        "Chunk", (), {"table_header": ["Code", "Meaning", "Action"], "text": rows, "section_path": ()}
    )()
    assert table_header(split) is None
    assert table_header(with_header) == ["Code", "Meaning", "Action"]  # type: ignore[arg-type]


def test_an_unknown_answer_shape_is_a_template_problem() -> None:
    body = next(t for t in shipped() if t.id == "troubleshoot-error-code").body()
    assert body["answer"]["shape"] == "lookup"
    with pytest.raises(InvalidFields, match=r"answer\.shape"):
        parse_template(body | {"answer": {"length": "short", "style": "prose", "shape": "essay"}})


def test_the_evidence_model_names_every_feature_for_every_embedder() -> None:
    for name in ("all-MiniLM-L6-v2", "hashing"):
        model = load_model(name)
        assert len(model.weights) == len(FEATURES) and 0 < model.threshold < 1


def test_a_comparison_over_a_spec_table_says_each_model_s_value_of_the_asked_column() -> None:
    table = (
        "Model | Wi-Fi | Warranty\n"
        "T100 | 2.4 GHz | 2 years\n"
        "T200 | 2.4/5 GHz | 3 years\n"
        "T300 Pro | Wi-Fi 6 | 5 years"
    )
    answer = ExtractiveGenerator(HashingEmbedder(), threshold=0.05).answer(
        "How do the T100 and the T300 Pro differ in warranty?", [_doc(table)]
    )
    assert "T100: Warranty: 2 years" in answer.text and "T300 Pro: Warranty: 5 years" in answer.text
    assert "T200" not in answer.text
    assert {c.quote for c in answer.citations} >= {"T100 | 2.4 GHz | 2 years", "T300 Pro | Wi-Fi 6 | 5 years"}


def test_a_sentence_that_restates_a_how_question_still_answers_it() -> None:
    text = "Memory : View memory usage.\n\nStorage : View the device storage."
    answer = ExtractiveGenerator(HashingEmbedder(), threshold=0.05, max_sentences=1).answer(
        "How do I view memory usage?", [_doc(text)]
    )
    assert answer.citations[0].quote == "Memory : View memory usage."


def test_a_sentence_naming_both_compared_models_but_not_the_aspect_is_no_comparison() -> None:
    text = "Covers the T100, T200 and T300 Pro models.\n\nThe T100 has a 2 year warranty.\n\nThe T300 Pro has a 5 year warranty."
    answer = ExtractiveGenerator(HashingEmbedder(), threshold=0.05, max_sentences=2).answer(
        "How do the T100 and the T300 Pro differ in warranty?", [_doc(text)]
    )
    assert "2 year" in answer.text and "5 year" in answer.text


def test_how_an_agent_frames_a_case_is_no_key_term() -> None:
    asked = analyze("customer has E-102 on a T200, what do i tell them")
    assert asked.key_terms == frozenset()
    assert set(asked.ids) == {"e102", "t200"}


def test_bare_lines_in_a_row_are_a_list_not_a_stack_of_headings() -> None:
    # A slide's bullets lose their marks in parsing: three short unpunctuated lines are items.
    slide = (
        "Fixes Wi-Fi not reconnecting after a router reboot\n\n"
        "Fixes the T200 display freezing when the graph is opened\n\n"
        "Recommended for all T-series thermostats"
    )
    units = read_passage(_doc(slide))
    assert [u.heading for u in units] == [False, False, False]
    # A title over "Label: value" fields stays a title.
    entry = "KI-34 Humidity stuck at 0%\n\nAffects: T200 rev B\n\nStatus: open\n\nWorkaround: Refit it."
    assert [u.heading for u in read_passage(_doc(entry))] == [True, False, False, False]


def test_a_question_that_asks_a_price_wants_a_sentence_that_states_one() -> None:
    asked = analyze("How much does the PA-24 power adapter cost?")
    assert asked.wants == "money"
    assert analyze("How long is the warranty on the T300 Pro?").wants == "duration"
    assert analyze("When was the 4.2.1 hotfix released?").wants == "date"
    text = "Fit the PA-24 power adapter when the C-wire is missing. The PA-24 power adapter costs GBP 19."
    answer = ExtractiveGenerator(HashingEmbedder(), threshold=0.05, max_sentences=1).answer(
        "How much does the PA-24 power adapter cost?", [_doc(text)]
    )
    assert "GBP 19" in answer.text


def test_what_the_customer_reports_is_context_not_what_is_asked() -> None:
    asked = analyze(
        "What does error E-110 mean? The customer reports: the app says the thermostat is offline."
    )
    assert "offlin" not in asked.key_terms and "e110" in asked.ids


def test_a_document_about_the_whole_series_answers_for_each_of_its_models() -> None:
    text = "Reconnect a T-series thermostat to Wi-Fi\n\n1. Press and hold MENU and DOWN for 5 seconds."
    answer = ExtractiveGenerator(HashingEmbedder(), threshold=0.05).answer(
        "How do I reconnect the thermostat to Wi-Fi on the T100?", [_doc(text)]
    )
    assert not answer.refused and "MENU and DOWN" in answer.text


LED_TABLE = (
    "LED | Meaning\nSolid green | Connected\nBlinking blue | Pairing mode\n"
    "Pulsing amber | Firmware update in progress\nBlinking red | An error code is active"
)


def test_a_table_row_other_than_the_one_asked_is_no_answer() -> None:
    generator = ExtractiveGenerator(HashingEmbedder(), threshold=0.05)
    answer = generator.answer("What does a blinking amber status LED mean?", [_doc(LED_TABLE)])
    assert answer.refused  # "Blinking red" and "Pulsing amber" are other rows
    answer = generator.answer("What does a pulsing amber LED mean?", [_doc(LED_TABLE)])
    assert not answer.refused and "Firmware update in progress" in answer.text


def test_a_comparison_of_rows_on_an_aspect_the_table_lacks_is_refused() -> None:
    table = "Tier | First response\nBasic | 48 hours\nPlus | 8 hours"
    generator = ExtractiveGenerator(HashingEmbedder(), threshold=0.05)
    assert generator.answer(
        "How do the Basic tier and the Plus tier differ in warranty?", [_doc(table)]
    ).refused
    answer = generator.answer(
        "How do the Basic tier and the Plus tier differ in first response?", [_doc(table)]
    )
    assert not answer.refused and "48 hours" in answer.text


def test_a_model_the_series_list_leaves_out_is_unknown() -> None:
    text = "Covers the T100, T200 and T300 Pro models.\n\nAll T-series thermostats have a 2 year warranty."
    answer = ExtractiveGenerator(HashingEmbedder(), threshold=0.05).answer(
        "How long is the warranty on the T400?", [_doc(text)]
    )
    assert answer.refused and "T400" in (answer.refusal_reason or "")


def test_the_items_under_a_heading_that_names_the_asked_version_are_the_answer() -> None:
    slide = (
        "Quiet hours: backlight off from 22:00 by default\n\n"
        "Adaptive Recovery is now available on the T100\n\n"
        "Installer Menu shows compressor runtime hours"
    )
    answer = ExtractiveGenerator(HashingEmbedder(), threshold=0.05).answer(
        "what's new in firmware 4.2.0", [_doc(slide, section=("Release notes", "What is new in 4.2.0"))]
    )
    assert "Quiet hours" in answer.text and "Adaptive Recovery" in answer.text
    assert "What is new" not in answer.text  # the heading itself is not said


def test_a_numbered_line_between_paragraphs_is_a_section_heading() -> None:
    letter = (
        "We write about two changes.\n\n2. End of support for the legacy T-50 thermostat\n\n"
        "The legacy T-50 reaches end of support on 31 December 2024."
    )
    units = read_passage(_doc(letter))
    assert [u.heading for u in units] == [False, True, False]


def test_a_name_no_passage_mentions_is_refused_in_words_an_agent_can_act_on() -> None:
    table = "Tier | First response\nBasic | 48 hours\nPlus | 8 hours"
    answer = ExtractiveGenerator(HashingEmbedder(), threshold=0.05).answer(
        "What is the first response time for the Enterprise support tier?", [_doc(table)]
    )
    assert answer.refused
    assert (answer.refusal_reason or "").startswith("No document found mentions Enterprise")


def test_a_price_no_passage_states_is_refused() -> None:
    text = "Claim 0.5 hours of labour with labour code LAB-17 in the Pro Portal."
    answer = ExtractiveGenerator(HashingEmbedder(), threshold=0.05).answer(
        "What hourly labour rate is paid for a LAB-17 claim?", [_doc(text)]
    )
    assert answer.refused
    assert "price or cost" in (answer.refusal_reason or "")
