"""Re-indexing a collection with new chunking: every document stays searchable throughout."""

from __future__ import annotations

import io
import threading
from pathlib import Path

import pytest

from core.domain import DocumentStatus
from core.protocols import SearchFilter
from core.settings import Settings
from sourcebook.wiring import Services
from tests.integration.cluster import text_document

pytestmark = pytest.mark.integration


def test_reindex_with_new_chunking_keeps_every_document_searchable(
    settings: Settings, tmp_path: Path
) -> None:
    files = [text_document(n, words=400) for n in range(12)]
    first = Services.open(settings.model_copy(update={"chunk_tokens": 48, "chunk_overlap": 8}))
    first.catalog.ensure_collection("acme")
    ids = [first.intake.add("acme", name, io.BytesIO(data)).document_id for name, data in files]
    assert first.executor.wait(timeout=300)
    before = first.catalog.chunk_count(collection="acme")
    first.close()

    services = Services.open(settings.model_copy(update={"chunk_tokens": 160, "chunk_overlap": 16}))
    misses: list[str] = []
    searches = [0]
    stop = threading.Event()

    def keep_searching() -> None:
        while not stop.is_set():
            for doc_id in ids:
                found = services.searcher.search(
                    "router firmware", SearchFilter(document_ids=(str(doc_id),)), limit=3, rerank=False
                )
                searches[0] += 1
                if not found:
                    misses.append(str(doc_id))

    reader = threading.Thread(target=keep_searching)
    reader.start()
    try:
        queued = services.library.reindex("acme")
        assert queued is not None and len(queued) == len(files)
        assert services.executor.wait(timeout=300)
    finally:
        stop.set()
        reader.join()
    try:
        assert searches[0] > len(ids), "the searches did not overlap the re-index"
        assert misses == [], "a document disappeared from search during the re-index"
        after = services.catalog.chunk_count(collection="acme")
        assert after < before / 2
        for doc in services.catalog.documents("acme"):
            assert doc.status is DocumentStatus.READY
            n = services.catalog.chunk_count(document_id=doc.id)
            assert services.store.count(document_id=doc.id) == n
        assert services.store.count(collection="acme") == after
    finally:
        services.close()
