"""Plain text: paragraphs, list items and "Label: value" fields as units, hard wraps joined.

unstructured's text partitioner joins every line of a paragraph into one, so a block of fields
("Affects: …", "Status: …", "Workaround: …", continuation lines indented under their label)
becomes one long sentence. A text file's layout is its structure: a blank line ends a paragraph,
a rule line (``-----``) frames a heading, a list mark or a label at the margin starts a unit, an
indented line continues the one above it, and any other line break is a hard wrap. A form feed
starts a new page.
"""

from __future__ import annotations

import re
from pathlib import Path

from core.domain import Element, ElementKind
from core.errors import IngestFailed
from ingest.parse import ParsedDocument

_RULE = re.compile(r"^\s*([-=_*~#+])\1{3,}\s*$")
_LIST_ITEM = re.compile(r"^\s*([•●▪◦\-–*]|\d{1,3}[.)]|[a-z][.)])\s+\S")
_FIELD = re.compile(r"^[A-Za-z][\w /&()'-]{0,30}:(\s+\S|$)")
_SENTENCE_END = re.compile(r"[.!?:;,]$")


def parse_text(path: Path) -> ParsedDocument:
    text = _read(path)
    elements: list[Element] = []
    pages = text.split("\f")
    for number, page in enumerate(pages, start=1):
        elements.extend(_page(page, number, first=not elements))
    return ParsedDocument(tuple(elements), len(pages))


def _read(path: Path) -> str:
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        from unstructured.file_utils.encoding import detect_file_encoding

        encoding, _ = detect_file_encoding(filename=str(path))
        return data.decode(encoding or "latin-1", errors="replace")
    except Exception as exc:
        raise IngestFailed(f"unreadable text file ({type(exc).__name__})") from exc


def _page(text: str, page: int, first: bool) -> list[Element]:
    elements: list[Element] = []
    blocks = _blocks(text.replace("\r\n", "\n").replace("\r", "\n").split("\n"))
    for i, (lines, framed) in enumerate(blocks):
        if framed or (first and i == 0 and _is_heading(lines[0])):
            elements.append(Element(ElementKind.TITLE, _clean(lines[0]), page, level=0 if not framed else 1))
            lines = lines[1:]
        for unit, kind in _units(lines):
            elements.append(Element(kind, unit, page))
    return elements


def _blocks(lines: list[str]) -> list[tuple[list[str], bool]]:
    """Runs of non-blank lines; a run between rule lines is a framed heading (True)."""
    blocks: list[tuple[list[str], bool]] = []
    current: list[str] = []
    ruled = False  # the run began right after a rule line

    def close(framed: bool) -> None:
        if current:
            blocks.append((list(current), framed))
            current.clear()

    for line in lines:
        if _RULE.match(line):
            close(framed=ruled and len(current) <= 2)
            ruled = True
        elif not line.strip():
            close(framed=False)
            ruled = False
        else:
            current.append(line)
    close(framed=False)
    return blocks


def _units(lines: list[str]) -> list[tuple[str, ElementKind]]:
    units: list[tuple[list[str], ElementKind]] = []
    for line in lines:
        starts_unit = bool(_LIST_ITEM.match(line)) or (not line[:1].isspace() and bool(_FIELD.match(line)))
        indented = line[:1].isspace()
        if not units or starts_unit:
            kind = ElementKind.LIST if starts_unit else ElementKind.TEXT
            units.append(([line], kind))
        elif indented or units[-1][1] is ElementKind.TEXT or not _SENTENCE_END.search(units[-1][0][-1]):
            units[-1][0].append(line)  # a hard wrap, or a line indented under its label
        else:
            units.append(([line], ElementKind.TEXT))
    return [(_clean(" ".join(parts)), kind) for parts, kind in units if _clean(" ".join(parts))]


def _is_heading(line: str) -> bool:
    letters = [c for c in line if c.isalpha()]
    return len(line.split()) >= 2 and bool(letters) and all(c.isupper() for c in letters)


def _clean(text: str) -> str:
    return " ".join(text.split())
