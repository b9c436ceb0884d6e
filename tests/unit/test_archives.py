"""Office files that unpack to too much are refused before a parser opens them."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from core.errors import TooLarge
from ingest import detect
from ingest.archives import UnpackLimits, check_unpacked_size
from ingest.parse import ParseLimits, parse
from tests.conftest import SAMPLES

MB = 1024 * 1024


def zipped(path: Path, unpacked_mb: float) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", b"\0" * int(unpacked_mb * MB))
    return path


@pytest.mark.parametrize(
    "name",
    ["refund-and-sla-policy.docx", "firmware-release-notes-4-2.pptx", "compatibility-and-error-codes.xlsx"],
)
def test_real_office_files_pass(name: str) -> None:
    path = SAMPLES / name
    media_type = detect.detect_media_type(path.read_bytes()[:65536], name, path)
    check_unpacked_size(path, media_type, UnpackLimits())


def test_an_archive_past_the_ratio_is_refused_with_the_reason(tmp_path: Path) -> None:
    bomb = zipped(tmp_path / "bomb.docx", 20)
    with pytest.raises(TooLarge) as refused:
        check_unpacked_size(bomb, detect.DOCX, UnpackLimits())
    times = round(20 * MB / bomb.stat().st_size)
    assert refused.value.reason == (
        f"the file unpacks to 20.0 MB, {times} times its size; "
        "more than 100 times is refused as a likely decompression bomb"
    )


def test_an_archive_past_the_size_limit_is_refused_whatever_its_ratio(tmp_path: Path) -> None:
    big = zipped(tmp_path / "big.xlsx", 3)
    with pytest.raises(TooLarge, match=r"unpacks to 3\.0 MB, more than the limit of 2 MB"):
        check_unpacked_size(big, detect.XLSX, UnpackLimits(max_bytes=2 * MB, max_ratio=1e9))


def test_small_content_is_never_a_bomb_and_other_types_are_not_opened(tmp_path: Path) -> None:
    check_unpacked_size(zipped(tmp_path / "tiny.docx", 0.5), detect.DOCX, UnpackLimits())
    check_unpacked_size(zipped(tmp_path / "bomb.md", 20), detect.MARKDOWN, UnpackLimits())
    (tmp_path / "broken.docx").write_bytes(b"PK\x03\x04 not really")
    check_unpacked_size(tmp_path / "broken.docx", detect.DOCX, UnpackLimits())  # the parser says why


def test_the_parser_refuses_a_stored_bomb_too(tmp_path: Path) -> None:
    """A retry or a re-index parses what intake stored earlier, perhaps under other limits."""
    with pytest.raises(TooLarge, match="likely decompression bomb"):
        parse(zipped(tmp_path / "bomb.docx", 20), detect.DOCX, ParseLimits(1_000_000, 10))
