"""PDFs page by page: the text layer where there is one, OCR where there is not.

pypdfium2 (PDFium, the engine in Chrome) reads the text layer and renders pages for OCR: it copes
with the broken and hostile files in shared/eval-data/pdf-badinput and needs no poppler.

Ruled tables are read as tables: the page's thin horizontal and vertical path objects are its
grid lines, each character goes to the cell its centre falls in, and the table becomes one
element with its header row, so a spec line still says which model it belongs to. (pdfplumber
does the same from pdfminer's objects; it is not in the stack, and PDFium already knows where
every glyph and line is.)
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
from core.layout import Box, TextBox, same_line, turned, union, word_box
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
        pages: list[list[Line | Table] | tuple[Element, ...]] = []
        for number in range(1, page_count + 1):
            page = pdf[number - 1]
            try:
                lines = _text_lines(page, number)
                if sum(len(line.text) for line in lines) >= _MIN_TEXT_CHARS:
                    pages.append(lines)
                else:
                    pages.append(_ocr_page(page, number, limits))
            finally:
                page.close()
    except pdfium.PdfiumError as exc:
        raise IngestFailed(f"corrupt or unreadable PDF ({exc})") from exc
    finally:
        pdf.close()
    pages = [_without_page_number_line(page) if isinstance(page, list) else page for page in pages]
    pages = _without_running_lines(pages)
    layout = Layout.of(
        [line for page in pages if isinstance(page, list) for line in page if isinstance(line, Line)]
    )
    elements: list[Element] = []
    ocr_pages: list[int] = []
    for number, content in enumerate(pages, start=1):
        if isinstance(content, list):
            elements.extend(layout.elements(content, number))
        else:
            ocr_pages.append(number)
            elements.extend(content)
    return ParsedDocument(tuple(elements), page_count, tuple(ocr_pages))


@dataclass(frozen=True, slots=True)
class Line:
    text: str
    size: float  # glyph box height: the font size as rendered
    top: float
    left: float = 0.0
    words: tuple[TextBox, ...] = ()  # each word of ``text`` and its box on the page


@dataclass(frozen=True, slots=True)
class Table:
    """A ruled table read from the page: rows of cell texts, the first row its header."""

    rows: tuple[tuple[str, ...], ...]
    cell_boxes: tuple[tuple[Box | None, ...], ...] = ()  # where each cell's text sits, if known

    @property
    def text(self) -> str:
        return "\n".join(" | ".join(row) for row in self.rows)

    def element(self, page: int) -> Element:
        header = self.rows[0] if len(self.rows) > 1 else ()
        spans: list[TextBox] = []
        offset = 0
        for r, row in enumerate(self.rows):
            for c, cell in enumerate(row):
                box = self.cell_boxes[r][c] if r < len(self.cell_boxes) else None
                if box is not None and cell:
                    spans.append(TextBox(offset, offset + len(cell), box))
                offset += len(cell) + len(" | ")
            offset += len("\n") - len(" | ")
        return Element(ElementKind.TABLE, self.text, page, table_header=header, boxes=tuple(spans))


def _chars(textpage: Any) -> tuple[str, list[tuple[float, float, float, float]]] | None:
    """The page's text (as PDFium hands it back in one piece, NULs dropped) and each character's
    box. That text leaves out characters PDFium counts (its line-end hyphen and word-break marks,
    0x02 and 0x03, or gives the first as U+FFFE) and holds a character past the Basic Multilingual Plane as one, where PDFium
    counts two UTF-16 units: walk both to pair each character with its own box. None where they
    do not line up."""
    import pypdfium2.raw as pdfium_c

    text = str(textpage.get_text_range())
    count = textpage.count_chars()
    chars: list[str] = []
    boxes: list[tuple[float, float, float, float]] = []
    strays = 0
    i = 0
    for char in text:
        # Its line-end hyphen mark comes back as U+FFFE, or not at all, as does a word-break mark
        # and a lone high surrogate.
        while i < count:
            code = pdfium_c.FPDFText_GetUnicode(textpage.raw, i)
            lone = 0xD800 <= code < 0xDC00 and ord(char) <= 0xFFFF
            if not (code in (0x02, 0x03) or lone) or ord(char) == code or (char == "\ufffe" and code == 0x02):
                break
            i += 1
        if i >= count:
            return None
        code = pdfium_c.FPDFText_GetUnicode(textpage.raw, i)
        strays += code != ord(char) and ord(char) <= 0xFFFF and not (char == "\ufffe" and code == 0x02)
        if char != "\x00":
            chars.append(char)
            boxes.append(textpage.get_charbox(i, loose=True))
        i += 2 if ord(char) > 0xFFFF else 1
    if strays > max(3, len(text) // 50):
        return None
    return "".join(chars), boxes


@dataclass(frozen=True, slots=True)
class _Frame:
    """PDF user space (points, y up) to fractions of the page as rendered: cropped, and turned as
    its /Rotate says. Glyphs are grouped into words and lines before turning (``glyph``), so a
    line on a turned page is still a line; the group's box is then placed (``place``)."""

    number: int
    left: float
    top: float
    width: float
    height: float
    undo: int  # the page shows its content turned clockwise by (360 - undo) degrees

    @classmethod
    def of(cls, page: Any, number: int) -> _Frame:
        left, bottom, right, top = page.get_cropbox()
        undo = (360 - int(page.get_rotation())) % 360
        return cls(number, left, top, max(right - left, 1e-6), max(top - bottom, 1e-6), undo)

    def glyph(self, charbox: tuple[float, float, float, float]) -> Box:
        x0, y0, x1, y1 = charbox
        return word_box(
            self.number,
            (x0 - self.left) / self.width,
            (self.top - y1) / self.height,
            (x1 - self.left) / self.width,
            (self.top - y0) / self.height,
        )

    def place(self, box: Box) -> Box:
        return turned(box, self.undo)


