"""Parsing: text layers, OCR (scans, mixed PDFs, turned pages), office formats, hostile input."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont

from core.domain import ElementKind
from core.errors import IngestFailed, TooLarge
from ingest import detect
from ingest.parse import ParsedDocument, ParseLimits, parse

SAMPLES = Path(__file__).resolve().parents[2] / "samples" / "acme-support"
LIMITS = ParseLimits(max_image_pixels=120_000_000, max_pages=2000)
SMALL_LIMITS = ParseLimits(max_image_pixels=10_000_000, max_pages=50)


@pytest.fixture(autouse=True)
def _restore_pillow_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    """open_image_safely sets Image.MAX_IMAGE_PIXELS process-wide: put it back after each test."""
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", Image.MAX_IMAGE_PIXELS)


def text_on(parsed: ParsedDocument, page: int) -> str:
    return " ".join(" ".join(e.text.split()) for e in parsed.elements if e.page == page)


def all_text(parsed: ParsedDocument) -> str:
    return " ".join(" ".join(e.text.split()) for e in parsed.elements)


# -- PDFs ------------------------------------------------------------------------------------------


def test_a_text_pdf_keeps_pages_and_headings() -> None:
    parsed = parse(SAMPLES / "t-series-user-manual.pdf", detect.PDF, LIMITS)
    assert parsed.page_count == 4
    assert parsed.ocr_pages == ()
    assert "press and hold the dial for 10 seconds" in text_on(parsed, 4)
    assert "W2, Y2 or ACC" in text_on(parsed, 3)
    titles = [e for e in parsed.elements if e.kind is ElementKind.TITLE]
    assert any(e.text == "5. Restart and factory reset" and e.page == 4 and e.level == 0 for e in titles)
    assert any(e.text == "1.1 What is in the box" and e.level == 1 for e in titles)
    assert parsed.title is not None


@pytest.mark.slow
def test_the_scanned_page_of_a_mixed_pdf_is_ocrd() -> None:
    parsed = parse(SAMPLES / "installer-bulletin-2024-07.pdf", detect.PDF, LIMITS)
    assert parsed.page_count == 2
    assert parsed.ocr_pages == (2,)
    assert "WB-300R" in text_on(parsed, 2)
    assert "FSN-2024-07" in text_on(parsed, 2)
    assert "WB-300R" not in text_on(parsed, 1)
    assert "0412" in text_on(parsed, 1)  # page 1 is read from its text layer
    assert {e.kind for e in parsed.elements if e.page == 2} == {ElementKind.OCR}
    assert ElementKind.OCR not in {e.kind for e in parsed.elements if e.page == 1}


@pytest.mark.slow
def test_a_scanned_pdf_is_ocrd() -> None:
    parsed = parse(SAMPLES / "warranty-policy-letter-scanned.pdf", detect.PDF, LIMITS)
    assert parsed.page_count == 1
    assert parsed.ocr_pages == (1,)
    text = all_text(parsed)
    assert "GBP 39" in text
    assert "within 30 days of the fault being found" in text


def test_a_pdf_over_the_page_limit_is_too_large() -> None:
    with pytest.raises(TooLarge) as caught:
        parse(SAMPLES / "t-series-user-manual.pdf", detect.PDF, ParseLimits(10_000_000, max_pages=2))
    assert caught.value.reason == "PDF has 4 pages, more than the limit of 2"


def test_an_encrypted_pdf_asks_for_the_password_to_be_removed(tmp_path: Path) -> None:
    canvas = pytest.importorskip("reportlab.pdfgen.canvas")
    path = tmp_path / "locked.pdf"
    pdf = canvas.Canvas(str(path), encrypt="secret")
    pdf.drawString(72, 720, "This confidential page has plenty of text in its text layer.")
    pdf.save()
    with pytest.raises(IngestFailed) as caught:
        parse(path, detect.PDF, LIMITS)
    assert caught.value.reason.startswith("password-protected PDF")
    assert caught.value.reason == "password-protected PDF: remove the password and upload it again"


def test_a_corrupt_pdf_is_ingest_failed(tmp_path: Path) -> None:
    path = tmp_path / "broken.pdf"
    path.write_bytes(b"%PDF-1.4\n garbage")
    with pytest.raises(IngestFailed) as caught:
        parse(path, detect.PDF, LIMITS)
    assert caught.value.reason == "corrupt or unreadable PDF"


def test_a_pdf_with_only_blank_pages_has_no_readable_text(tmp_path: Path) -> None:
    canvas = pytest.importorskip("reportlab.pdfgen.canvas")
    path = tmp_path / "blank.pdf"
    pdf = canvas.Canvas(str(path), pagesize=(200, 200))
    pdf.showPage()
    pdf.save()
    with pytest.raises(IngestFailed) as caught:
        parse(path, detect.PDF, LIMITS)
    assert caught.value.reason == "no readable text found in the document"


# -- images ----------------------------------------------------------------------------------------


def card(tmp_path: Path, rotate: int) -> Path:
    """A PNG of a few lines of text, turned ``rotate`` degrees counter-clockwise."""
    font = ImageFont.load_default(size=36)
    image = Image.new("L", (1400, 420), 255)
    draw = ImageDraw.Draw(image)
    lines = [
        "Thermostat quick reference card",
        "The installer code for the menu is 7351.",
        "Hold the dial for ten seconds to reset it.",
        "Replace the battery every two years please.",
    ]
    for i, line in enumerate(lines):
        draw.text((60, 40 + i * 90), line, fill=0, font=font)
    path = tmp_path / f"card-{rotate}.png"
    image.rotate(rotate, expand=True).save(path)
    return path


@pytest.mark.slow
def test_a_png_is_ocrd() -> None:
    parsed = parse(SAMPLES / "wifi-reconnect-card.png", "image/png", LIMITS)
    assert parsed.page_count == 1
    assert parsed.ocr_pages == (1,)
    assert "192.168.4.1" in all_text(parsed)
    assert {e.kind for e in parsed.elements} == {ElementKind.OCR}


@pytest.mark.slow
@pytest.mark.parametrize("rotate", [90, 180])
def test_a_turned_page_is_read_upright(tmp_path: Path, rotate: int) -> None:
    path = card(tmp_path, rotate)
    parsed = parse(path, "image/png", LIMITS)
    text = all_text(parsed)
    assert "The installer code for the menu is 7351." in text
    assert "Hold the dial for ten seconds to reset it." in text


@pytest.mark.slow
def test_orientation_detection_reports_the_rotation(tmp_path: Path) -> None:
    from ingest.parse.ocr import ocr_image

    with Image.open(card(tmp_path, 90)) as image:
        result = ocr_image(image)
    assert result.rotation == 90
    assert result.confidence > 80
    assert "reset it." in " ".join(result.paragraphs)


@pytest.mark.parametrize(
    "size",
    [
        (6000, 6000),  # 36 Mpx: past twice the limit, Pillow's DecompressionBombError
        (4000, 4000),  # 16 Mpx: past the limit, Pillow's DecompressionBombWarning
    ],
)
def test_a_decompression_bomb_is_refused(tmp_path: Path, size: tuple[int, int]) -> None:
    path = tmp_path / "bomb.png"
    Image.new("1", size).save(path)
    assert path.stat().st_size < 200_000  # tiny on disk, huge in memory
    with pytest.raises(TooLarge) as caught:
        parse(path, "image/png", SMALL_LIMITS)
    assert caught.value.reason == "image too large to decode safely"


def test_a_corrupt_image_is_ingest_failed(tmp_path: Path) -> None:
    path = tmp_path / "broken.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    with pytest.raises(IngestFailed) as caught:
        parse(path, "image/png", SMALL_LIMITS)
    assert caught.value.reason == "image is corrupt or in an unreadable format"


# -- office formats (unstructured) -----------------------------------------------------------------


@pytest.mark.slow
def test_docx_headings_become_titles_with_levels() -> None:
    parsed = parse(SAMPLES / "refund-and-sla-policy.docx", detect.DOCX, LIMITS)
    titles = [(e.text, e.level) for e in parsed.elements if e.kind is ElementKind.TITLE]
    assert ("Refund, Returns and Support Service Level Policy", 0) in titles
    assert ("1. Refunds and returns", 0) in titles
    assert ("1.1 Return window", 1) in titles
    assert ("2.1 Support tiers", 1) in titles
    assert parsed.title == "Refund, Returns and Support Service Level Policy"
    tables = [e for e in parsed.elements if e.kind is ElementKind.TABLE]
    assert len(tables) == 1
    assert tables[0].text.splitlines()[0] == "Tier | Who | Channels | First response | Resolution target"
    assert "45 days" in all_text(parsed)


@pytest.mark.slow
def test_xlsx_sheets_become_a_title_and_a_table_each() -> None:
    parsed = parse(SAMPLES / "compatibility-and-error-codes.xlsx", detect.XLSX, LIMITS)
    assert parsed.page_count == 2
    assert [(e.kind, e.text, e.page) for e in parsed.elements if e.kind is ElementKind.TITLE] == [
        (ElementKind.TITLE, "HVAC Compatibility", 1),
        (ElementKind.TITLE, "Error Codes", 2),
    ]
    assert [e.kind for e in parsed.elements] == [
        ElementKind.TITLE,
        ElementKind.TABLE,
        ElementKind.TITLE,
        ElementKind.TABLE,
    ]
    errors = parsed.elements[3]
    assert errors.page == 2
    assert errors.text.splitlines()[0] == "Code | Meaning | Likely cause | Action"
    assert any(
        line.startswith("E-104 | Internal temperature sensor fault") for line in errors.text.splitlines()
    )


@pytest.mark.slow
def test_a_corrupt_docx_is_ingest_failed(tmp_path: Path) -> None:
    path = tmp_path / "broken.docx"
    path.write_bytes(b"PK\x03\x04 definitely not a real docx")
    with pytest.raises(IngestFailed) as caught:
        parse(path, detect.DOCX, LIMITS)
    # The kind comes from the media type; the exception name (from unstructured) may vary.
    assert re.fullmatch(r"corrupt or unreadable document file \(\w+\)", caught.value.reason)


# -- structure kept --------------------------------------------------------------------------------


def test_a_ruled_pdf_table_keeps_its_rows_and_header() -> None:
    parsed = parse(SAMPLES / "t-series-user-manual.pdf", detect.PDF, LIMITS)
    tables = [e for e in parsed.elements if e.kind is ElementKind.TABLE]
    assert len(tables) == 1 and tables[0].page == 2
    assert tables[0].table_header == ("Model", "Supply voltage", "Wi-Fi", "Display", "Warranty")
    rows = tables[0].text.splitlines()
    assert rows[0] == "Model | Supply voltage | Wi-Fi | Display | Warranty"
    assert (
        "T300 Pro | 24 VAC, C-wire required | Wi-Fi 6 dual band + Thread | 4.0 in colour touch | 5 years"
        in rows
    )


def test_a_wrapped_pdf_list_item_is_one_element() -> None:
    parsed = parse(SAMPLES / "t-series-user-manual.pdf", detect.PDF, LIMITS)
    texts = [e.text for e in parsed.elements if e.kind is ElementKind.LIST]
    assert (
        "4. Mount the wall plate with the built-in bubble level facing up, using the screws and anchors provided."
        in texts
    )
    assert not any(e.text == "provided." for e in parsed.elements)


def test_pptx_slide_bodies_are_text_and_slide_titles_headings() -> None:
    parsed = parse(SAMPLES / "firmware-release-notes-4-2.pptx", detect.PPTX, LIMITS)
    titles = [(e.text, e.page, e.level) for e in parsed.elements if e.kind is ElementKind.TITLE]
    assert titles == [
        ("Firmware 4.2 Release Notes", 1, 0),
        ("What is new in 4.2.0 (released 20 May 2024)", 2, 1),
        ("4.2.1 hotfix (released 3 June 2024)", 3, 1),
        ("Rollout and requirements", 4, 1),
    ]
    hotfix = [e.text for e in parsed.elements if e.page == 3 and e.kind is ElementKind.LIST]
    assert hotfix == [
        "Fixes Wi-Fi not reconnecting after a router reboot",
        "Fixes the T200 display freezing when the humidity graph is opened",
        "Recommended for all T-series thermostats",
    ]


def test_pptx_speaker_notes_and_tables_are_kept(tmp_path: Path) -> None:
    pptx = pytest.importorskip("pptx")
    deck = pptx.Presentation()
    slide = deck.slides.add_slide(deck.slide_layouts[5])  # title only
    slide.shapes.title.text = "Prices"
    shape = slide.shapes.add_table(3, 2, 0, 1_500_000, 4_000_000, 1_000_000)
    for r, row in enumerate([("Plan", "Price"), ("Basic", "GBP 0"), ("Plus", "GBP 4")]):
        for c, value in enumerate(row):
            shape.table.cell(r, c).text = value
    slide.notes_slide.notes_text_frame.text = "Say that Plus is billed monthly."
    path = tmp_path / "deck.pptx"
    deck.save(str(path))
    parsed = parse(path, detect.PPTX, LIMITS)
    table = next(e for e in parsed.elements if e.kind is ElementKind.TABLE)
    assert table.text == "Plan | Price\nBasic | GBP 0\nPlus | GBP 4"
    assert table.table_header == ("Plan", "Price")
    assert "Say that Plus is billed monthly." in all_text(parsed)


def test_plain_text_fields_are_units_and_hard_wraps_are_joined() -> None:
    parsed = parse(SAMPLES / "known-issues.txt", detect.TEXT, LIMITS)
    texts = [e.text for e in parsed.elements]
    assert (
        "Workaround: Remove the thermostat from the wall plate for 30 seconds and refit it. The reading "
        "usually recovers for several weeks. If it returns within 7 days, offer a replacement under warranty."
    ) in texts
    assert "Status: OPEN - hardware investigation in progress" in texts
    headings = [e.text for e in parsed.elements if e.kind is ElementKind.TITLE]
    assert "KI-034 Humidity reading stuck at 0% on T200 hardware revision B" in headings
    assert all(len(t) < 300 for t in texts)


def test_office_tables_carry_their_header() -> None:
    parsed = parse(SAMPLES / "compatibility-and-error-codes.xlsx", detect.XLSX, LIMITS)
    tables = [e for e in parsed.elements if e.kind is ElementKind.TABLE]
    assert tables[1].table_header == ("Code", "Meaning", "Likely cause", "Action")


@pytest.mark.slow
def test_an_inline_icon_does_not_cut_a_menu_path_and_button_labels_are_dropped(tmp_path: Path) -> None:
    path = tmp_path / "manual.html"
    path.write_text(
        "<html><body><h2>Navigation buttons</h2><ul><li>From Settings, tap <img src='i.png'/>"
        " <b>Display</b> &gt; <b>Navigation bar</b>.</li></ul>"
        "<p>Settings &gt; Picture &gt; Expert Settings Try Now</p></body></html>",
        encoding="utf-8",
    )
    texts = [" ".join(e.text.split()) for e in parse(path, detect.HTML, LIMITS).elements]
    assert any(t.startswith("From Settings, tap Display > Navigation bar") for t in texts)
    assert "Settings > Picture > Expert Settings" in texts


def test_ocr_lines_of_a_paragraph_join_where_the_sentence_goes_on() -> None:
    from ingest.parse.ocr import _join_wrapped

    lines = [
        "Symptom",
        "The thermostat shows E-212 when the auxiliary",
        "heat does not run, and the",
        "fan stops.",
        "3. On your phone, join NW-SETUP-xxxx",
        "(xxxx = last 4 digits).",
        "4. Open a browser.",
    ]
    assert _join_wrapped([(line, ()) for line in lines])[0] == (
        "Symptom\nThe thermostat shows E-212 when the auxiliary heat does not run, and the fan stops.\n"
        "3. On your phone, join NW-SETUP-xxxx (xxxx = last 4 digits).\n4. Open a browser."
    )


def test_a_page_number_footer_on_the_only_text_page_is_not_a_heading() -> None:
    parsed = parse(SAMPLES / "installer-bulletin-2024-07.pdf", detect.PDF, LIMITS)
    assert not any("IB-2024-07 Page 1" in e.text for e in parsed.elements)
    assert any(e.text.startswith("Page 2 of this bulletin") for e in parsed.elements)
