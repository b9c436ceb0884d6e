"""A model switch on Qdrant Edge: a new shard built beside the live one with the new model, then
one switch, while searches, an upload and a delete go on; ``models use|rollback`` audited."""

from __future__ import annotations

import io
import threading
from pathlib import Path

import pytest

from core.errors import Conflict, NotFound
from core.protocols import SearchFilter
from core.settings import Settings
from sourcebook.wiring import Services
from tests.integration.cluster import text_document
from tests.tuned_model import tuned_model

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def model_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tuned_model(tmp_path_factory.mktemp("models"))


def _with_model(settings: Settings, folder: Path) -> None:
    settings.models_dir.mkdir(parents=True, exist_ok=True)
    (settings.models_dir / folder.name).symlink_to(folder)


def test_switch_model_on_edge_beside_the_live_shard_while_serving(
    settings: Settings, model_folder: Path
) -> None:
    settings = settings.model_copy(update={"chunk_tokens": 48, "chunk_overlap": 8})
    _with_model(settings, model_folder)
    services = Services.open(settings)
    services.catalog.ensure_collection("acme")
    ids = [services.intake.add("acme", n, io.BytesIO(b)).document_id for n, b in map(text_document, range(8))]
    assert services.executor.wait(timeout=300)
    deleted, kept = str(ids[0]), [str(i) for i in ids[1:]]
    failures: list[str] = []
    models_seen: set[str] = set()
    stop = threading.Event()
    outcome: list[object] = []

    def keep_searching() -> None:
        while not stop.is_set():
            for doc_id in kept:
                try:
                    got = services.searcher.retrieve(
                        "router firmware", SearchFilter(document_ids=(doc_id,)), limit=2, rerank=False
                    )
                except Exception as exc:  # noqa: BLE001 - every failure is the finding
                    failures.append(repr(exc))
                    continue
                models_seen.add(got.model)
                if not got.passages:
                    failures.append(f"{doc_id} not found by {got.model}")

    def switch() -> None:
        try:
            outcome.append(services.models.use("minilm-acme-1", "alice"))
        except Exception as exc:  # noqa: BLE001
            outcome.append(exc)

    readers = [threading.Thread(target=keep_searching) for _ in range(3)]
    swap = threading.Thread(target=switch)
    for thread in readers:
        thread.start()
    swap.start()
    try:
        name, data = text_document(99)
        late = services.intake.add("acme", name, io.BytesIO(data))  # arrives during the build
        services.library.delete_document(deleted)  # and one goes
        assert services.executor.wait(timeout=300)
        swap.join(timeout=600)
    finally:
        stop.set()
        for thread in readers:
            thread.join()
    try:
        [result] = outcome
        assert not isinstance(result, Exception), result
        _, report = result  # type: ignore[misc]
        assert report.switched and report.failed == []
        assert failures == [], failures[:5]
        assert models_seen == {"hashing", "minilm-acme-1"}
        assert services.live.model == "minilm-acme-1"
        assert services.live.live.index == "minilm-acme-1--2"
        for doc in services.catalog.documents("acme"):
            assert services.store.count(document_id=doc.id) == services.catalog.chunk_count(
                document_id=doc.id
            )
        assert services.store.count(document_id=str(late.document_id)) > 0
        assert services.store.count(document_id=deleted) == 0
        # the new model's vectors: a question embedded by it finds the late upload first
        found = services.searcher.retrieve(
            "Note 99: unit S-0099", SearchFilter(collections=("acme",)), limit=1, rerank=False
        )
        assert found.model == "minilm-acme-1" and found.passages[0].document_id == str(late.document_id)
        assert sorted(p.name for p in settings.index_dir.iterdir()) == ["minilm-acme-1--2"]
        [entry] = [e for e in services.audit.entries() if e.action == "model.use"]
        assert (entry.actor, entry.target) == ("alice", "minilm-acme-1")
        assert entry.detail == {"index": "minilm-acme-1--2", "previous_model": "hashing", "documents": 8}
    finally:
        services.close()

    again = Services.open(settings)  # a restart opens the live shard the catalog names
    try:
        assert again.live.model == "minilm-acme-1"
        assert again.store.count() == again.catalog.chunk_count(collection="acme")
        switched, _ = again.models.rollback("bob")
        assert (switched.model, switched.action, switched.previous_model) == (
            "hashing",
            "rollback",
            "minilm-acme-1",
        )
        assert again.live.model == "hashing" and again.store.count() == again.catalog.chunk_count(
            collection="acme"
        )
        assert [e.action for e in again.audit.entries() if e.action.startswith("model.")] == [
            "model.use",
            "model.rollback",
        ]
        answer, _ = again.answering.generate("unit S-0099", SearchFilter(collections=("acme",)), passages=3)
        assert dict(answer.provenance)["embedder"] == "hashing"
    finally:
        again.close()


def test_models_use_refuses_an_unknown_model_and_the_live_one(settings: Settings) -> None:
    services = Services.open(settings)
    try:
        with pytest.raises(NotFound, match=r"no model named 'nope' \(known: minilm, hashing\)"):
            services.models.use("nope", "alice")
        with pytest.raises(Conflict, match="'hashing' is already the live model"):
            services.models.use("hashing", "alice")
        with pytest.raises(Conflict, match="nothing to roll back to: 'hashing' has been the live model"):
            services.models.rollback("alice")
    finally:
        services.close()


def test_rebuild_index_on_edge_builds_a_shard_beside_and_switches(settings: Settings) -> None:
    services = Services.open(settings)
    services.catalog.ensure_collection("acme")
    for n, b in map(text_document, range(3)):
        services.intake.add("acme", n, io.BytesIO(b))
    assert services.executor.wait(timeout=300)
    try:
        switched, report = services.models.rebuild("alice")
        assert report.switched and report.rebuilt == 3
        assert switched is not None and switched.index_name == "hashing--2"
        assert services.store.count() == services.catalog.chunk_count(collection="acme")
        assert sorted(p.name for p in settings.index_dir.iterdir()) == ["hashing--2"]
    finally:
        services.close()


def test_closing_releases_the_live_shard_a_search_opened(settings: Settings) -> None:
    first = Services.open(settings)
    first.searcher.search("anything", SearchFilter(), limit=1)  # opens the live shard, not ``store``
    first.close()
    again = Services.open(settings)  # the shard admits one holder: it must have been released
    try:
        assert again.searcher.search("anything", SearchFilter(), limit=1) == []
    finally:
        again.close()