def _text_lines(page: Any, number: int = 1) -> list[Line | Table]:
    textpage = page.get_textpage()
    try:
        paired = _chars(textpage)
        if paired is None:  # never seen: no layout then, but the text
            text = str(textpage.get_text_range()).replace("\x00", "")
            return [Line(t, 0.0, 0.0) for t in text.splitlines() if t.strip()]
        text, boxes = paired
    finally:
        textpage.close()
    frame = _Frame.of(page, number)
    grids = _grids(page)
    cell_of = [
        _cell(grids, box) if not char.isspace() else None for char, box in zip(text, boxes, strict=True)
    ]
    content: list[tuple[int, Line | Table]] = []
    start = 0
    for end, char in enumerate(text + "\n"):
        if char != "\n":
            continue
        kept = [j for j in range(start, end) if cell_of[j] is None]
        segment = "".join(text[j] for j in kept).rstrip("\r")
        heights = [boxes[j][3] - boxes[j][1] for j in kept if not text[j].isspace()]
        if segment.strip() and heights:
            top = max(boxes[j][3] for j in kept)
            left = min(boxes[j][0] for j in kept if not text[j].isspace())
            # The median glyph: a list's number or bullet is often set in another font.
            size = statistics.median_high(heights)
            line_text, words = _words(text, kept, boxes, frame)
            content.append((kept[0], Line(line_text, size, top, left, words)))
        start = end + 1
    content.extend(_tables(text, cell_of, boxes, frame))
    return [item for _, item in sorted(content, key=lambda pair: pair[0])]


@dataclass(frozen=True, slots=True)
class _Grid:
    xs: tuple[float, ...]  # column boundaries, left to right
    ys: tuple[float, ...]  # row boundaries, top to bottom (PDF y grows upwards)


_THIN = 2.0


def _grids(page: Any) -> list[_Grid]:
    """The ruled grids on a page: groups of touching thin horizontal and vertical lines."""
    import pypdfium2.raw as pdfium_c

    segments: list[tuple[float, float, float, float]] = []
    try:
        for obj in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_PATH], max_depth=4):
            left, bottom, right, top = obj.get_bounds()
            width, height = right - left, top - bottom
            if (height <= _THIN and width > 3 * _THIN) or (width <= _THIN and height > 3 * _THIN):
                segments.append((left, bottom, right, top))
    except Exception:  # noqa: BLE001 - no grid is better than no text
        return []
    if len(segments) < 6 or len(segments) > 800:  # a drawing, not a table: grouping is quadratic
        return []
    groups: list[list[tuple[float, float, float, float]]] = []
    for segment in segments:
        touching = [g for g in groups if any(_touch(segment, other) for other in g)]
        merged = [segment] + [s for g in touching for s in g]
        groups = [g for g in groups if g not in touching] + [merged]
    grids = []
    for group in groups:
        xs = _distinct([(s[0] + s[2]) / 2 for s in group if s[2] - s[0] <= _THIN])
        ys = _distinct([(s[1] + s[3]) / 2 for s in group if s[3] - s[1] <= _THIN])
        if len(xs) >= 3 and len(ys) >= 3:  # at least two columns and two rows
            grids.append(_Grid(tuple(xs), tuple(sorted(ys, reverse=True))))
    return grids


