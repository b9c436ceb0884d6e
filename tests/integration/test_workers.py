"""Celery workers for real: ``celery worker`` processes on Redis and PostgreSQL, faults injected.

Each worker writes to a qdrant-client local store that only it holds open; these tests open the
store after the workers stopped, to check that every chunk in the catalog is in it exactly once.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.domain import DocumentStatus, JobState
from tests.conftest import SAMPLES
from tests.integration.cluster import (
    Cluster,
    Producer,
    RedisServer,
    postgres_database,
    text_document,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

SHARED_REDIS = "redis://127.0.0.1:6379/{db}"


def _reachable() -> None:
    import socket

    for port, what in ((6379, "Redis"), (5432, "PostgreSQL")):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except OSError:
            pytest.skip(f"{what} is not reachable on 127.0.0.1:{port}")
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")


@pytest.fixture
def database_url() -> Iterator[str]:
    _reachable()
    with postgres_database() as url:
        yield url


def _flush(url: str) -> None:
    import redis

    client = redis.Redis.from_url(url)
    client.flushdb()
    client.close()


@pytest.fixture
def cluster(tmp_path: Path, database_url: str) -> Iterator[Cluster]:
    broker = SHARED_REDIS.format(db=7)
    _flush(broker)
    running = Cluster(tmp_path / "home", database_url, broker)
    running.home.mkdir()
    yield running
    running.stop_workers()
    _flush(broker)


@pytest.fixture
def producer(cluster: Cluster) -> Iterator[Producer]:
    opened = Producer.open(cluster.settings())
    opened.catalog.ensure_collection("acme", team="support")
    yield opened
    opened.close()


def assert_one_copy_of_each_chunk(cluster: Cluster, producer: Producer, collection: str = "acme") -> int:
    from qdrant_client import QdrantClient

    cluster.stop_workers()
    client = QdrantClient(path=str(cluster.store_path))
    try:
        points, seen = [], None
        while True:
            batch, seen = client.scroll(
                "sourcebook-hashing", limit=1000, offset=seen, with_payload=True, with_vectors=["sentences"]
            )
            points += batch
            if seen is None:
                break
    finally:
        client.close()
    per_doc: dict[str, list[int]] = {}
    for point in points:
        per_doc.setdefault(point.payload["document_id"], []).append(point.payload["chunk_index"])
    expected = 0
    for doc in producer.catalog.documents(collection):
        n = producer.catalog.chunk_count(document_id=doc.id)
        if doc.status is DocumentStatus.READY:
            assert sorted(per_doc.get(doc.id, [])) == list(range(n)), doc.source_name
            expected += n
        else:
            assert doc.id not in per_doc, f"{doc.source_name} is {doc.status} but has vectors"
    assert len(points) == expected
    # The workers stored each chunk's sentence vectors, from the chunk's own pass, with their spans.
    for point in points:
        assert isinstance(point.vector, dict) and point.vector.get("sentences"), point.payload["text"][:60]
        assert len(point.payload["sentence_spans"]) <= len(point.vector["sentences"])
    return expected


def test_workers_ingest_the_sample_collection_end_to_end_and_reindex_it(
    cluster: Cluster, producer: Producer
) -> None:
    cluster.start_worker()
    files = sorted(p for p in SAMPLES.iterdir() if p.is_file())
    submissions = [producer.intake.add_path("acme", path) for path in files]
    assert producer.executor.wait(timeout=180), cluster.logs()
    for submission in submissions:
        doc = producer.catalog.get_document(str(submission.document_id))
        assert (doc.status, doc.failure_reason) == (DocumentStatus.READY, None), doc.source_name
        job = producer.jobs.get(str(submission.job_id))
        assert (job.state, job.stage, job.progress) == (JobState.SUCCEEDED, "done", 1.0)
    scanned = next(d for d in producer.catalog.documents("acme") if "scanned" in d.source_name)
    assert producer.catalog.chunk_count(document_id=scanned.id) > 0, "the OCR queue was not served"
    before = producer.catalog.chunk_count(collection="acme")

    # Re-index with larger chunks: a worker with the new settings fans the collection out.
    cluster.stop_workers()
    cluster.extra["SOURCEBOOK_CHUNK_TOKENS"] = "200"
    cluster.start_worker()
    first_jobs = {s.document_id: s.job_id for s in submissions}
    producer.executor.delegate_reindex("acme")

    def reindexed() -> bool:
        for doc_id, old_job in first_jobs.items():
            job = producer.jobs.latest(str(doc_id))
            if job is None or job.id == old_job or job.state is not JobState.SUCCEEDED:
                return False
        return True

    producer.wait_until(reindexed, 180, "the re-index", cluster)
    assert {d.status for d in producer.catalog.documents("acme")} == {DocumentStatus.READY}

    gone = str(submissions[0].document_id)
    producer.executor.delete(gone)
    producer.wait_until(lambda: producer.catalog.find_document(gone) is None, 60, "the delete", cluster)
    after = assert_one_copy_of_each_chunk(cluster, producer)  # also: no vectors of the deleted one
    assert len(files) - 1 < after < before


def test_kill_9_of_a_worker_mid_batch_loses_nothing_and_duplicates_nothing(
    cluster: Cluster, producer: Producer
) -> None:
    first = cluster.start_worker()
    producer.add("acme", [text_document(n) for n in range(50)])
    producer.wait_until(lambda: producer.ready("acme") >= 8, 120, "the first documents", cluster)
    cluster.kill_worker(first)
    done_before = producer.ready("acme")
    assert done_before < 50, "the batch finished before the worker could be killed"

    cluster.start_worker()
    producer.wait_until(lambda: producer.ready("acme") == 50, 150, "all 50 documents ready", cluster)
    docs = producer.catalog.documents("acme")
    assert {d.status for d in docs} == {DocumentStatus.READY}
    assert all(producer.catalog.chunk_count(document_id=d.id) >= 2 for d in docs)
    assert assert_one_copy_of_each_chunk(cluster, producer) == producer.catalog.chunk_count(collection="acme")


def test_a_redis_restart_mid_batch_loses_no_job(tmp_path: Path, database_url: str) -> None:
    redis = RedisServer(tmp_path / "redis")
    redis.start()
    cluster = Cluster(tmp_path / "home", database_url, redis.url)
    cluster.home.mkdir()
    producer = Producer.open(cluster.settings())
    try:
        producer.catalog.ensure_collection("acme")
        cluster.start_worker()
        producer.add("acme", [text_document(n) for n in range(30)])
        producer.wait_until(lambda: producer.ready("acme") >= 3, 120, "the first documents", cluster)
        redis.kill()
        assert producer.ready("acme") < 30, "the batch finished before Redis went down"
        redis.start()  # same port, same append-only file
        producer.wait_until(lambda: producer.ready("acme") == 30, 150, "all 30 documents ready", cluster)
        assert assert_one_copy_of_each_chunk(cluster, producer) == producer.catalog.chunk_count(
            collection="acme"
        )
    finally:
        cluster.stop_workers()
        producer.close()
        redis.kill()


def test_messages_the_broker_dropped_are_sent_again(cluster: Cluster, producer: Producer) -> None:
    """What a Redis that dies between a worker's BRPOP and its bookkeeping leaves: jobs queued in
    the catalog with no message anywhere. The workers' sweep finds and sends them again."""
    import redis

    producer.add("acme", [text_document(n, words=40) for n in range(6)])
    broker = redis.Redis.from_url(cluster.broker_url)
    dropped = [broker.rpop("light") for _ in range(2)]  # what the next two BRPOPs would have taken
    broker.close()
    assert all(dropped)

    cluster.start_worker()
    producer.wait_until(lambda: producer.ready("acme") == 6, 150, "all 6 documents ready", cluster)
    log = "".join(p.read_text(errors="replace") for p in cluster.home.glob("worker-*.log"))
    assert log.count("lost its message in the broker: queued again") == 2
    assert assert_one_copy_of_each_chunk(cluster, producer) == producer.catalog.chunk_count(collection="acme")


