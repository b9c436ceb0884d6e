"""Where text sits: a citation's offsets to boxes, the packed form the catalog keeps, turned pages,
and boxes carried from parser to chunk to catalog."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.catalog import Catalog
from core.domain import Document, DocumentStatus, Element, ElementKind
from core.layout import Box, TextBox, covering, highlight, pack, turned, unpack
from ingest import detect
from ingest.chunk import Chunker, document_text
from ingest.parse import ParseLimits, parse
from tests.conftest import SAMPLES

LIMITS = ParseLimits(max_image_pixels=50_000_000, max_pages=100)


def _words(text: str, page: int = 1, top: float = 0.1) -> tuple[TextBox, ...]:
    """One box per word, left to right on one line, 0.01 of the page per character."""
    spans = []
    offset = 0
    for word in text.split(" "):
        box = Box(page, offset * 0.01, top, (offset + len(word)) * 0.01, top + 0.02)
        spans.append(TextBox(offset, offset + len(word), box))
        offset += len(word) + 1
    return tuple(spans)


def test_a_passage_maps_to_the_words_it_touches_and_no_others() -> None:
    spans = _words("reset the thermostat by holding the button")
    start = len("reset the ")
    end = start + len("thermostat by hol")  # ends inside a word: the word counts
    assert [(s.start, s.end) for s in covering(spans, start, end)] == [(10, 20), (21, 23), (24, 31)]
    assert covering(spans, 5, 6) == []  # the space between two words touches neither


def test_a_line_of_words_draws_as_one_rectangle_and_each_line_its_own() -> None:
    first = _words("hold the button", top=0.1)
    second = tuple(s.shifted(16) for s in _words("for ten seconds", top=0.14))
    rects = highlight(first + second, 0, 31)
    assert len(rects) == 2
    assert (rects[0].x0, rects[0].y0, rects[0].x1, rects[0].y1) == pytest.approx((0.0, 0.1, 0.15, 0.12))
    assert rects[1].y0 == pytest.approx(0.14) and rects[1].x1 == pytest.approx(0.15)


def test_a_passage_over_two_pages_gets_boxes_on_both() -> None:
    one = _words("end of page one", page=1, top=0.9)
    two = tuple(s.shifted(16) for s in _words("start of page two", page=2, top=0.05))
    rects = highlight(one + two, 7, 21)
    assert [r.page for r in rects] == [1, 2]


def test_packed_boxes_come_back_within_a_pixel_at_any_offset() -> None:
    spans = _words("the packed form keeps offsets and boxes", page=3)
    base = 12_345
    moved = [s.shifted(base) for s in spans]
    back = unpack(pack(moved, base), base)
    assert [(s.start, s.end, s.box.page) for s in back] == [(s.start, s.end, 3) for s in moved]
    for got, want in zip(back, moved, strict=True):
        assert got.box.x0 == pytest.approx(want.box.x0, abs=1e-4)
        assert got.box.y1 == pytest.approx(want.box.y1, abs=1e-4)
    assert len(pack(moved, base)) < 16 * len(moved) + 16


@pytest.mark.parametrize("rotation", [0, 90, 180, 270])
def test_a_box_read_on_a_turned_page_lands_on_the_page_as_it_is(rotation: int) -> None:
    """A word at the top left of a page, read after the page was turned clockwise by ``rotation``."""
    word = Box(1, 0.1, 0.05, 0.3, 0.08)
    on_turned = _turn(word, rotation)
    back = turned(on_turned, rotation)
    assert (back.x0, back.y0, back.x1, back.y1) == pytest.approx((0.1, 0.05, 0.3, 0.08))


def _turn(box: Box, rotation: int) -> Box:
    """The box after the page turns clockwise by ``rotation``: (x, y) -> (1 - y, x) per quarter."""
    for _ in range(rotation // 90):
        box = Box(box.page, 1 - box.y1, box.x0, 1 - box.y0, box.x1)
    return box


def test_the_chunker_gives_each_chunk_the_boxes_of_its_own_words() -> None:
    texts = [
        "Installation",
        ("Remove the old thermostat. " * 12).strip(),
        ("Wiring the C wire. " * 12).strip(),
    ]
    elements = [
        Element(ElementKind.TITLE if i == 0 else ElementKind.TEXT, t, page=i + 1, boxes=_words(t, page=i + 1))
        for i, t in enumerate(texts)
    ]
    chunks = Chunker(lambda text: list(range(len(text.split()))), 30, 5).chunk("doc", elements)
    text = document_text(elements)
    assert len(chunks) >= 2
    for chunk in chunks:
        assert chunk.boxes, chunk
        for span in chunk.boxes:
            assert span.start < chunk.char_end and span.end > chunk.char_start
            word = text[span.start : span.end]
            assert word and " " not in word
            assert span.box.page in chunk.pages


@pytest.mark.parametrize(
    ("source", "media_type"),
    [("t-series-user-manual.pdf", detect.PDF), ("warranty-policy-letter-scanned.pdf", detect.PDF)],
)
def test_every_parsed_word_box_names_one_word_of_its_element(source: str, media_type: str) -> None:
    parsed = parse(SAMPLES / source, media_type, LIMITS)
    assert all(e.boxes for e in parsed.elements if e.kind is not ElementKind.TABLE)
    for element in parsed.elements:
        starts = [s.start for s in element.boxes]
        assert starts == sorted(starts)
        for span in element.boxes:
            word = element.text[span.start : span.end]
            assert word.strip() == word and word, (element.text, span)
            assert span.box.page == element.page and 0 < span.box.area < 0.5


def test_a_scanned_word_box_sits_on_the_word(tmp_path: Path) -> None:
    """Draw a word at a known place, OCR it, and find its box there."""
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("RGB", (1200, 600), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=48)
    draw.text((100, 80), "Warranty claims need", font=font, fill="black")
    draw.text((600, 400), "the serial number.", font=font, fill="black")
    path = tmp_path / "scan.png"
    image.save(path)
    parsed = parse(path, "image/png", LIMITS)
    spans = [(e.text[s.start : s.end], s.box) for e in parsed.elements for s in e.boxes]
    serial = next(box for word, box in spans if word == "serial")
    assert 0.55 < serial.x0 < 0.8 and 0.6 < serial.y0 < 0.8


def test_the_catalog_keeps_boxes_per_chunk_and_drops_them_with_the_chunks(catalog_url: str) -> None:
    catalog = Catalog.connect(catalog_url)
    catalog.ensure_collection("kb")
    doc = Document("d1", "kb", "manual.pdf", detect.PDF, "0" * 64, 1, DocumentStatus.READY)
    catalog.add_document(doc)
    text = "Hold the button for ten seconds to reset the thermostat."
    elements = [Element(ElementKind.TEXT, text, 2, boxes=_words(text, page=2))]
    chunks = Chunker(lambda t: list(range(len(t.split()))), 100, 0).chunk("d1", elements)
    catalog.replace_chunks("d1", chunks)

    start = text.index("ten")
    got = catalog.passage_boxes("d1", start, start + len("ten seconds"))
    assert got is not None and [text[s.start : s.end] for s in got] == ["ten", "seconds"]
    assert catalog.passage_context("d1", start, start + 3) == (text, start, start + 3)

    catalog.replace_chunks("d1", [c.__class__(c.document_id, c.index, c.text, c.pages) for c in chunks])
    assert catalog.passage_boxes("d1", start, start + 3) is None  # a re-parse without boxes
    with catalog.session() as s:
        from sqlalchemy import func, select

        from core.catalog.models import ChunkBoxesRow

        assert s.scalar(select(func.count()).select_from(ChunkBoxesRow)) == 0
    catalog.close()


@pytest.mark.slow
@pytest.mark.parametrize("rotate", [90, 180, 270])
def test_a_word_read_on_a_turned_scan_is_boxed_where_it_is_on_the_scan(tmp_path: Path, rotate: int) -> None:
    """OCR reads a turned page upright; the boxes must still land on the page as it was given."""
    from tests.unit.test_parse import card

    def code_box(path: Path) -> Box:
        parsed = parse(path, "image/png", LIMITS)
        return next(s.box for e in parsed.elements for s in e.boxes if e.text[s.start : s.end] == "7351.")

    upright = code_box(card(tmp_path, 0))
    turned_box = code_box(card(tmp_path, rotate))
    want = _turn(upright, (360 - rotate) % 360)  # card() turns counter-clockwise
    centre = ((turned_box.x0 + turned_box.x1) / 2, (turned_box.y0 + turned_box.y1) / 2)
    assert centre == pytest.approx(((want.x0 + want.x1) / 2, (want.y0 + want.y1) / 2), abs=0.03)


@pytest.mark.parametrize("rotation", [90, 180, 270])
def test_a_word_on_a_turned_pdf_page_is_boxed_where_the_page_shows_it(tmp_path: Path, rotation: int) -> None:
    """A page with /Rotate shows its content turned clockwise: so must the boxes."""
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(SAMPLES / "installer-bulletin-2024-07.pdf")
    for page in pdf:
        page.set_rotation(rotation)
    turned_path = tmp_path / f"turned-{rotation}.pdf"
    pdf.save(turned_path)
    pdf.close()

    def first_word(path: Path) -> Box:
        parsed = parse(path, detect.PDF, LIMITS)
        return parsed.elements[0].boxes[0].box

    upright, shown = first_word(SAMPLES / "installer-bulletin-2024-07.pdf"), first_word(turned_path)
    want = _turn(upright, rotation)
    assert (shown.x0, shown.y0, shown.x1, shown.y1) == pytest.approx(
        (want.x0, want.y0, want.x1, want.y1), abs=1e-3
    )
