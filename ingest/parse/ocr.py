"""Tesseract OCR with orientation correction; text comes back as paragraphs, with each word's box
(Tesseract's own, from ``image_to_data``) on the image as it was given."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from PIL import Image

from core.domain import Element, ElementKind
from core.errors import IngestFailed
from core.layout import TextBox, turned, word_box

# OpenMP inside Tesseract fights the other worker for the 2 cores and runs ~2x slower.
os.environ.setdefault("OMP_THREAD_LIMIT", "1")

_LOW_CONFIDENCE = 60.0
_MIN_WORDS = 5


@dataclass(frozen=True, slots=True)
class OcrResult:
    paragraphs: tuple[str, ...]
    confidence: float
    rotation: int
    # Per paragraph, its words' boxes (offsets in the paragraph; the page is 0 until placed).
    boxes: tuple[tuple[TextBox, ...], ...] = ()

    def elements(self, page: int) -> tuple[Element, ...]:
        """The paragraphs as OCR elements of ``page``, their boxes on that page."""
        boxes = self.boxes or tuple(() for _ in self.paragraphs)
        return tuple(
            Element(ElementKind.OCR, text, page, boxes=tuple(_on_page(b, page) for b in spans))
            for text, spans in zip(self.paragraphs, boxes, strict=True)
        )


def _on_page(span: TextBox, page: int) -> TextBox:
    box = span.box
    return TextBox(span.start, span.end, word_box(page, box.x0, box.y0, box.x1, box.y1))


def ocr_image(image: Image.Image, languages: str = "eng") -> OcrResult:
    """OCR ``image``; if the text looks unreadable, ask Tesseract's OSD how the page is turned."""
    image = _prepare(image)
    first = _recognise(image, languages, rotation=0)
    if first.confidence >= _LOW_CONFIDENCE and sum(len(p.split()) for p in first.paragraphs) >= _MIN_WORDS:
        return first
    rotation = _detect_rotation(image)
    if rotation == 0:
        return first
    turned = _recognise(image.rotate(-rotation, expand=True), languages, rotation=rotation)
    return turned if turned.confidence > first.confidence else first


def _prepare(image: Image.Image) -> Image.Image:
    if image.mode not in {"L", "RGB"}:
        image = image.convert("RGB")
    return image


def _recognise(image: Image.Image, languages: str, rotation: int) -> OcrResult:
    import pytesseract

    try:
        data = pytesseract.image_to_data(image, lang=languages, output_type=pytesseract.Output.DICT)
    except pytesseract.TesseractNotFoundError as exc:
        raise IngestFailed("OCR is not available: Tesseract is not installed") from exc
    except pytesseract.TesseractError as exc:
        raise IngestFailed(f"OCR failed: {exc.message.strip()[:200]}") from exc
    width, height = max(image.width, 1), max(image.height, 1)
    lines: dict[tuple[int, int, int], list[tuple[str, TextBox]]] = {}
    confidences: list[float] = []
    for i, word in enumerate(data["text"]):
        word = word.strip()
        if not word:
            continue
        key = (data["block_num"][i], data["par_num"][i], data["line_num"][i])
        left, top = data["left"][i], data["top"][i]
        box = word_box(
            0,
            left / width,
            top / height,
            (left + data["width"][i]) / width,
            (top + data["height"][i]) / height,
        )
        # Boxes on the page as given: OCR may have read it turned clockwise by ``rotation``.
        lines.setdefault(key, []).append((word, TextBox(0, len(word), turned(box, rotation))))
        conf = float(data["conf"][i])
        if conf >= 0:
            confidences.append(conf)
    paragraphs: dict[tuple[int, int], list[tuple[str, tuple[TextBox, ...]]]] = {}
    for (block, par, _line), words in lines.items():
        paragraphs.setdefault((block, par), []).append(_line_of(words))
    joined = [_join_wrapped(ls) for ls in paragraphs.values()]
    mean = sum(confidences) / len(confidences) if confidences else 0.0
    return OcrResult(tuple(t for t, _ in joined), mean, rotation, tuple(b for _, b in joined))


def _line_of(words: list[tuple[str, TextBox]]) -> tuple[str, tuple[TextBox, ...]]:
    """A line's words joined by spaces, each box at its word's offset."""
    spans = []
    offset = 0
    for word, span in words:
        spans.append(TextBox(offset, offset + len(word), span.box))
        offset += len(word) + 1
    return " ".join(word for word, _ in words), tuple(spans)


_LIST_MARK = re.compile(r"^([•●▪◦\-–*]|\d{1,2}[.)])\s")
_OPEN_END = re.compile(r"([,;(/&>+\-–]|\b(a|an|and|or|the|of|to|in|on|for|with|by|at|from))$", re.IGNORECASE)


def _join_wrapped(lines: list[tuple[str, tuple[TextBox, ...]]]) -> tuple[str, tuple[TextBox, ...]]:
    """A paragraph's lines: a hard wrap (the next line goes on in lower case or a bracket, or this one stops
    at a comma or a preposition) becomes a space; any other break (a heading above its text, a
    list item) stays a line break. Each word's box moves with it."""
    text, first = lines[0]
    spans = list(first)
    for line, words in lines[1:]:
        goes_on = line[:1].islower() or line[:1] == "(" or bool(_OPEN_END.search(text))
        wrapped = goes_on and not _LIST_MARK.match(line)
        if wrapped and text.endswith("-") and line[:1].islower() and text[-2:-1].islower():
            text = text[:-1]  # a word hyphenated across lines
            if spans and spans[-1].end > len(text):
                spans[-1] = TextBox(spans[-1].start, len(text), spans[-1].box)
        else:
            text += " " if wrapped else "\n"
        spans.extend(word.shifted(len(text)) for word in words)
        text += line
    return text, tuple(spans)


def _detect_rotation(image: Image.Image) -> int:
    import pytesseract

    try:
        osd = pytesseract.image_to_osd(image, output_type=pytesseract.Output.DICT)
    except pytesseract.TesseractError:
        return 0  # too little text to tell: keep the page as it is
    return int(osd.get("rotate", 0)) % 360
