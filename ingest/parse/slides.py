"""PowerPoint decks through python-pptx: one page per slide, in the order a reader takes it.

unstructured classifies each line of a slide by how it looks, so short bullets ("Fixes the T200
display freezing…") come back as titles and fall out of the text. The deck itself says what is
what: the title placeholder is the slide's heading, every other text frame is body (its
paragraphs list items when there are several), tables are tables and the notes are text.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from core.domain import Element, ElementKind
from core.errors import IngestFailed
from ingest.parse import ParsedDocument


def parse_pptx(path: Path) -> ParsedDocument:
    from pptx import Presentation

    try:
        deck = Presentation(str(path))
        slides = list(deck.slides)
    except Exception as exc:
        raise IngestFailed(f"corrupt or unreadable presentation file ({type(exc).__name__})") from exc
    elements: list[Element] = []
    for number, slide in enumerate(slides, start=1):
        try:
            elements.extend(_slide(slide, number))
        except Exception:  # noqa: BLE001 - one broken shape must not lose the deck
            continue
    return ParsedDocument(tuple(elements), max(len(slides), 1))


def _slide(slide: Any, number: int) -> list[Element]:
    elements: list[Element] = []
    title_shape = slide.shapes.title
    if title_shape is not None and title_shape.has_text_frame:
        title = " ".join(title_shape.text_frame.text.split())
        if title:
            # The opening slide names the deck; later slides are its sections.
            elements.append(Element(ElementKind.TITLE, title, number, level=0 if number == 1 else 1))
    for shape in sorted(_shapes(slide.shapes), key=_reading_order):
        if title_shape is not None and shape.shape_id == title_shape.shape_id:
            continue
        if getattr(shape, "has_table", False) and shape.has_table:
            table = _table(shape.table, number)
            if table is not None:
                elements.append(table)
        elif getattr(shape, "has_text_frame", False) and shape.has_text_frame:
            elements.extend(_text_frame(shape.text_frame, number))
        else:
            elements.extend(_other_text(shape, number))
    elements.extend(_unread_text(slide, {e.text for e in elements}, number))
    if slide.has_notes_slide:
        notes = slide.notes_slide.notes_text_frame
        if notes is not None:
            elements.extend(_text_frame(notes, number))
    return elements


def _shapes(shapes: Any) -> Iterator[Any]:
    for shape in shapes:
        if getattr(shape, "shape_type", None) == 6:  # MSO_SHAPE_TYPE.GROUP
            yield from _shapes(shape.shapes)
        else:
            yield shape


def _reading_order(shape: Any) -> tuple[int, int]:
    return (shape.top or 0, shape.left or 0)


def _text_frame(frame: Any, page: int) -> list[Element]:
    paragraphs = [(" ".join(p.text.split()), p.level) for p in frame.paragraphs]
    paragraphs = [(text, level) for text, level in paragraphs if text]
    kind = ElementKind.LIST if len(paragraphs) > 1 else ElementKind.TEXT
    return [Element(kind, text, page, level=level) for text, level in paragraphs]


_DRAWING_TEXT = "{http://schemas.openxmlformats.org/drawingml/2006/main}"


def _other_text(shape: Any, page: int) -> list[Element]:
    """Text in a shape python-pptx has no type for (SmartArt, an alternate-content frame): the
    DrawingML paragraphs in its XML, one element each."""
    texts = []
    for paragraph in shape._element.iter(_DRAWING_TEXT + "p"):
        text = " ".join("".join(t.text or "" for t in paragraph.iter(_DRAWING_TEXT + "t")).split())
        if text:
            texts.append(text)
    kind = ElementKind.LIST if len(texts) > 1 else ElementKind.TEXT
    return [Element(kind, text, page) for text in texts]


def _unread_text(slide: Any, seen: set[str], page: int) -> list[Element]:
    """Paragraphs of the slide's XML that no shape above gave (python-pptx skips shapes it does
    not know, such as an alternate-content block); table cells are read with their table."""
    out = []
    for paragraph in slide._element.iter(_DRAWING_TEXT + "p"):
        text = " ".join("".join(t.text or "" for t in paragraph.iter(_DRAWING_TEXT + "t")).split())
        in_table = any(True for _ in paragraph.iterancestors(_DRAWING_TEXT + "tbl"))
        if text and not in_table and text not in seen:
            seen.add(text)
            out.append(Element(ElementKind.TEXT, text, page))
    return out


def _table(table: Any, page: int) -> Element | None:
    rows = [[" ".join(cell.text.split()) for cell in row.cells] for row in table.rows]
    for r, row in enumerate(table.rows):  # a merged cell's text stands in every cell it covers
        for c, cell in enumerate(row.cells):
            if cell.is_merge_origin:
                for dr in range(cell.span_height):
                    for dc in range(cell.span_width):
                        if r + dr < len(rows) and c + dc < len(rows[r + dr]):
                            rows[r + dr][c + dc] = rows[r][c]
    rows = [row for row in rows if any(row)]
    if not rows:
        return None
    header = tuple(rows[0]) if len(rows) > 1 else ()
    return Element(ElementKind.TABLE, "\n".join(" | ".join(row) for row in rows), page, table_header=header)
