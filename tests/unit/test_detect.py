"""File type detection: the bytes decide, the name only refines plain text; names are made safe."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import magic
import pytest

from core.errors import InvalidInput, Unsupported
from ingest import detect
from ingest.detect import detect_media_type, safe_source_name

SAMPLES = Path(__file__).resolve().parents[2] / "samples" / "acme-support"


def head_of(path: Path) -> bytes:
    return path.read_bytes()[: 64 * 1024]


def test_a_pdf_named_docx_is_a_pdf(tmp_path: Path) -> None:
    disguised = tmp_path / "contract.docx"
    disguised.write_bytes((SAMPLES / "t-series-user-manual.pdf").read_bytes())
    assert detect_media_type(head_of(disguised), disguised.name, disguised) == detect.PDF


def test_a_text_file_named_pdf_is_plain_text(tmp_path: Path) -> None:
    disguised = tmp_path / "notes.pdf"
    disguised.write_bytes(b"Plain notes about the thermostat.\nNothing in here is a PDF.\n")
    assert detect_media_type(head_of(disguised), disguised.name, disguised) == detect.TEXT


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("refund-and-sla-policy.docx", detect.DOCX),
        ("firmware-release-notes-4-2.pptx", detect.PPTX),
        ("compatibility-and-error-codes.xlsx", detect.XLSX),
        ("troubleshooting-guide.html", detect.HTML),
        ("faq.md", detect.MARKDOWN),
        ("known-issues.txt", detect.TEXT),
        ("support-announcement-2024-08.eml", detect.EMAIL),
        ("installer-bulletin-2024-07.pdf", detect.PDF),
        ("wifi-reconnect-card.png", "image/png"),
    ],
)
def test_sample_files_are_recognised(name: str, expected: str) -> None:
    path = SAMPLES / name
    assert detect_media_type(head_of(path), name, path) == expected


def test_markdown_and_csv_are_told_apart_from_text_by_their_suffix() -> None:
    prose = b"Notes on the thermostat.\nThe dial resets it.\n"
    assert detect_media_type(prose, "table.csv") == detect.CSV
    assert detect_media_type(prose, "README.MD") == detect.MARKDOWN
    assert detect_media_type(prose, "notes") == detect.TEXT
    tagged = b"<html>\n<body>\n<p>Opening with a tag.</p>\n</body>\n</html>\n"
    assert detect_media_type(tagged, "page.html") == detect.HTML
    assert detect_media_type(tagged, "page.md") == detect.MARKDOWN  # Markdown may open with a tag


def test_an_empty_file_is_invalid_input() -> None:
    with pytest.raises(InvalidInput) as caught:
        detect_media_type(b"", "empty.pdf")
    assert caught.type is InvalidInput
    assert caught.value.reason == "file is empty"


def test_a_windows_program_is_unsupported_with_advice() -> None:
    exe = b"MZ\x90\x00" + b"\x00" * 508
    with pytest.raises(Unsupported) as caught:
        detect_media_type(exe, "invoice.pdf")
    message = caught.value.reason
    assert message.startswith("not a supported document type:")
    assert (
        message == "not a supported document type: application/x-dosexec (a Windows program, not a document)"
    )


def test_a_zip_without_office_parts_is_unsupported(tmp_path: Path) -> None:
    archive = tmp_path / "bundle.docx"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("manual.txt", "Not an office document at all.")
        zf.writestr("[Content_Types].xml", "<Types/>")  # looks OOXML-ish, but has no word/ppt/xl part
    with pytest.raises(Unsupported) as caught:
        detect_media_type(head_of(archive), archive.name, archive)
    assert caught.value.reason == (
        "not a supported document type: application/zip "
        "(a zip archive: unpack it and upload the documents inside)"
    )


def test_an_office_zip_is_recognised_by_its_parts(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("xl/workbook.xml", "<workbook/>")
    archive = tmp_path / "sheet.bin"
    archive.write_bytes(buffer.getvalue())
    assert detect_media_type(head_of(archive), archive.name, archive) == detect.XLSX


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("../../etc/passwd", "etc/passwd"),
        ("/abs/path/report.pdf", "abs/path/report.pdf"),
        ("folder\\sub\\..\\doc.pdf", "folder/sub/doc.pdf"),
        ("a\x00b\x1fc\x7f.txt", "a_b_c_.txt"),
        ('what?<>|*".pdf', "what______.pdf"),
        (".hidden", "hidden"),
        ("", "unnamed"),
        ("   ", "unnamed"),
        ("../..", "unnamed"),
        ("/", "unnamed"),
        ("invoice\u202efdp.exe.md", "invoicefdp.exe.md"),  # right-to-left override: shown "invoicedm.exe.pdf"
        ("a\u2066b\u2069c\u200f\u061c.txt", "abc.txt"),  # isolates and direction marks
        ("zero\u200bwidth\ufeff.md", "zerowidth.md"),
        ("line\u2028break\u0085.pdf", "line_break_.pdf"),
        ("\ud800lone.txt", "_lone.txt"),  # an unpaired surrogate cannot even be stored as UTF-8
        (
            "r\u00e9sum\u00e9 \u05d3\u05d5\u05d7.pdf",
            "r\u00e9sum\u00e9 \u05d3\u05d5\u05d7.pdf",
        ),  # letters stay
    ],
)
def test_safe_source_name(raw: str, expected: str) -> None:
    assert safe_source_name(raw) == expected


def test_a_windows_drive_letter_is_dropped() -> None:
    # The docstring of safe_source_name promises exactly this.
    assert safe_source_name("C:\\x\\report.pdf") == "x/report.pdf"


def test_very_long_names_are_bounded() -> None:
    single = safe_source_name("a" * 1000 + ".txt")
    assert 0 < len(single) <= 120
    nested = safe_source_name("/".join(["d" * 100] * 10) + "/file.txt")
    assert len(nested) <= 240
    assert nested.endswith("/file.txt")  # the end of a path (the file name) is what is kept
    assert not nested.startswith("/")
    assert all(0 < len(part) <= 120 for part in nested.split("/"))


def test_a_long_name_keeps_its_extension() -> None:
    name = safe_source_name("meeting-notes-" + "x" * 200 + ".md")
    assert len(name) <= 120
    assert name.endswith(".md")
    assert detect_media_type(b"# Notes\n\nSome text.\n", name) == detect.MARKDOWN


def test_prose_that_libmagic_calls_a_plotter_file_is_plain_text() -> None:
    # Three SciFact abstracts open like this; libmagic names them application/vnd.hp-hpgl.
    head = b"PAD4 is essential for antibacterial innate immunity mediated by neutrophil traps.\n"
    assert magic.from_buffer(head, mime=True) != "text/plain"  # the trap is still there
    assert detect_media_type(head, "4406819.txt") == detect.TEXT


def test_binary_that_is_not_text_stays_unsupported() -> None:
    with pytest.raises(Unsupported):
        detect_media_type(b"\x00\x01\x02\x03binary\xff\xfe" * 20, "blob.bin")


def test_rtf_is_not_read_as_plain_text() -> None:
    with pytest.raises(Unsupported):
        detect_media_type(b"{\\rtf1\\ansi\\deff0 {\\fonttbl {\\f0 Times;}} Hello}\n", "letter.rtf")
