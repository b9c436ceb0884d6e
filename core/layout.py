"""Where text sits on its page: spans of text with their boxes, and the boxes of a cited passage.

A ``TextBox`` ties a span of characters (a word, or a table cell) to a rectangle on a page, in
fractions of the page's width and height from its top left corner, so a box is drawn on a page
image of any resolution. Parsers attach them to elements (offsets in the element's text), the
chunker to chunks (offsets in the document's text), and the catalog keeps them per chunk, packed
(``pack``/``unpack``: 16 bytes a word before compression), out of the vector payload.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

# start (from the chunk's start), length, page, then x0 y0 x1 y1 in 1/65535 of the page.
_RECORD = struct.Struct("<IHH4H")
_SCALE = 65535


@dataclass(frozen=True, slots=True)
class Box:
    """A rectangle on a page: fractions of its width (x) and height (y), from the top left."""

    page: int
    x0: float
    y0: float
    x1: float
    y1: float

    @property
    def area(self) -> float:
        return max(self.x1 - self.x0, 0.0) * max(self.y1 - self.y0, 0.0)


@dataclass(frozen=True, slots=True)
class TextBox:
    """Characters ``start``..``end`` of a text and the box they are printed in."""

    start: int
    end: int
    box: Box

    def shifted(self, by: int) -> TextBox:
        return TextBox(self.start + by, self.end + by, self.box)


def word_box(page: int, x0: float, y0: float, x1: float, y1: float) -> Box:
    """A box from fractions, clamped to the page and put in order."""

    def clamp(value: float) -> float:
        return min(max(value, 0.0), 1.0)

    return Box(page, clamp(min(x0, x1)), clamp(min(y0, y1)), clamp(max(x0, x1)), clamp(max(y0, y1)))


def union(boxes: Iterable[Box]) -> Box:
    """The smallest box around ``boxes`` (on the first one's page)."""
    items = list(boxes)
    return Box(
        items[0].page,
        min(b.x0 for b in items),
        min(b.y0 for b in items),
        max(b.x1 for b in items),
        max(b.y1 for b in items),
    )


def turned(box: Box, rotation: int) -> Box:
    """``box``, measured on the page turned clockwise by ``rotation`` degrees, on the page as it is."""
    x0, y0, x1, y1 = box.x0, box.y0, box.x1, box.y1
    if rotation % 360 == 90:  # turned page (x', y') = (1 - y, x)
        return word_box(box.page, y0, 1 - x1, y1, 1 - x0)
    if rotation % 360 == 180:
        return word_box(box.page, 1 - x1, 1 - y1, 1 - x0, 1 - y0)
    if rotation % 360 == 270:  # turned page (x', y') = (y, 1 - x)
        return word_box(box.page, 1 - y1, x0, 1 - y0, x1)
    return box


def pack(spans: Sequence[TextBox], base: int) -> bytes:
    """A chunk's boxes as compressed bytes; offsets are stored from ``base`` (the chunk's start)."""
    raw = b"".join(
        _RECORD.pack(
            max(s.start - base, 0),
            min(s.end - s.start, 0xFFFF),
            s.box.page,
            round(s.box.x0 * _SCALE),
            round(s.box.y0 * _SCALE),
            round(s.box.x1 * _SCALE),
            round(s.box.y1 * _SCALE),
        )
        for s in spans
    )
    return zlib.compress(raw, 6)


def unpack(data: bytes, base: int) -> list[TextBox]:
    raw = zlib.decompress(data)
    return [
        TextBox(
            base + start, base + start + length, Box(page, x0 / _SCALE, y0 / _SCALE, x1 / _SCALE, y1 / _SCALE)
        )
        for start, length, page, x0, y0, x1, y1 in _RECORD.iter_unpack(raw)
    ]


def covering(spans: Iterable[TextBox], start: int, end: int) -> list[TextBox]:
    """The spans a passage ``start``..``end`` touches, each once, in text order."""
    seen: set[tuple[int, int, Box]] = set()
    out = []
    for span in sorted(spans, key=lambda s: (s.start, s.end)):
        key = (span.start, span.end, span.box)
        if span.start < end and span.end > start and key not in seen:
            seen.add(key)
            out.append(span)
    return out


def highlight(spans: Iterable[TextBox], start: int, end: int) -> list[Box]:
    """The rectangles to draw for a passage: its words' boxes, the words of one printed line merged
    into one rectangle (a line is words in text order whose boxes share most of their height)."""
    rects: list[Box] = []
    for span in covering(spans, start, end):
        box = span.box
        last = rects[-1] if rects else None
        if last is not None and last.page == box.page and same_line(last, box) and box.x0 >= last.x0 - 0.01:
            rects[-1] = union((last, box))
        else:
            rects.append(box)
    return rects


def same_line(a: Box, b: Box) -> bool:
    """Whether two boxes share most of their height: they are on one printed line."""
    overlap = min(a.y1, b.y1) - max(a.y0, b.y0)
    height = min(a.y1 - a.y0, b.y1 - b.y0)
    return height <= 0 or overlap >= 0.6 * height
