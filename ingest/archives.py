"""Office files (DOCX, PPTX, XLSX) are zip archives: refuse one that unpacks to too much before
any parser opens it.

A 31 KB DOCX that unpacked to 20 MB of XML took about 4 CPU-minutes and 700 MB of a worker's
memory. The sizes a zip declares are what Python's ``zipfile`` (under python-docx, python-pptx,
openpyxl and unstructured) will ever inflate, since it stops each member at its declared size,
so their sum bounds the work without inflating anything.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

from core.errors import TooLarge
from ingest import detect

ARCHIVE_TYPES = frozenset({detect.DOCX, detect.PPTX, detect.XLSX, detect.XLSM})
MB = 1024 * 1024
RATIO_FLOOR = 1 * MB  # less content than this is cheap to parse however well it compressed


@dataclass(frozen=True, slots=True)
class UnpackLimits:
    max_bytes: int = 512 * MB
    max_ratio: float = 100.0  # real office files measured 2 to 23 times their size


def check_unpacked_size(path: Path, media_type: str, limits: UnpackLimits) -> None:
    """Raise ``TooLarge`` with the reason when an office file unpacks past a limit."""
    if media_type not in ARCHIVE_TYPES:
        return
    try:
        with zipfile.ZipFile(path) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError):
        return  # not a readable archive: the parser says what is wrong with it
    packed = max(path.stat().st_size, 1)
    if unpacked > limits.max_bytes:
        raise TooLarge(
            f"the file unpacks to {unpacked / MB:.1f} MB, more than the limit of {limits.max_bytes / MB:g} MB"
        )
    if unpacked > RATIO_FLOOR and unpacked > limits.max_ratio * packed:
        raise TooLarge(
            f"the file unpacks to {unpacked / MB:.1f} MB, {unpacked / packed:.0f} times its size; "
            f"more than {limits.max_ratio:g} times is refused as a likely decompression bomb"
        )
