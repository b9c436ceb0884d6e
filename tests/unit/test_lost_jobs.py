"""The sweep for ingestions whose message the broker lost: which jobs it looks at, and that it sends
again exactly the ones no message carries (real Redis, database 9, and a real SQLite catalog)."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from core.catalog import Catalog, Jobs
from core.catalog.jobs import StalledJob
from core.domain import Document, DocumentStatus, JobState
from workers.recovery import LOCK_KEY, LostJobSweep, lost, queue_keys, task_id_of

BROKER = "redis://127.0.0.1:6379/9"


@pytest.fixture
def redis() -> Iterator[object]:
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=1).close()
    except OSError:
        pytest.skip("Redis is not reachable on 127.0.0.1:6379")
    import redis as redis_py

    client = redis_py.Redis.from_url(BROKER)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


@pytest.fixture
def catalog(tmp_path: Path) -> Iterator[Catalog]:
    opened = Catalog.connect(f"sqlite:///{tmp_path / 'c.db'}")
    opened.ensure_collection("acme")
    yield opened
    opened.close()


def message(task_id: str) -> str:
    """A kombu message as Celery's protocol 2 writes it (the parts the sweep reads)."""
    return json.dumps({"body": "W10=", "headers": {"id": task_id, "task": "sourcebook.ingest_document"}})


def job(
    catalog: Catalog, name: str, status: DocumentStatus, *, stage: str | None = None, age_s: int = 120
) -> str:
    doc = Document(f"doc-{name}", "acme", f"{name}.txt", "text/plain", name * 8, 10, status)
    catalog.add_document(doc)
    jobs = Jobs(catalog.db)
    job_id = jobs.create("acme", doc.source_name)
    jobs.update(job_id, document_id=doc.id, **({"stage": stage} if stage else {}))
    backdate(catalog, job_id, age_s)
    return job_id


def backdate(catalog: Catalog, job_id: str, age_s: int) -> None:
    from sqlalchemy import update

    from core.catalog.models import JobRow

    with catalog.db.session() as s:
        s.execute(
            update(JobRow)
            .where(JobRow.id == job_id)
            .values(updated_at=datetime.now(UTC) - timedelta(seconds=age_s))
        )


def test_a_message_names_its_task_whether_queued_or_unacknowledged() -> None:
    assert task_id_of(message("j1")) == "j1"
    assert task_id_of(json.dumps([json.loads(message("j2")), "", "light"])) == "j2"
    assert task_id_of(b"not json") is None
    assert task_id_of(json.dumps({"headers": {}})) is None
    assert queue_keys(["light"]) == ["light", "light\x06\x163", "light\x06\x166", "light\x06\x169"]


def test_stalled_jobs_are_the_unfinished_untouched_ingestions_and_re_indexings(catalog: Catalog) -> None:
    queued = job(catalog, "a", DocumentStatus.QUEUED)
    processing = job(catalog, "b", DocumentStatus.PROCESSING)
    reindexing = job(catalog, "c", DocumentStatus.READY, stage="re-indexing")
    job(catalog, "d", DocumentStatus.READY, stage="rebuilding")  # a rebuild's: never on the queue
    job(catalog, "e", DocumentStatus.QUEUED, age_s=5)  # touched recently
    done = job(catalog, "f", DocumentStatus.QUEUED)
    Jobs(catalog.db).update(done, state=JobState.SUCCEEDED)
    backdate(catalog, done, 120)

    stalled = Jobs(catalog.db).stalled(datetime.now(UTC) - timedelta(seconds=60))

    assert {j.job_id for j in stalled} == {queued, processing, reindexing}
    assert {j.media_type for j in stalled} == {"text/plain"}


def test_only_jobs_no_message_carries_are_sent_again(catalog: Catalog, redis: object) -> None:
    in_queue = job(catalog, "a", DocumentStatus.QUEUED)
    unacked = job(catalog, "b", DocumentStatus.PROCESSING)
    on_priority = job(catalog, "c", DocumentStatus.QUEUED)
    gone = job(catalog, "d", DocumentStatus.QUEUED)
    redis.lpush("light", message(in_queue), message("someone-else"))  # type: ignore[attr-defined]
    redis.lpush("ocr\x06\x163", message(on_priority))  # type: ignore[attr-defined]
    redis.hset("unacked", "tag-1", json.dumps([json.loads(message(unacked)), "", "light"]))  # type: ignore[attr-defined]
    sent: list[StalledJob] = []

    sweep = LostJobSweep(Jobs(catalog.db), redis, sent.append, visibility_timeout_s=60)

    assert sweep() == 1
    assert [j.job_id for j in sent] == [gone]
    assert sweep() == 0, "a second worker within the same period leaves it to the first"
    redis.delete(LOCK_KEY)  # type: ignore[attr-defined]
    redis.lpush("light", message(gone))  # type: ignore[attr-defined]
    assert sweep() == 0, "once sent again, its message is found"


def test_pages_of_the_queue_are_read_until_every_candidate_is_found(catalog: Catalog, redis: object) -> None:
    candidates = [StalledJob(f"j{n}", f"d{n}", "text/plain") for n in range(3)]
    redis.rpush("light", *[message(f"other-{n}") for n in range(1200)], message("j1"))  # type: ignore[attr-defined]
    redis.rpush("ocr", message("j0"))  # type: ignore[attr-defined]

    assert [j.job_id for j in lost(candidates, redis)] == ["j2"]
