"""Office formats, HTML, Markdown, text and e-mail through ``unstructured`` (partition only).

unstructured's sentence tokenizer downloads a spaCy model on first use, which fails offline;
``_offline_unstructured`` swaps in a blank English pipeline with a sentencizer before any call.
"""

from __future__ import annotations

import functools
import os
import re
from pathlib import Path
from typing import Any

from core.domain import Element, ElementKind
from core.errors import IngestFailed
from ingest import detect
from ingest.parse import ParsedDocument

_KINDS = {
    "Title": ElementKind.TITLE,
    "Table": ElementKind.TABLE,
    "ListItem": ElementKind.LIST,
    "NarrativeText": ElementKind.TEXT,
    "Text": ElementKind.TEXT,
    "UncategorizedText": ElementKind.TEXT,
    "Address": ElementKind.TEXT,
    "EmailAddress": ElementKind.TEXT,
    "FigureCaption": ElementKind.TEXT,
    "Formula": ElementKind.TEXT,
    "CodeSnippet": ElementKind.TEXT,
}
# Header, Footer, PageNumber, PageBreak, Image: repeated furniture, not content.


@functools.cache
def _offline_unstructured() -> None:
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("SCARF_NO_ANALYTICS", "true")
    os.environ.setdefault("UNSTRUCTURED_DISABLE_NOTICE", "1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import spacy
    import unstructured.nlp.tokenize as tokenize

    @functools.lru_cache(maxsize=1)
    def blank_english() -> Any:
        nlp = spacy.blank("en")
        nlp.add_pipe("sentencizer")
        return nlp

    tokenize._get_nlp = blank_english


def _partition(path: Path, media_type: str) -> list[Any]:
    _offline_unstructured()
    if media_type == detect.DOCX:
        from unstructured.partition.docx import partition_docx

        return list(partition_docx(filename=str(path)))
    if media_type == detect.PPTX:
        from unstructured.partition.pptx import partition_pptx

        return list(partition_pptx(filename=str(path)))
    if media_type in {detect.XLSX, detect.XLSM}:
        from unstructured.partition.xlsx import partition_xlsx

        return list(partition_xlsx(filename=str(path)))
    if media_type == detect.HTML:
        from unstructured.partition.html import partition_html

        markup = _without_inline_images(path)
        if markup is not None:
            return list(partition_html(text=markup))
        return list(partition_html(filename=str(path)))
    if media_type == detect.MARKDOWN:
        from unstructured.partition.md import partition_md

        return list(partition_md(filename=str(path)))
    if media_type == detect.CSV:
        from unstructured.partition.csv import partition_csv

        return list(partition_csv(filename=str(path)))
    if media_type == detect.EMAIL:
        from unstructured.partition.email import partition_email

        return list(partition_email(filename=str(path)))
    from unstructured.partition.text import partition_text

    return list(partition_text(filename=str(path)))


def parse_with_unstructured(path: Path, media_type: str) -> ParsedDocument:
    try:
        raw = _partition(path, media_type)
    except IngestFailed:
        raise
    except Exception as exc:
        kind = media_type.rsplit("/", 1)[-1].split(".")[-1]
        raise IngestFailed(f"corrupt or unreadable {kind} file ({type(exc).__name__})") from exc
    elements: list[Element] = []
    sheet = None
    for item in raw:
        page_name = getattr(item.metadata, "page_name", None)
        if media_type in {detect.XLSX, detect.XLSM} and page_name and page_name != sheet:
            sheet = page_name  # the sheet name heads its tables
            elements.append(
                Element(ElementKind.TITLE, str(page_name), getattr(item.metadata, "page_number", None) or 1)
            )
        category = _KINDS.get(item.category)
        rows = _table_rows(item) if category is ElementKind.TABLE else []
        text = (
            "\n".join(" | ".join(row) for row in rows) if rows else _UI_LABEL.sub("", str(item.text)).strip()
        )
        if category is None or not text:
            continue
        page = getattr(item.metadata, "page_number", None) or 1
        level = getattr(item.metadata, "category_depth", None) or 0
        header = tuple(rows[0]) if len(rows) > 1 else ()  # the first row names the columns
        elements.append(Element(category, text, int(page), level=int(level), table_header=header))
    pages = max((e.page for e in elements), default=1)
    return ParsedDocument(tuple(elements), pages)


# A manual's on-screen button ("Settings > Picture > Expert Settings Try Now"): not the page's text.
_UI_LABEL = re.compile(r"(^|\s+)Try Now\s*$")
_IMG = re.compile(r"<img\b[^>]*>", re.IGNORECASE)


def _without_inline_images(path: Path) -> str | None:
    """The page without its <img> tags: unstructured ends a list item or paragraph at an inline
    icon ("From Settings, tap [icon] Display > Navigation bar"), cutting the menu path off."""
    try:
        markup = path.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return None  # let unstructured detect the encoding
    return _IMG.sub(" ", markup)


def _table_rows(item: Any) -> list[list[str]]:
    """A table's rows of cell texts from its HTML (which keeps the grid); [] when it has none.
    As text, a table is one row per line with cells separated by `` | ``."""
    html = getattr(item.metadata, "text_as_html", None)
    if not html:
        return []
    from lxml import html as lxml_html

    try:
        tree = lxml_html.fromstring(html)
    except Exception:  # noqa: BLE001 - fall back to the flat text
        return []
    rows = []
    for row in tree.iter("tr"):
        cells = [" ".join(cell.text_content().split()) for cell in row if cell.tag in {"td", "th"}]
        if any(cells):
            rows.append(cells)
    return rows
