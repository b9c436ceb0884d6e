"""What a file is, decided by its bytes (libmagic), not by its name.

The name only refines plain text (Markdown and CSV look like any other text to libmagic).
"""

from __future__ import annotations

import codecs
import re
import unicodedata
import zipfile
from pathlib import Path, PurePosixPath

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
    "application/x-ole-storage": "a legacy Office file (.doc, .ppt, .xls): save it as DOCX, PPTX or XLSX",
    "application/x-msdownload": "a Windows program, not a document",
    "application/x-dosexec": "a Windows program, not a document",
    "application/zip": "a zip archive: unpack it and upload the documents inside",
}
_MARKDOWN_SUFFIXES = frozenset({".md", ".markdown", ".mdown"})
# Text-based formats whose markup would be indexed as words: refused, not read as text.
_MARKUP = frozenset({"text/rtf", "application/rtf", "application/postscript", "image/svg+xml", "text/x-tex"})
_CSV_SUFFIXES = frozenset({".csv"})
_TEXTUAL = frozenset({"text/plain", "text/x-c", "text/x-script.python", "text/x-python", "text/x-java"})


def detect_media_type(head: bytes, source_name: str, path: Path | None = None) -> str:
    """Return the supported media type of a file from its first bytes, or raise Unsupported.

    ``path`` lets a zip be opened: OOXML files are zips, and libmagic's look at the head does not
    always reach the part that tells Word, PowerPoint and Excel apart.
    """
    if not head:
        raise InvalidInput("file is empty")
    detected = magic.from_buffer(head, mime=True).lower()
    if detected == "application/zip" and path is not None:
        detected = _ooxml_kind(path) or detected
    suffix = PurePosixPath(source_name.lower()).suffix
    if (
        detected not in SUPPORTED
        and detected not in _MARKUP
        and detected not in _ADVICE
        and _reads_as_text(head)
    ):
        # libmagic's weaker rules name some prose as an exotic format (an abstract opening with
        # "PAD4 is…" reads as HP-GL plotter commands); text that decodes cleanly is text.
        detected = TEXT
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


def _reads_as_text(head: bytes) -> bool:
    """UTF-8 without control characters (other than tabs, line breaks and form feeds)."""
    try:
        text = codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return False
    return bool(text.strip()) and not any(ord(c) < 32 and c not in "\t\n\r\f" for c in text)


def _shorten(part: str, limit: int) -> str:
    """Cut a long name in its middle part, keeping the extension that the type check reads."""
    if len(part) <= limit:
        return part
    stem, dot, suffix = part.rpartition(".")
    if dot and 0 < len(suffix) <= 10:
        return stem[: limit - len(suffix) - 1] + "." + suffix
    return part[:limit]


_OOXML_PARTS = (("word/", DOCX), ("ppt/", PPTX), ("xl/", XLSX))


def _ooxml_kind(path: Path) -> str | None:
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError):
        return None
    if "[Content_Types].xml" not in names:
        return None
    for prefix, media_type in _OOXML_PARTS:
        if any(name.startswith(prefix) for name in names):
            return media_type
    return None


_SHELL = frozenset('<>:"|?*')
# Controls, lone surrogates, line and paragraph separators: shown as "_".
_REPLACED = frozenset({"Cc", "Cs", "Zl", "Zp"})


def _clean_part(part: str) -> str:
    """Invisible format characters dropped (bidi overrides, isolates and marks, zero-width
    characters: "invoice", U+202E, "fdp.exe" shows as "invoiceexe.pdf" and is stored as
    "invoicefdp.exe"), controls and shell characters replaced by ``_``."""
    kept = []
    for char in part:
        category = unicodedata.category(char)
        if category == "Cf":
            continue
        kept.append("_" if category in _REPLACED or char in _SHELL else char)
    return "".join(kept)


def safe_source_name(raw: str) -> str:
    """The name to show and store: a relative path of clean parts, never a way out of a folder.

    ``../../etc/passwd`` becomes ``etc/passwd``, ``C:\\x\\report.pdf`` becomes ``x/report.pdf``;
    control and shell characters become ``_``, bidi and other invisible format characters go.
    Originals are stored by hash, so a name is only a label, but it must still be safe to show
    and to use as a download file name.
    """
    text = unicodedata.normalize("NFC", raw).replace("\\", "/")
    text = re.sub(r"^[A-Za-z]:(?=/|$)", "", text)  # a Windows drive letter is no part of the name
    parts: list[str] = []
    for raw_part in text.split("/"):
        part = _clean_part(raw_part).strip().strip(".").strip()
        if part and part not in {".", ".."}:
            parts.append(_shorten(part, 120))
    name = "/".join(parts)
    while len(name) > 240 and len(parts) > 1:
        parts.pop(0)  # keep the file name, drop the outermost folders
        name = "/".join(parts)
    return name or "unnamed"
