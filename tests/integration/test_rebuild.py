"""Rebuild the index beside the live one and switch the alias, while searches, uploads and deletes
go on (the server store, through qdrant-client's local mode; Edge: test_model_swap.py)."""

from __future__ import annotations

import io
import threading
from pathlib import Path

import pytest

from core.errors import Conflict
from core.protocols import SearchFilter
from core.settings import Settings
from ingest.rebuild import RebuildReport
from sourcebook.wiring import Services
from tests.integration.cluster import text_document

pytestmark = pytest.mark.integration


def test_rebuild_beside_the_live_index_then_switch(settings: Settings, tmp_path: Path) -> None:
    from qdrant_client import QdrantClient

    server = settings.model_copy(update={"vector_store": "server", "qdrant_url": str(tmp_path / "qdrant")})
    first = Services.open(server.model_copy(update={"chunk_tokens": 48, "chunk_overlap": 8}))
    first.catalog.ensure_collection("acme")
    ids = [first.intake.add("acme", n, io.BytesIO(b)).document_id for n, b in map(text_document, range(10))]
    assert first.executor.wait(timeout=300)
    first.close()

    services = Services.open(server.model_copy(update={"chunk_tokens": 160, "chunk_overlap": 16}))
    deleted, kept = str(ids[0]), [str(i) for i in ids[1:]]
    misses: list[str] = []
    stop = threading.Event()
    reports: list[RebuildReport] = []

    def keep_searching() -> None:
        while not stop.is_set():
            for doc_id in kept:
                found = services.searcher.search(
                    "router firmware", SearchFilter(document_ids=(doc_id,)), limit=2, rerank=False
                )
                if not found:
                    misses.append(doc_id)

    reader = threading.Thread(target=keep_searching)
    rebuild = threading.Thread(target=lambda: reports.append(services.library.rebuild_index()))
    reader.start()
    rebuild.start()
    try:
        name, data = text_document(99)
        late = services.intake.add("acme", name, io.BytesIO(data))  # arrives during the rebuild
        services.library.delete_document(deleted)  # and one goes
        assert services.executor.wait(timeout=300)
        rebuild.join(timeout=300)
    finally:
        stop.set()
        reader.join()
    try:
        [report] = reports
        assert report.switched and report.failed == []
        assert misses == [], "a document disappeared from search during the rebuild"
        for doc in services.catalog.documents("acme"):
            assert services.store.count(document_id=doc.id) == services.catalog.chunk_count(
                document_id=doc.id
            )
        assert services.store.count(document_id=str(late.document_id)) > 0
        assert services.store.count(document_id=deleted) == 0
        assert services.store.count() == services.catalog.chunk_count(collection="acme")
        client = services.live.live.store._client  # type: ignore[attr-defined]
        assert [a.collection_name for a in client.get_aliases().aliases] == ["sourcebook-hashing--2"]
        assert {c.name for c in client.get_collections().collections} == {"sourcebook-hashing--2"}
        assert isinstance(client, QdrantClient)
    finally:
        services.close()


def test_an_index_made_before_aliases_is_used_but_not_rebuilt_beside(tmp_path: Path) -> None:
    from qdrant_client import QdrantClient, models

    from retrieval.stores.server import QdrantServerVectorStore

    legacy = QdrantClient(path=str(tmp_path / "q"))
    legacy.create_collection(
        "old", vectors_config={"dense": models.VectorParams(size=8, distance=models.Distance.COSINE)}
    )
    legacy.close()
    store = QdrantServerVectorStore(str(tmp_path / "q"), 8, "old")
    try:
        assert store.count() == 0
        with pytest.raises(Conflict, match="was made before rebuilds beside it were possible"):
            store.begin_rebuild()
    finally:
        store.close()


def test_switch_model_on_the_server_store_moves_to_the_new_models_alias(
    settings: Settings, tmp_path: Path
) -> None:
    from tests.tuned_model import tuned_model

    server = settings.model_copy(update={"vector_store": "server", "qdrant_url": str(tmp_path / "qdrant")})
    tuned_model(server.models_dir, "minilm-acme-1")
    services = Services.open(server)
    try:
        services.catalog.ensure_collection("acme")
        for n, b in map(text_document, range(3)):
            services.intake.add("acme", n, io.BytesIO(b))
        assert services.executor.wait(timeout=300)
        switched, report = services.models.use("minilm-acme-1", "alice")
        assert report.switched and switched.index_name == "sourcebook-minilm-acme-1"
        assert services.store.count() == services.catalog.chunk_count(collection="acme")
        found = services.searcher.retrieve("router firmware", SearchFilter(collections=("acme",)), limit=1)
        assert found.model == "minilm-acme-1" and found.passages
        back, _ = services.models.rollback("alice")
        assert back.model == "hashing" and services.store.count() == services.catalog.chunk_count(
            collection="acme"
        )
        client = services.live.live.store._client  # type: ignore[attr-defined]
        aliases = {a.alias_name: a.collection_name for a in client.get_aliases().aliases}
        assert aliases == {
            "sourcebook-hashing": "sourcebook-hashing--2",
            "sourcebook-minilm-acme-1": "sourcebook-minilm-acme-1--2",
        }
    finally:
        services.close()
