"""What a file is, decided by its bytes (libmagic), not by its name.

The name only refines plain text (Markdown and CSV look like any other text to libmagic).
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import PurePosixPath, PureWindowsPath

import magic

from core.errors import InvalidInput, Unsupported

PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
XLSM = "application/vnd.ms-excel.sheet.macroenabled.12"
HTML = "text/html"
MARKDOWN = "text/markdown"
TEXT = "text/plain"
CSV = "text/csv"
EMAIL = "message/rfc822"
IMAGES = frozenset({"image/png", "image/jpeg", "image/tiff", "image/bmp", "image/gif", "image/webp"})

SUPPORTED = frozenset({PDF, DOCX, PPTX, XLSX, XLSM, HTML, MARKDOWN, TEXT, CSV, EMAIL}) | IMAGES

# Formats people try often, with what to do instead.
_ADVICE = {
    "application/msword": "legacy Word .doc: save it as DOCX",
    "application/vnd.ms-powerpoint": "legacy PowerPoint .ppt: save it as PPTX",
    "application/vnd.ms-excel": "legacy Excel .xls: save it as XLSX",
    "application/x-msdownload": "a Windows program, not a document",
    "application/x-dosexec": "a Windows program, not a document",
    "application/zip": "a zip archive: unpack it and upload the documents inside",
}
_MARKDOWN_SUFFIXES = frozenset({".md", ".markdown", ".mdown"})
_CSV_SUFFIXES = frozenset({".csv"})
_TEXTUAL = frozenset({"text/plain", "text/x-c", "text/x-script.python", "text/x-python", "text/x-java"})


def detect_media_type(head: bytes, source_name: str) -> str:
    """Return the supported media type of ``head`` (the file's first bytes) or raise Unsupported."""
    if not head:
        raise InvalidInput("file is empty")
    detected = magic.from_buffer(head, mime=True).lower()
    suffix = PurePosixPath(source_name.lower()).suffix
    if detected in _TEXTUAL or (detected == "text/html" and suffix in _MARKDOWN_SUFFIXES):
        # Markdown that opens with an HTML tag still is Markdown.
        if suffix in _MARKDOWN_SUFFIXES:
            return MARKDOWN
        if suffix in _CSV_SUFFIXES:
            return CSV
        return TEXT
    if detected == "text/xml" and b"<html" in head[:4096].lower():
        return HTML
    if detected == "application/octet-stream" and head.lstrip().startswith(b"%PDF"):
        return PDF
    if detected in {"message/rfc822", "text/x-mail", "message/news"}:
        return EMAIL
    if detected in SUPPORTED:
        return detected
    advice = _ADVICE.get(detected)
    suffix_note = f" ({advice})" if advice else ""
    raise Unsupported(f"not a supported document type: {detected}{suffix_note}")


_UNSAFE = re.compile(r"[\x00-\x1f\x7f<>:\"|?*]")


def safe_source_name(raw: str) -> str:
    """The file name to show and store: its last path part, without control or shell characters.

    ``../../etc/passwd`` becomes ``passwd``; ``C:\\x\\report.pdf`` becomes ``report.pdf``.
    """
    name = unicodedata.normalize("NFC", raw)
    name = PureWindowsPath(PurePosixPath(name).name).name
    name = _UNSAFE.sub("_", name).strip().strip(".")
    if not name:
        return "unnamed"
    if len(name) > 200:
        stem, dot, suffix = name.rpartition(".")
        name = (stem[: 200 - len(suffix) - 1] + dot + suffix) if dot and len(suffix) <= 10 else name[:200]
    return name
