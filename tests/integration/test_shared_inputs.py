"""Real-world and hostile inputs from ../shared/eval-data: no crash, no hang, every file accounted."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.domain import DocumentStatus
from core.settings import Settings
from ingest.intake import Outcome
from sourcebook.wiring import Services
from tests.conftest import shared

pytestmark = [pytest.mark.integration, pytest.mark.shared_data, pytest.mark.slow]


def _ingest_tree(
    settings: Settings, root: Path
) -> tuple[Services, dict[str, tuple[DocumentStatus, str | None]]]:
    services = Services.open(settings)
    services.catalog.ensure_collection("inputs")
    files = sorted(p for p in root.rglob("*") if p.is_file())
    submissions = [
        (path, services.intake.add_path("inputs", path, name=path.relative_to(root).as_posix()))
        for path in files
    ]
    assert services.executor.wait(timeout=1200), "ingestion hung"
    results: dict[str, tuple[DocumentStatus, str | None]] = {}
    for path, sub in submissions:
        assert sub.document_id is not None, f"{path} has no document"
        doc = services.catalog.find_document(sub.document_id)
        assert doc is not None or sub.outcome is Outcome.UNCHANGED, f"{path} vanished"
        if doc is not None:
            results[sub.source_name] = (doc.status, doc.failure_reason)
    return services, results


def test_hostile_pdfs_are_each_ready_or_failed_with_a_reason(settings: Settings) -> None:
    root = shared("pdf-badinput")
    services, results = _ingest_tree(settings, root)
    try:
        assert results, "nothing was ingested"
        for name, (status, reason) in results.items():
            assert status in {DocumentStatus.READY, DocumentStatus.FAILED}, name
            if status is DocumentStatus.FAILED:
                assert reason, f"{name} failed without a reason"
        expectations = (root / "EXPECTATIONS.tsv").read_text().splitlines()[1:]
        for row in expectations:
            path, kind, _password, pdfinfo = row.split("\t")[:4]
            if path not in results:
                continue  # held back: not on this machine
            status, reason = results[path]
            if kind == "encrypted" and "Incorrect password" in pdfinfo:
                assert (status, (reason or "")[:22]) == (DocumentStatus.FAILED, "password-protected PDF"), (
                    path
                )
            if kind == "valid-control":
                assert status is DocumentStatus.READY, f"{path}: {reason}"
        for doc in services.catalog.documents("inputs"):
            assert services.catalog.chunk_count(document_id=doc.id) == services.store.count(
                document_id=doc.id
            )
    finally:
        services.close()


def test_docling_sources_are_each_ready_or_failed_with_a_reason(settings: Settings) -> None:
    root = shared("docs-docling")
    services, results = _ingest_tree(settings, root)
    try:
        ready = [n for n, (s, _) in results.items() if s is DocumentStatus.READY]
        failed = {n: r for n, (s, r) in results.items() if s is DocumentStatus.FAILED}
        assert all(failed.values()), f"failures without a reason: {failed}"
        assert set(results) == set(ready) | set(failed)
        for name in (
            "pdf/sources/multi_page.pdf",
            "docx/sources/word_sample.docx",
            "xlsx/sources/xlsx_01.xlsx",
        ):
            assert name in ready, f"{name}: {failed.get(name)}"
        for name, reason in failed.items():
            if name.endswith((".doc", ".ppt")):
                assert reason is not None and reason.startswith("not a supported document type"), name
        if "pdf_password/sources" in " ".join(results):
            assert any(r and r.startswith("password-protected") for r in failed.values())
        rotated = [n for n in ready if n.startswith("ocr/sources/") and "rotated" in n]
        assert len(rotated) >= 3, f"rotated scans did not ingest: {failed}"
        for name in rotated:
            doc = next(d for d in services.catalog.documents("inputs") if d.source_name == name)
            text = " ".join(c.text for c in services.catalog.chunks(doc.id))
            assert "Docling" in text, f"{name} was not read upright: {text[:120]!r}"
    finally:
        services.close()
