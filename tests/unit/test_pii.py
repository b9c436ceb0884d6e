from bench.pii import score
from ingest.pii import PiiDetector, PiiKind


def test_the_labelled_set_is_found_with_few_false_alarms() -> None:
    report = score(PiiDetector())
    assert report["all"]["recall"] >= 0.95
    assert report["all"]["precision"] >= 0.9
    for kind in ("email", "card", "iban", "national_id"):
        assert report[kind]["precision"] == 1.0, kind


def test_a_number_failing_its_check_is_not_reported() -> None:
    detector = PiiDetector()
    assert detector.find("card 4111 1111 1111 1112") == []  # Luhn fails
    assert detector.find("account GB82 WEST 1234 5698 7654 33") == []  # mod 97 fails
    assert [m.kind for m in detector.find("card 4111 1111 1111 1111")] == [PiiKind.CARD]


def test_redaction_replaces_each_match_with_its_label() -> None:
    text = "Mail ana@example.org or call +44 20 7946 0958; card 4242424242424242."
    redacted, matches = PiiDetector().redact(text)
    assert redacted == "Mail [EMAIL] or call [PHONE]; card [CARD]."
    assert [m.kind for m in matches] == [PiiKind.EMAIL, PiiKind.PHONE, PiiKind.CARD]


def test_custom_patterns_per_collection() -> None:
    detector = PiiDetector({"employee_id": r"\bEMP-\d{6}\b"})
    redacted, matches = detector.redact("Badge EMP-004211 opened the door; EMP-12 did not.")
    assert redacted == "Badge [EMPLOYEE_ID] opened the door; EMP-12 did not."
    assert matches[0].kind is PiiKind.CUSTOM


def test_overlapping_candidates_keep_the_longer_span() -> None:
    # The digits of an IBAN also look like a phone number in some regions.
    matches = PiiDetector().find("IBAN DE89370400440532013000")
    assert [(m.kind, m.start) for m in matches] == [(PiiKind.IBAN, 5)]