def _touch(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    return a[0] <= b[2] + _THIN and b[0] <= a[2] + _THIN and a[1] <= b[3] + _THIN and b[1] <= a[3] + _THIN


def _distinct(values: list[float]) -> list[float]:
    out: list[float] = []
    for value in sorted(values):
        if not out or value - out[-1] > _THIN:
            out.append(value)
    return out


def _cell(grids: list[_Grid], box: tuple[float, float, float, float]) -> tuple[int, int, int] | None:
    x, y = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    for g, grid in enumerate(grids):
        if grid.xs[0] < x < grid.xs[-1] and grid.ys[-1] < y < grid.ys[0]:
            column = next(i for i in range(len(grid.xs) - 1) if x < grid.xs[i + 1])
            row = next(i for i in range(len(grid.ys) - 1) if y > grid.ys[i + 1])
            return g, row, column
    return None


def _words(
    text: str,
    kept: list[int],
    boxes: list[tuple[float, float, float, float]],
    frame: _Frame,
) -> tuple[str, tuple[TextBox, ...]]:
    """A line's words joined by single spaces (as ``" ".join(segment.split())``), each with the
    union of its glyphs' boxes: one box per printed line it is on (PDFium puts a word hyphenated
    at a line's end on one text line)."""
    runs: list[list[int]] = [[]]
    for j in kept:
        if text[j].isspace():
            if runs[-1]:
                runs.append([])
        else:
            runs[-1].append(j)
    parts: list[str] = []
    spans: list[TextBox] = []
    offset = 0
    for run in (r for r in runs if r):
        word = "".join(text[j] for j in run)
        glyphs = [frame.glyph(boxes[j]) for j in run]
        first = 0
        for k in range(1, len(run) + 1):
            if k == len(run) or not same_line(glyphs[k - 1], glyphs[k]):
                spans.append(TextBox(offset + first, offset + k, frame.place(union(glyphs[first:k]))))
                first = k
        parts.append(word)
        offset += len(word) + 1
    return " ".join(parts), tuple(spans)


def _tables(
    text: str,
    cell_of: list[tuple[int, int, int] | None],
    boxes: list[tuple[float, float, float, float]] | None = None,
    frame: _Frame | None = None,
) -> list[tuple[int, Table]]:
    """Each grid's characters as cell texts, in the order PDFium reads them."""
    cell_chars: dict[tuple[int, int, int], list[int]] = {}
    cells: dict[int, dict[tuple[int, int], list[str]]] = {}
    first: dict[int, int] = {}
    last: dict[tuple[int, int, int], int] = {}
    for j, where in enumerate(cell_of):
        if where is None:
            continue
        g, row, column = where
        first.setdefault(g, j)
        parts = cells.setdefault(g, {}).setdefault((row, column), [])
        if where in last and last[where] != j - 1:
            parts.append(" ")  # a space or a line break inside the cell
        parts.append(text[j])
        last[where] = j
        if not text[j].isspace():
            cell_chars.setdefault(where, []).append(j)
    tables = []
    for g, grid_cells in cells.items():
        rows = 1 + max(r for r, _ in grid_cells)
        columns = 1 + max(c for _, c in grid_cells)
        table = [
            tuple(" ".join("".join(grid_cells.get((r, c), [])).split()) for c in range(columns))
            for r in range(rows)
        ]
        where_boxes = [
            tuple(
                frame.place(union(frame.glyph(boxes[j]) for j in cell_chars[(g, r, c)]))
                if boxes is not None and frame is not None and (g, r, c) in cell_chars
                else None
                for c in range(columns)
            )
            for r in range(rows)
        ]
        kept = [r for r in range(rows) if any(table[r])]
        if kept:
            tables.append(
                (first[g], Table(tuple(table[r] for r in kept), tuple(where_boxes[r] for r in kept)))
            )
    return tables


_PAGE_NUMBER = re.compile(r"\bpage \d+( of \d+)?$", re.IGNORECASE)


def _without_page_number_line(page: list[Line | Table]) -> list[Line | Table]:
    """Drop a footer or header that ends in "Page N" (first or last line), even on a document's
    only text page, where no other page shows it is running."""
    lines = [i for i, item in enumerate(page) if isinstance(item, Line)]
    ends = {lines[0], lines[-1]} if lines else set()
    return [
        item
        for i, item in enumerate(page)
        if not (
            i in ends and isinstance(item, Line) and _PAGE_NUMBER.search(item.text) and len(item.text) < 120
        )
    ]


def _running_key(text: str) -> str:
    return re.sub(r"\d+", "#", " ".join(text.split()).lower())


def _without_running_lines(
    pages: list[list[Line | Table] | tuple[Element, ...]],
) -> list[list[Line | Table] | tuple[Element, ...]]:
    """Drop running headers and footers: a line (page numbers aside) on half the pages or more."""
    text_pages = [page for page in pages if isinstance(page, list)]
    if len(text_pages) < 2:
        return pages
    counts: dict[str, int] = {}
    for page in text_pages:
        for key in {_running_key(line.text) for line in page if isinstance(line, Line)}:
            counts[key] = counts.get(key, 0) + 1
    running = {key for key, n in counts.items() if n >= max(2, len(text_pages) / 2) and len(key) < 150}
    return [
        [line for line in page if isinstance(line, Table) or _running_key(line.text) not in running]
        if isinstance(page, list)
        else page
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

    def elements(self, lines: list[Line | Table], page: int) -> list[Element]:
        """Group a page's lines into paragraphs and headings by font size and vertical gaps."""
        elements: list[Element] = []
        block: list[Line] = []
        for line in lines:
            if isinstance(line, Table):
                if block:
                    elements.append(self._element(block, page))
                    block = []
                elements.append(line.element(page))
                continue
            if block and self._breaks(block[-1], line, block[0]):
                elements.append(self._element(block, page))
                block = []
            block.append(line)
        if block:
            elements.append(self._element(block, page))
        return elements

    def _breaks(self, previous: Line, line: Line, first: Line) -> bool:
        gap = previous.top - line.top
        if _LIST_MARK.match(first.text) and line.left <= first.left + 1:
            return True  # a list item's lines are indented past its mark; what is not, follows it
        if line.text[:1].islower() and previous.text[-1:] not in ".!?:" and 0 < gap <= self.spacing * 1.45:
            return False  # a hard-wrapped sentence goes on
        return (
            abs(round(line.size, 1) - round(previous.size, 1)) > 0.5
            or gap > self.spacing * 1.45
            or gap < 0
            or bool(_LIST_MARK.match(line.text))
        )

    def _element(self, block: list[Line], page: int) -> Element:
        text, boxes = _join_lines(block)
        size = round(max(line.size for line in block), 1)
        if size in self.headings and len(text) <= 200:
            return Element(ElementKind.TITLE, text, page, level=self.headings.index(size), boxes=boxes)
        if len(block) == 1 and _looks_like_heading(text):
            return Element(ElementKind.TITLE, text, page, level=len(self.headings), boxes=boxes)
        if _LIST_MARK.match(text):
            return Element(ElementKind.LIST, text, page, boxes=boxes)
        return Element(ElementKind.TEXT, text, page, boxes=boxes)


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


def _join_lines(lines: list[Line]) -> tuple[str, tuple[TextBox, ...]]:
    text = ""
    spans: list[TextBox] = []
    for line in lines:
        part = line.text
        if text.endswith("-") and part[:1].islower():
            text = text[:-1]  # a word hyphenated across lines
            if spans and spans[-1].end > len(text):
                spans[-1] = TextBox(spans[-1].start, len(text), spans[-1].box)
        elif text:
            text += " "
        spans.extend(word.shifted(len(text)) for word in line.words)
        text += part
    return text, tuple(spans)


def _ocr_page(page: Any, number: int, limits: ParseLimits) -> tuple[Element, ...]:
    width, height = page.get_size()
    scale = limits.ocr_dpi / 72
    if width * height * scale * scale > limits.max_image_pixels:
        scale = (limits.max_image_pixels / max(width * height, 1.0)) ** 0.5
    bitmap = page.render(scale=scale, grayscale=True)
    try:
        return ocr_image(bitmap.to_pil(), limits.ocr_languages).elements(number)
    finally:
        bitmap.close()
