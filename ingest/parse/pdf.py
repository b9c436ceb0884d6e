"""PDFs page by page: the text layer where there is one, OCR where there is not.

pypdfium2 (PDFium, the engine in Chrome) reads the text layer and renders pages for OCR: it copes
with the broken and hostile files in shared/eval-data/pdf-badinput and needs no poppler.
"""

from __future__ import annotations

import itertools
import re
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.domain import Element, ElementKind
from core.errors import IngestFailed, TooLarge
from ingest.parse import ParsedDocument, ParseLimits
from ingest.parse.ocr import ocr_image

# A page with fewer visible characters than this is treated as scanned.
_MIN_TEXT_CHARS = 24
_PASSWORD_ERROR = 4


def parse_pdf(path: Path, limits: ParseLimits) -> ParsedDocument:
    import pypdfium2 as pdfium

    try:
        pdf = pdfium.PdfDocument(path)
    except pdfium.PdfiumError as exc:
        if getattr(exc, "err_code", None) == _PASSWORD_ERROR:
            raise IngestFailed("password-protected PDF: remove the password and upload it again") from exc
        raise IngestFailed("corrupt or unreadable PDF") from exc
    try:
        page_count = len(pdf)
        if page_count == 0:
            raise IngestFailed("PDF has no pages")
        if page_count > limits.max_pages:
            raise TooLarge(f"PDF has {page_count} pages, more than the limit of {limits.max_pages}")
        pages: list[list[Line] | tuple[str, ...]] = []
        for number in range(1, page_count + 1):
            page = pdf[number - 1]
            try:
                lines = _text_lines(page)
                if sum(len(line.text) for line in lines) >= _MIN_TEXT_CHARS:
                    pages.append(lines)
                else:
                    pages.append(_ocr_page(page, limits))
            finally:
                page.close()
    except pdfium.PdfiumError as exc:
        raise IngestFailed(f"corrupt or unreadable PDF ({exc})") from exc
    finally:
        pdf.close()
    pages = _without_running_lines(pages)
    layout = Layout.of([line for page in pages if isinstance(page, list) for line in page])
    elements: list[Element] = []
    ocr_pages: list[int] = []
    for number, content in enumerate(pages, start=1):
        if isinstance(content, list):
            elements.extend(layout.elements(content, number))
        else:
            ocr_pages.append(number)
            elements.extend(Element(ElementKind.OCR, text, number) for text in content)
    return ParsedDocument(tuple(elements), page_count, tuple(ocr_pages))


@dataclass(frozen=True, slots=True)
class Line:
    text: str
    size: float  # glyph box height: the font size as rendered
    top: float


def _text_lines(page: Any) -> list[Line]:
    textpage = page.get_textpage()
    try:
        count = textpage.count_chars()
        text = str(textpage.get_text_range()).replace("\x00", "")
        if count != len(text):  # never seen, but offsets would not line up: no layout then
            return [Line(t, 0.0, 0.0) for t in text.splitlines() if t.strip()]
        boxes = [textpage.get_charbox(i, loose=True) for i in range(count)]
    finally:
        textpage.close()
    lines: list[Line] = []
    start = 0
    for end, char in enumerate(text + "\n"):
        if char != "\n":
            continue
        segment = text[start:end].rstrip("\r")
        heights = [boxes[j][3] - boxes[j][1] for j in range(start, end) if not text[j].isspace()]
        if segment.strip() and heights:
            lines.append(Line(segment.strip(), max(heights), max(boxes[j][3] for j in range(start, end))))
        start = end + 1
    return lines


def _running_key(text: str) -> str:
    return re.sub(r"\d+", "#", " ".join(text.split()).lower())


def _without_running_lines(pages: list[list[Line] | tuple[str, ...]]) -> list[list[Line] | tuple[str, ...]]:
    """Drop running headers and footers: a line (page numbers aside) on half the pages or more."""
    text_pages = [page for page in pages if isinstance(page, list)]
    if len(text_pages) < 2:
        return pages
    counts: dict[str, int] = {}
    for page in text_pages:
        for key in {_running_key(line.text) for line in page}:
            counts[key] = counts.get(key, 0) + 1
    running = {key for key, n in counts.items() if n >= max(2, len(text_pages) / 2) and len(key) < 150}
    return [
        [line for line in page if _running_key(line.text) not in running] if isinstance(page, list) else page
        for page in pages
    ]


@dataclass(frozen=True, slots=True)
class Layout:
    """A document's typography: body size, heading sizes (largest first), line spacing."""

    body: float
    headings: tuple[float, ...]
    spacing: float

    @classmethod
    def of(cls, lines: list[Line]) -> Layout:
        if not lines:
            return cls(0.0, (), 0.0)
        body = statistics.median_low(round(line.size, 1) for line in lines)
        steps = [a.top - b.top for a, b in itertools.pairwise(lines) if a.top - b.top > 0]
        spacing = statistics.median_low(steps) if steps else body * 1.2
        sizes = {round(line.size, 1) for line in lines if line.size > body * 1.08}
        return cls(body, tuple(sorted(sizes, reverse=True)), spacing)

    def elements(self, lines: list[Line], page: int) -> list[Element]:
        """Group a page's lines into paragraphs and headings by font size and vertical gaps."""
        elements: list[Element] = []
        block: list[Line] = []
        for line in lines:
            if block and self._breaks(block[-1], line):
                elements.append(self._element(block, page))
                block = []
            block.append(line)
        if block:
            elements.append(self._element(block, page))
        return elements

    def _breaks(self, previous: Line, line: Line) -> bool:
        gap = previous.top - line.top
        return (
            abs(round(line.size, 1) - round(previous.size, 1)) > 0.5
            or gap > self.spacing * 1.45
            or gap < 0
            or bool(_LIST_MARK.match(line.text))
        )

    def _element(self, block: list[Line], page: int) -> Element:
        text = _join_lines(block)
        size = round(max(line.size for line in block), 1)
        if size in self.headings and len(text) <= 200:
            return Element(ElementKind.TITLE, text, page, level=self.headings.index(size))
        if len(block) == 1 and _looks_like_heading(text):
            return Element(ElementKind.TITLE, text, page, level=len(self.headings))
        if _LIST_MARK.match(text):
            return Element(ElementKind.LIST, text, page)
        return Element(ElementKind.TEXT, text, page)


def _looks_like_heading(text: str) -> bool:
    """A lone short line in body size that reads like a heading, not like a sentence."""
    words = text.split()
    return (
        0 < len(words) <= 12
        and text[:1].isupper()
        and text[-1:] not in ".,;:!?"
        and ". . ." not in text  # a table-of-contents line
        and not _LIST_MARK.match(text)
    )


_LIST_MARK = re.compile(r"^\s*([•●▪◦\-–*]|\d{1,2}[.)])\s+")


def _join_lines(lines: list[Line]) -> str:
    text = ""
    for line in lines:
        part = line.text
        if text.endswith("-") and part[:1].islower():
            text = text[:-1] + part  # a word hyphenated across lines
        else:
            text = f"{text} {part}" if text else part
    return text


def _ocr_page(page: Any, limits: ParseLimits) -> tuple[str, ...]:
    width, height = page.get_size()
    scale = limits.ocr_dpi / 72
    if width * height * scale * scale > limits.max_image_pixels:
        scale = (limits.max_image_pixels / max(width * height, 1.0)) ** 0.5
    bitmap = page.render(scale=scale, grayscale=True)
    try:
        return ocr_image(bitmap.to_pil(), limits.ocr_languages).paragraphs
    finally:
        bitmap.close()
