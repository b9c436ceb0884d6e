"""Names a question asks about, acronyms among them ("V&A", "AT&T", "U.S."), must be held by the
evidence, spelled the same way or spelled out."""

from __future__ import annotations

from core.domain import Passage
from ingest.embed import HashingEmbedder
from retrieval.extractive import ExtractiveGenerator
from retrieval.question import acronyms, analyze, name_forms


def _doc(text: str, name: str = "article") -> Passage:
    return Passage(f"c-{name}", name, "kb", f"{name}.txt", text, (1,), 0.9, (), 0, len(text))


def test_acronyms_with_an_ampersand_or_dots_are_names() -> None:
    assert acronyms("The V&A has its origins in which world exposition?") == {"va": "V&A"}
    assert acronyms("Does AT&T sell it in the U.S. and the U.K.?") == {
        "att": "AT&T",
        "us": "U.S.",
        "uk": "U.K.",
    }
    assert acronyms("What is the NASUWT?") == {"nasuwt": "NASUWT"}


def test_codes_and_text_in_capitals_hold_no_acronym() -> None:
    assert acronyms("Order the WB-300R bracket for the RS-1 sensor on a T300 Pro.") == {}
    assert acronyms("HOW DO I RESET THE THERMOSTAT?") == {}


def test_an_acronym_is_a_name_the_question_asks_about() -> None:
    assert "va" in analyze("The V&A has its origins in which world exposition?").names
    assert "att" in analyze("When did AT&T split up?").names
    # "US" in capitals may be the pronoun; with dots it is the country
    assert "us" in analyze("What U.S. entity said that corporal punishment was Constitutional?").names


def test_a_name_spelled_out_holds_its_acronym() -> None:
    assert {"va", "vam"} <= name_forms("It was renamed the Victoria and Albert Museum in 1899.")
    assert "us" in name_forms("Most schools in the United States allow it.")
    assert "att" in name_forms("American Telephone & Telegraph was broken up.")
    assert "us" in name_forms("It is still allowed in the U.S. today.")


def test_an_acronym_no_passage_holds_is_refused_in_words_an_agent_can_act_on() -> None:
    text = "The museum has its origins in the Great Exhibition of 1851, a world exposition."
    generator = ExtractiveGenerator(HashingEmbedder(), threshold=0.05)
    answer = generator.answer("The V&A has its origins in which world exposition?", [_doc(text)])
    assert answer.refused
    assert (answer.refusal_reason or "").startswith("No document found mentions V&A")


def test_an_acronym_a_passage_spells_out_is_not_refused_for_its_name() -> None:
    text = (
        "The Victoria and Albert Museum has its origins in the Great Exhibition of 1851, "
        "a world exposition held in London."
    )
    generator = ExtractiveGenerator(HashingEmbedder(), threshold=0.05)
    answer = generator.answer("The V&A has its origins in which world exposition?", [_doc(text)])
    assert not answer.refused, answer.refusal_reason
    assert "Great Exhibition" in answer.text
