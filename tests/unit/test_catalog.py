"""The SQL catalog on SQLite: migrations, round trips, cascades and NotFound messages."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from core.catalog import Catalog, JobProgress, Jobs
from core.domain import Chunk, Document, DocumentStatus, ElementKind, JobState
from core.errors import Conflict, NotFound


@pytest.fixture
def catalog(tmp_path: Path) -> Iterator[Catalog]:
    catalog = Catalog.connect(f"sqlite:///{tmp_path}/c.db")
    try:
        yield catalog
    finally:
        catalog.close()


def document(
    doc_id: str = "doc-1", collection: str = "kb", sha: str = "ab" * 32, **extra: object
) -> Document:
    values: dict[str, object] = {
        "id": doc_id,
        "collection": collection,
        "source_name": "manuals/t-series.pdf",
        "media_type": "application/pdf",
        "sha256": sha,
        "size": 6315,
        "status": DocumentStatus.QUEUED,
    }
    values.update(extra)
    return Document(**values)  # type: ignore[arg-type]


def chunks_of(doc_id: str, count: int) -> list[Chunk]:
    return [
        Chunk(
            document_id=doc_id,
            index=i,
            text=f"Chunk {i} text.",
            pages=(i + 1, i + 2),
            section_path=("Manual", f"Part {i}"),
            char_start=i * 20,
            char_end=i * 20 + 14,
            kind=ElementKind.TABLE if i % 2 else ElementKind.TEXT,
        )
        for i in range(count)
    ]


def test_migrations_create_the_tables(catalog: Catalog) -> None:
    tables = set(inspect(catalog.engine).get_table_names())
    assert {"collections", "documents", "chunks", "jobs", "users", "api_keys", "alembic_version"} <= tables
    with catalog.engine.connect() as conn:
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1


def test_migrating_twice_is_harmless(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/c.db"
    Catalog.connect(url).close()
    again = Catalog.connect(url)
    try:
        again.migrate()
        assert again.collections() == []
    finally:
        again.close()


def test_collection_round_trip(catalog: Catalog) -> None:
    catalog.ensure_collection("kb", team="support", description="Support documents")
    catalog.ensure_collection("kb", team="other", description="ignored: it exists")
    catalog.ensure_collection("alpha")
    assert catalog.collection_team("kb") == "support"
    infos = catalog.collections()
    assert [i.name for i in infos] == ["alpha", "kb"]  # ordered by name
    kb = infos[1]
    assert (kb.team, kb.description, kb.document_count, kb.chunk_count) == (
        "support",
        "Support documents",
        0,
        0,
    )


def test_a_new_collection_whose_name_is_taken_is_refused_in_words_that_name_no_team(catalog: Catalog) -> None:
    catalog.create_collection("kb", "finance", pii_policy="redact", pii_patterns={"ledger": r"L-\d+"})
    with pytest.raises(Conflict) as refused:
        catalog.create_collection("kb", "support", pii_policy="allow")  # no check-then-insert race
    assert str(refused.value) == "the collection name 'kb' is taken: choose another name"
    assert catalog.pii_settings("kb") == ("redact", (("ledger", r"L-\d+"),))  # the holder's, untouched
    assert catalog.collection_teams() == {"kb": "finance"}


def test_document_round_trip_and_update(catalog: Catalog) -> None:
    catalog.ensure_collection("kb", team="support")
    catalog.add_document(document(tags=("hvac", "manual"), title="T-series manual", page_count=4))
    doc = catalog.get_document("doc-1")
    assert doc.collection == "kb"
    assert doc.team == "support"
    assert doc.source_name == "manuals/t-series.pdf"
    assert doc.sha256 == "ab" * 32
    assert doc.size == 6315
    assert doc.status is DocumentStatus.QUEUED
    assert doc.tags == ("hvac", "manual")
    assert (doc.title, doc.page_count, doc.version) == ("T-series manual", 4, 1)
    assert doc.created_at is not None

    catalog.update_document("doc-1", status=DocumentStatus.FAILED, failure_reason="corrupt or unreadable PDF")
    updated = catalog.get_document("doc-1")
    assert updated.status is DocumentStatus.FAILED
    assert updated.failure_reason == "corrupt or unreadable PDF"
    assert catalog.find_document("missing") is None
    assert [d.id for d in catalog.documents("kb")] == ["doc-1"]
    assert [d.id for d in catalog.documents(source_name="manuals/t-series.pdf")] == ["doc-1"]
    assert catalog.documents(source_name="other.pdf") == []


def test_chunk_round_trip_and_replace(catalog: Catalog) -> None:
    catalog.ensure_collection("kb")
    catalog.add_document(document())
    original = chunks_of("doc-1", 3)
    catalog.replace_chunks("doc-1", original)
    assert catalog.chunks("doc-1") == original
    assert catalog.chunk_count(document_id="doc-1") == 3
    assert catalog.chunk_count(collection="kb") == 3
    catalog.replace_chunks("doc-1", original[:1])
    assert catalog.chunks("doc-1") == original[:1]
    assert catalog.collections()[0].chunk_count == 1
    assert catalog.collections()[0].document_count == 1


def test_deleting_a_document_cascades_to_its_chunks(catalog: Catalog) -> None:
    catalog.ensure_collection("kb")
    catalog.add_document(document("doc-1", sha="01" * 32))
    catalog.add_document(document("doc-2", sha="02" * 32))
    catalog.replace_chunks("doc-1", chunks_of("doc-1", 4))
    catalog.replace_chunks("doc-2", chunks_of("doc-2", 2))
    catalog.delete_document("doc-1")
    assert catalog.find_document("doc-1") is None
    assert catalog.chunks("doc-1") == []
    with catalog.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM chunks WHERE document_id = 'doc-1'")).scalar() == 0
    assert catalog.chunk_count() == 2  # the other document keeps its chunks


def test_deleting_a_collection_removes_its_documents_chunks_and_jobs(catalog: Catalog) -> None:
    jobs = Jobs(catalog.db)
    catalog.ensure_collection("kb")
    catalog.ensure_collection("other")
    catalog.add_document(document("doc-1"))
    catalog.add_document(document("doc-2", collection="other"))
    catalog.replace_chunks("doc-1", chunks_of("doc-1", 2))
    job = jobs.create("kb", "manual.pdf")
    assert catalog.delete_collection("kb") == ["doc-1"]
    assert [c.name for c in catalog.collections()] == ["other"]
    assert catalog.find_document("doc-1") is None
    assert catalog.chunk_count() == 0
    with pytest.raises(NotFound):
        jobs.get(job)
    assert catalog.get_document("doc-2").collection == "other"


def test_job_round_trip(catalog: Catalog) -> None:
    jobs = Jobs(catalog.db)
    catalog.ensure_collection("kb")
    job_id = jobs.create("kb", "manual.pdf")
    job = jobs.get(job_id)
    assert (job.collection, job.source_name, job.state, job.stage) == (
        "kb",
        "manual.pdf",
        JobState.QUEUED,
        "queued",
    )
    assert (job.progress, job.attempts, job.document_id, job.error) == (0.0, 0, None, None)
    catalog.add_document(document())
    jobs.update(
        job_id,
        state=JobState.FAILED,
        stage="parse",
        progress=0.5,
        attempts=2,
        document_id="doc-1",
        error="OCR failed",
    )
    updated = jobs.get(job_id)
    assert (updated.state, updated.stage, updated.progress, updated.attempts) == (
        JobState.FAILED,
        "parse",
        0.5,
        2,
    )
    assert updated.error == "OCR failed"
    latest = jobs.latest("doc-1")
    assert latest is not None
    assert latest.id == job_id
    assert jobs.latest("doc-2") is None


def test_progress_reports_move_jobs_and_their_queued_documents_in_one_go(catalog: Catalog) -> None:
    jobs = Jobs(catalog.db)
    catalog.ensure_collection("kb")
    catalog.add_document(document("new"))
    catalog.add_document(document("reindexed", sha="cd" * 32, status=DocumentStatus.READY))
    first = jobs.create("kb", "a.pdf", document_id="new")
    second = jobs.create("kb", "b.pdf", document_id="reindexed")
    jobs.progressed(
        [
            JobProgress(first, "new", "chunking", 0.5),
            JobProgress(second, "reindexed", "parsing", 0.05),
            JobProgress("deleted-meanwhile", "gone", "parsing", 0.05),  # moot, not an error
        ]
    )
    assert [(j.state, j.stage, j.progress) for j in (jobs.get(first), jobs.get(second))] == [
        (JobState.RUNNING, "chunking", 0.5),
        (JobState.RUNNING, "parsing", 0.05),
    ]
    assert catalog.get_document("new").status is DocumentStatus.PROCESSING
    assert catalog.get_document("reindexed").status is DocumentStatus.READY  # still searchable


def test_not_found_messages(catalog: Catalog) -> None:
    jobs = Jobs(catalog.db)
    cases: list[tuple[Callable[[], object], str]] = [
        (lambda: catalog.collection_team("x"), "no collection named 'x'"),
        (lambda: catalog.delete_collection("x"), "no collection named 'x'"),
        (lambda: catalog.add_document(document(collection="x")), "no collection named 'x'"),
        (lambda: jobs.create("x", "a.pdf"), "no collection named 'x'"),
        (lambda: catalog.get_document("x"), "no document with id 'x'"),
        (lambda: catalog.update_document("x", title="t"), "no document with id 'x'"),
        (lambda: catalog.delete_document("x"), "no document with id 'x'"),
        (lambda: jobs.get("x"), "no job with id 'x'"),
        (lambda: jobs.update("x", stage="parse"), "no job with id 'x'"),
    ]
    for call, message in cases:
        with pytest.raises(NotFound) as caught:
            call()
        assert caught.value.reason == message
