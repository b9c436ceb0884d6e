"""Ingestion end to end: real worker processes, a real Qdrant engine, SQLite and PostgreSQL."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from core.domain import DocumentStatus
from core.settings import Settings
from ingest.intake import Outcome, Submission
from sourcebook.wiring import Services
from tests.conftest import SAMPLES

pytestmark = pytest.mark.integration


@pytest.fixture
def services(settings: Settings, catalog_url: str) -> Iterator[Services]:
    opened = Services.open(settings.model_copy(update={"database_url": catalog_url}))
    opened.catalog.ensure_collection("acme", team="support")
    yield opened
    opened.close()


def ingest(services: Services, files: list[tuple[str, bytes]] | list[Path]) -> list[Submission]:
    submissions = []
    for item in files:
        if isinstance(item, Path):
            submissions.append(services.intake.add_path("acme", item))
        else:
            name, data = item
            submissions.append(services.intake.add("acme", name, io.BytesIO(data)))
    assert services.executor.wait(timeout=600)
    return submissions


def status_of(services: Services, submission: Submission) -> tuple[DocumentStatus, str | None]:
    assert submission.document_id is not None
    doc = services.catalog.get_document(submission.document_id)
    return doc.status, doc.failure_reason


def assert_catalog_matches_store(services: Services) -> None:
    for doc in services.catalog.documents("acme"):
        assert services.catalog.chunk_count(document_id=doc.id) == services.store.count(document_id=doc.id)
    assert services.catalog.chunk_count(collection="acme") == services.store.count(collection="acme")


@pytest.mark.slow
def test_sample_collection_ingests_fully_and_a_rerun_ingests_nothing(services: Services) -> None:
    files = sorted(p for p in SAMPLES.iterdir() if p.is_file())
    first = ingest(services, files)
    assert [s.outcome for s in first] == [Outcome.QUEUED] * len(files)
    for submission in first:
        assert status_of(services, submission) == (DocumentStatus.READY, None), submission.source_name
    chunks = services.catalog.chunk_count(collection="acme")
    assert chunks > len(files)
    assert_catalog_matches_store(services)

    again = ingest(services, files)
    assert {s.outcome for s in again} == {Outcome.UNCHANGED}
    assert services.catalog.chunk_count(collection="acme") == chunks
    assert services.store.count(collection="acme") == chunks

    by_name = {d.source_name: d for d in services.catalog.documents("acme")}
    mixed = next(d for name, d in by_name.items() if "bulletin" in name or "mixed" in name)
    assert mixed.page_count == 2
    assert any(2 in c.pages for c in services.catalog.chunks(mixed.id)), "the scanned page 2 was not indexed"


def test_same_bytes_under_two_names_are_one_document(services: Services) -> None:
    text = b"The T200 supports 5 GHz Wi-Fi networks.\n"
    first, second = ingest(services, [("a.txt", text), ("copy-of-a.txt", text)])
    assert first.document_id == second.document_id
    assert second.outcome is Outcome.UNCHANGED
    assert len(services.catalog.documents("acme")) == 1


def test_the_local_pool_stores_each_chunks_sentence_vectors_with_it(services: Services) -> None:
    from core.protocols import SearchFilter

    text = b"# Errors\n\nThe lid is blue. Error E-104 means the sensor failed. Replace the sensor.\n"
    ingest(services, [("errors.md", text)])
    [found] = services.searcher.search("what does E-104 mean", SearchFilter(), limit=1, rerank=False)
    assert found.sentences is not None
    assert [found.text[a:b] for a, b in found.sentences.spans] == [
        "The lid is blue.",
        "Error E-104 means the sensor failed.",
        "Replace the sensor.",
    ]
    assert found.sentences.vectors.shape[0] == len(found.sentences.spans) + 1  # and the heading's


def test_a_changed_file_with_the_same_name_replaces_its_old_chunks(services: Services) -> None:
    [old] = ingest(services, [("policy.md", b"# Refunds\n\nRefunds take 14 days.\n")])
    [new] = ingest(services, [("policy.md", b"# Refunds\n\nRefunds take 30 days from now on.\n")])
    assert old.document_id != new.document_id
    docs = services.catalog.documents("acme")
    assert [(d.id, d.version) for d in docs] == [(new.document_id, 2)]
    assert old.document_id is not None
    assert services.store.count(document_id=old.document_id) == 0
    assert services.catalog.chunk_count(document_id=old.document_id) == 0
    assert_catalog_matches_store(services)


def test_delete_removes_vectors_rows_and_the_original(services: Services) -> None:
    [sub] = ingest(services, [("faq.md", b"# FAQ\n\nThe dial resets after 10 seconds.\n")])
    assert sub.document_id is not None
    doc = services.catalog.get_document(sub.document_id)
    assert services.blobs.path(doc.sha256).exists()
    services.library.delete_document(doc.id)
    assert services.store.count(document_id=doc.id) == 0
    assert services.catalog.chunk_count(document_id=doc.id) == 0
    assert services.catalog.find_document(doc.id) is None
    assert not services.blobs.path(doc.sha256).exists()


def _bomb() -> bytes:
    out = io.BytesIO()
    Image.new("1", (20_000, 20_000)).save(out, format="PNG")  # 400 Mpx in a few kB
    return out.getvalue()


def test_bad_files_fail_alone_with_a_reason_and_the_batch_goes_on(services: Services) -> None:
    pdf_named_docx = (SAMPLES / "warranty-policy-letter-scanned.pdf").read_bytes()
    batch = [
        ("empty.txt", b""),
        ("setup.exe", b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 200),
        ("scan.docx", pdf_named_docx),
        ("broken.pdf", b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer\n%%EOF"),
        ("../../etc/passwd.txt", b"Support hours are 8:00 to 18:00 on weekdays.\n"),
        ("bomb.png", _bomb()),
        ("good.md", b"# Hours\n\nThe hotline opens at 8:00.\n"),
    ]
    empty, exe, scan, broken, hostile, bomb, good = ingest(services, batch)
    assert status_of(services, empty) == (DocumentStatus.FAILED, "file is empty")
    exe_status, exe_reason = status_of(services, exe)
    assert exe_status is DocumentStatus.FAILED
    assert exe_reason is not None and exe_reason.startswith("not a supported document type: application/")
    assert "not a document" in exe_reason
    assert status_of(services, scan)[0] is DocumentStatus.READY
    assert services.catalog.get_document(str(scan.document_id)).media_type == "application/pdf"
    assert status_of(services, broken) == (DocumentStatus.FAILED, "corrupt or unreadable PDF")
    assert status_of(services, hostile) == (DocumentStatus.READY, None)
    assert hostile.source_name == "etc/passwd.txt"
    assert status_of(services, bomb) == (DocumentStatus.FAILED, "image too large to decode safely")
    assert status_of(services, good) == (DocumentStatus.READY, None)
    assert_catalog_matches_store(services)


def test_oversized_file_fails_with_the_limit_in_its_reason(settings: Settings) -> None:
    services = Services.open(settings.model_copy(update={"max_upload_bytes": 1024 * 1024}))
    try:
        services.catalog.ensure_collection("acme")
        big, small = ingest(services, [("big.txt", b"word " * 300_000), ("small.txt", b"a small file\n")])
        assert big.outcome is Outcome.REJECTED
        assert status_of(services, big) == (DocumentStatus.FAILED, "exceeds the 1 MB upload limit")
        assert status_of(services, small)[0] is DocumentStatus.READY
        assert not list(services.blobs.root.rglob(".incoming-*")), "a rejected upload left a temp file"
    finally:
        services.close()


def _long_scan(tmp_path: Path, pages: int = 10) -> Path:
    """An image-only PDF whose OCR takes well over a second a page."""
    from PIL import ImageDraw

    images = []
    for page in range(pages):
        image = Image.new("L", (1654, 2339), 255)
        draw = ImageDraw.Draw(image)
        for line in range(60):
            draw.text((100, 100 + 35 * line), f"Page {page} line {line}: the quick brown fox.", fill=0)
        images.append(image)
    path = tmp_path / "long-scan.pdf"
    images[0].save(path, save_all=True, append_images=images[1:], resolution=200)
    return path


def test_a_document_past_the_time_limit_fails_alone(settings: Settings, tmp_path: Path) -> None:
    services = Services.open(settings.model_copy(update={"document_timeout_s": 4.0}))
    try:
        services.catalog.ensure_collection("acme")
        ingest(services, [SAMPLES / "faq.md", SAMPLES / "troubleshooting-guide.html"])  # workers up
        slow, fast = ingest(services, [_long_scan(tmp_path), SAMPLES / "known-issues.txt"])
        assert status_of(services, slow) == (
            DocumentStatus.FAILED,
            "processing took longer than the 4 s limit per document",
        )
        assert status_of(services, fast) == (DocumentStatus.READY, None)
        # The worker that was killed is replaced; the next document still goes through.
        [after] = ingest(services, [SAMPLES / "faq.md"])
        assert status_of(services, after) == (DocumentStatus.READY, None)
    finally:
        services.close()


def test_documents_left_queued_by_a_stopped_process_are_resumed(settings: Settings) -> None:
    first = Services.open(settings)
    first.catalog.ensure_collection("acme")
    blob = first.blobs.put(io.BytesIO(b"The hotline number changed in May.\n"), 10_000)
    from core.domain import Document
    from ingest.intake import document_id

    doc_id = document_id("acme", blob.sha256)
    first.catalog.add_document(
        Document(
            doc_id, "acme", "hotline.txt", "text/plain", blob.sha256, blob.size, DocumentStatus.PROCESSING
        )
    )
    first.close()  # as if the process died while the document was processing

    second = Services.open(settings)
    try:
        [resumed] = second.intake.resume()
        assert resumed.document_id == doc_id
        assert second.executor.wait(timeout=300)
        assert second.catalog.get_document(doc_id).status is DocumentStatus.READY
        assert second.store.count(document_id=doc_id) == second.catalog.chunk_count(document_id=doc_id) > 0
    finally:
        second.close()


def _parsers_already_imported(_: int) -> tuple[bool, int]:
    import os
    import sys

    return "unstructured.partition.md" in sys.modules, os.getppid()


def test_pool_workers_are_forked_with_the_parsers_imported() -> None:
    """Workers share the fork server's imported parsers (memory) and need no warm-up of their own
    (a replacement for a killed worker takes its first document at once)."""
    import os

    from ingest.executor import _pool_context

    context = _pool_context()
    with context.Pool(2) as pool:
        found = pool.map(_parsers_already_imported, range(2))
    assert all(imported for imported, _ in found)
    assert {parent for _, parent in found} != {os.getpid()}  # forked by the server, not by this process
