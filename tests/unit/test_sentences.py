"""Sentence spans: spaCy's rule-based sentencizer inside the units the page's layout gives."""

from __future__ import annotations

import pytest

from retrieval.sentences import split_sentences


def texts(text: str) -> list[str]:
    spans = split_sentences(text)
    assert all(text[s.start : s.end] == s.text for s in spans)
    return [s.text for s in spans]


def test_sentences_keep_their_offsets_and_abbreviations() -> None:
    text = "Use a 3.5 mm key, e.g. the one supplied. Then press OK!\nThe next line stands alone\nok"
    assert texts(text) == [
        "Use a 3.5 mm key, e.g. the one supplied.",
        "Then press OK!",
        "The next line stands alone\nok",  # a line that goes on in lower case is a hard wrap
    ]


def test_a_hard_wrapped_sentence_is_one_sentence() -> None:
    text = "Remove the thermostat from the wall plate for 30 seconds\nand refit it. The reading usually\nrecovers."
    assert texts(text) == [
        "Remove the thermostat from the wall plate for 30 seconds\nand refit it.",
        "The reading usually\nrecovers.",
    ]


def test_list_items_table_rows_and_headings_are_units() -> None:
    text = "Symptom\nThe display is blank\n1. Check the breaker.\n2. Refit the unit\nCode | Meaning\nE-101 | No power"
    assert texts(text) == [
        "Symptom",
        "The display is blank",
        "1. Check the breaker.",
        "2. Refit the unit",
        "Code | Meaning",
        "E-101 | No power",
    ]


@pytest.mark.parametrize(
    "sentence",
    [
        "Open Settings > Picture > Expert Settings and choose Contrast.",
        "Open a browser at 192.168.4.1 and install firmware 4.2.1 first.",
        "Installers can force an update in the Pro Portal: Devices > Firmware > Update now.",
    ],
)
def test_menu_paths_versions_and_addresses_stay_whole(sentence: str) -> None:
    assert texts(sentence + " Done.") == [sentence, "Done."]


def test_a_citation_marker_after_the_full_stop_stays_with_its_sentence() -> None:
    text = "Press and hold the dial for 3 seconds and choose Restart. [1] A reset erases schedules. [2][3]"
    assert texts(text) == [
        "Press and hold the dial for 3 seconds and choose Restart. [1]",
        "A reset erases schedules. [2][3]",
    ]
    assert texts("It takes 8 minutes [1]. Do not cut power [2].") == [
        "It takes 8 minutes [1].",
        "Do not cut power [2].",
    ]


def test_short_fragments_are_kept_and_empty_ones_dropped() -> None:
    assert texts("Yes\n\n---\n\n5 years") == ["Yes", "5 years"]
    assert texts("") == []
