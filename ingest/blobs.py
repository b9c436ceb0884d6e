"""Originals, stored content-addressed: ``originals/ab/abcdef…`` named by their sha256."""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from core.errors import NotFound, TooLarge

_BLOCK = 1024 * 1024
HEAD_BYTES = 64 * 1024


class Oversized(TooLarge):
    """Past the upload limit: hashed to the end (so it can be recorded), but not kept."""

    def __init__(self, message: str, sha256: str, size: int) -> None:
        super().__init__(message)
        self.sha256 = sha256
        self.size = size


@dataclass(frozen=True, slots=True)
class StoredBlob:
    sha256: str
    size: int
    path: Path
    head: bytes  # the first bytes, for type detection


class BlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256

    def open(self, sha256: str) -> BinaryIO:
        path = self.path(sha256)
        if not path.is_file():
            raise NotFound("the original file is no longer stored")
        return path.open("rb")

    def put(self, stream: BinaryIO, max_bytes: int) -> StoredBlob:
        """Copy ``stream`` in, hashing as it goes; past ``max_bytes`` keep hashing, stop writing."""
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        digest = hashlib.sha256()
        size = 0
        head = b""
        fd, tmp_name = tempfile.mkstemp(dir=self.root, prefix=".incoming-")
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as out:
                while block := stream.read(_BLOCK):
                    size += len(block)
                    if len(head) < HEAD_BYTES:
                        head += block[: HEAD_BYTES - len(head)]
                    digest.update(block)
                    if size <= max_bytes:
                        out.write(block)
            sha = digest.hexdigest()
            if size > max_bytes:
                limit = f"{max_bytes / (1024 * 1024):g} MB"
                raise Oversized(f"exceeds the {limit} upload limit", sha, size)
            final = self.path(sha)
            final.parent.mkdir(mode=0o700, exist_ok=True)
            os.replace(tmp, final)  # same bytes, same name: a second copy just replaces the first
            return StoredBlob(sha, size, final, head)
        finally:
            tmp.unlink(missing_ok=True)

    def delete(self, sha256: str) -> None:
        self.path(sha256).unlink(missing_ok=True)