def test_a_crashing_or_hanging_parser_fails_its_document_alone(cluster: Cluster, producer: Producer) -> None:
    cluster.extra |= {"SOURCEBOOK_DOCUMENT_TIMEOUT_S": "3", "SOURCEBOOK_TASK_MAX_ATTEMPTS": "2"}
    cluster.start_worker("tests.integration.fault_worker")
    files = [
        ("crash.txt", b"CRASH this file takes its parser down\n"),
        ("hang.txt", b"HANG  this file ignores the soft time limit\n"),
        ("slow.txt", b"SLOW  this file sleeps past the soft time limit\n"),
        *[text_document(n, words=40) for n in range(4)],
    ]
    crash, hang, slow, *good = producer.add("acme", files)
    assert producer.executor.wait(timeout=180), cluster.logs()

    def outcome(submission: object) -> tuple[DocumentStatus, str | None]:
        doc = producer.catalog.get_document(submission.document_id)  # type: ignore[attr-defined]
        return doc.status, doc.failure_reason

    limit = (DocumentStatus.FAILED, "processing took longer than the 3 s limit per document")
    assert outcome(hang) == limit, cluster.logs()
    assert outcome(slow) == limit
    assert outcome(crash) == (
        DocumentStatus.FAILED,
        "processing stopped 2 times without finishing "
        "(the file may crash the parser, or need more memory than a worker has)",
    )
    assert producer.jobs.get(str(crash.job_id)).attempts == 2
    assert [outcome(s) for s in good] == [(DocumentStatus.READY, None)] * 4
    assert_one_copy_of_each_chunk(cluster, producer)


@pytest.mark.slow
def test_a_new_embedding_model_is_indexed_beside_the_old_one(cluster: Cluster, producer: Producer) -> None:
    from qdrant_client import QdrantClient

    cluster.start_worker()
    producer.add("acme", [text_document(n) for n in range(6)])
    assert producer.executor.wait(timeout=120), cluster.logs()
    old = producer.catalog.chunk_count(collection="acme")

    cluster.stop_workers()
    cluster.extra["SOURCEBOOK_EMBEDDER"] = "minilm"  # the workers move to the new model first
    cluster.start_worker()
    assert len(producer.intake.reindex("acme")) == 6
    assert producer.executor.wait(timeout=300), cluster.logs()
    cluster.stop_workers()

    client = QdrantClient(path=str(cluster.store_path))
    try:
        counts = {a.alias_name: client.count(a.alias_name).count for a in client.get_aliases().aliases}
    finally:
        client.close()
    new = producer.catalog.chunk_count(collection="acme")
    # The old index still serves the API (on the old model) until it switches; the new one is whole.
    assert counts == {"sourcebook-hashing": old, "sourcebook-minilm": new}
    assert {d.status for d in producer.catalog.documents("acme")} == {DocumentStatus.READY}
