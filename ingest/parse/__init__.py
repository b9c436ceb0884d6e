"""Turn a stored original into ``Element``s in reading order, with exact 1-based page numbers."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from core.domain import Element, ElementKind
from core.errors import IngestFailed
from ingest import detect
from ingest.archives import UnpackLimits, check_unpacked_size


@dataclass(frozen=True, slots=True)
class ParseLimits:
    max_image_pixels: int
    max_pages: int
    ocr_languages: str = "eng"
    ocr_dpi: int = 200
    unpacked: UnpackLimits = field(default_factory=UnpackLimits)


@dataclass(frozen=True, slots=True)
class ParsedDocument:
    elements: tuple[Element, ...]
    page_count: int
    ocr_pages: tuple[int, ...] = ()

    @property
    def title(self) -> str | None:
        for element in self.elements:
            if element.kind is ElementKind.TITLE:
                return element.text[:200]
        return None


def warm_up() -> None:
    """Import the parser libraries (several seconds for unstructured and spaCy) ahead of work."""
    import pypdfium2  # noqa: F401
    import pytesseract  # noqa: F401

    from ingest.parse.office import _offline_unstructured

    _offline_unstructured()
    import unstructured.partition.docx
    import unstructured.partition.html
    import unstructured.partition.md  # noqa: F401
    from unstructured.partition.text import partition_text

    partition_text(text="Warm up. The sentence splitter loads on first use.")


def parse(path: Path, media_type: str, limits: ParseLimits) -> ParsedDocument:
    """Parse one file of a known media type. Raises IngestFailed with a reason a person reads."""
    check_unpacked_size(path, media_type, limits.unpacked)
    if media_type == detect.PDF:
        from ingest.parse.pdf import parse_pdf

        parsed = parse_pdf(path, limits)
    elif media_type == detect.PPTX:
        from ingest.parse.slides import parse_pptx

        parsed = parse_pptx(path)
    elif media_type == detect.TEXT:
        from ingest.parse.plaintext import parse_text

        parsed = parse_text(path)
    elif media_type in detect.IMAGES:
        from ingest.parse.images import parse_image

        parsed = parse_image(path, limits)
    else:
        from ingest.parse.office import parse_with_unstructured

        parsed = parse_with_unstructured(path, media_type)
    if not any(e.text.strip() for e in parsed.elements):
        raise IngestFailed("no readable text found in the document")
    return parsed
