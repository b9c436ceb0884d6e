"""Content-addressed originals: one file per content, oversized uploads hashed but not kept."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest

from core.errors import NotFound, TooLarge
from ingest.blobs import HEAD_BYTES, BlobStore, Oversized

MB = 1024 * 1024


def files_under(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def test_same_bytes_twice_give_the_same_sha_and_one_file(tmp_path: Path) -> None:
    store = BlobStore(tmp_path / "originals")
    data = b"Northwind thermostat manual, edition 2024.2\n" * 100
    first = store.put(io.BytesIO(data), max_bytes=MB)
    second = store.put(io.BytesIO(data), max_bytes=MB)
    sha = hashlib.sha256(data).hexdigest()
    assert first.sha256 == second.sha256 == sha
    assert first.size == len(data)
    assert first.path == second.path == store.root / sha[:2] / sha
    assert files_under(store.root) == [first.path]
    assert first.path.read_bytes() == data
    with store.open(sha) as stream:
        assert stream.read() == data


def test_the_head_holds_the_first_bytes_only(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    data = bytes(range(256)) * (3 * HEAD_BYTES // 256 + 7)  # several read blocks would be fine too
    blob = store.put(io.BytesIO(data), max_bytes=MB)
    assert blob.head == data[:HEAD_BYTES]
    small = store.put(io.BytesIO(b"%PDF-1.7 tiny"), max_bytes=MB)
    assert small.head == b"%PDF-1.7 tiny"


def test_a_file_exactly_at_the_limit_is_kept(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    data = b"x" * MB
    blob = store.put(io.BytesIO(data), max_bytes=MB)
    assert blob.size == MB
    assert blob.path.is_file()


def test_an_oversized_upload_is_hashed_but_not_kept(tmp_path: Path) -> None:
    store = BlobStore(tmp_path / "originals")
    data = b"y" * (2 * MB + 5)  # more than one read block past the limit
    with pytest.raises(Oversized) as caught:
        store.put(io.BytesIO(data), max_bytes=MB)
    error = caught.value
    assert isinstance(error, TooLarge)
    assert error.reason == "exceeds the 1 MB upload limit"
    assert error.sha256 == hashlib.sha256(data).hexdigest()
    assert error.size == len(data)
    assert files_under(store.root) == []  # neither the blob nor a .incoming- temp file
    assert not list(store.root.glob(".incoming-*"))


def test_the_limit_in_the_message_follows_the_setting(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    with pytest.raises(Oversized) as caught:
        store.put(io.BytesIO(b"z" * (MB + MB // 2 + 1)), max_bytes=MB + MB // 2)
    assert caught.value.reason == "exceeds the 1.5 MB upload limit"


def test_open_and_delete(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    blob = store.put(io.BytesIO(b"keep me"), max_bytes=MB)
    store.delete(blob.sha256)
    assert not blob.path.exists()
    store.delete(blob.sha256)  # deleting twice is fine
    with pytest.raises(NotFound) as caught:
        store.open(blob.sha256)
    assert caught.value.reason == "the original file is no longer stored"
