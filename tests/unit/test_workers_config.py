"""The Celery setup as configured from settings, and the topologies settings refuse."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from pydantic import ValidationError

from core.errors import BackendUnavailable
from core.settings import Settings
from workers.app import LIGHT_QUEUE, OCR_QUEUE, QUALITY_RUN, create_celery, queue_for

PG = "postgresql+psycopg://postgres@127.0.0.1:5432/sb_workers_unused"
CLUSTER = {
    "executor": "celery",
    "vector_store": "server",
    "qdrant_url": "http://qdrant:6333",
    "broker_url": "redis://127.0.0.1:6379/8",
    "database_url": PG,
}


def cluster_settings(tmp_path: Path, **changes: object) -> Settings:
    return Settings(home=tmp_path, **(CLUSTER | changes))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"vector_store": "edge"},
            "executor=celery needs vector_store=server: an embedded Qdrant has one owner",
        ),
        ({"qdrant_url": "/var/qdrant"}, "a local Qdrant path can be opened by one process only"),
        ({"broker_url": None}, "executor=celery needs SOURCEBOOK_BROKER_URL"),
        ({"database_url": None}, "executor=celery needs SOURCEBOOK_DATABASE_URL on a database server"),
        ({"database_url": "sqlite:////tmp/c.db"}, "executor=celery needs SOURCEBOOK_DATABASE_URL"),
        (
            {"visibility_timeout_s": 600, "document_timeout_s": 600},
            "visibility_timeout_s must be longer than a task may run (605 s)",
        ),
    ],
)
def test_settings_refuse_celery_without_a_shared_store_catalog_and_broker(
    tmp_path: Path, changes: dict[str, object], message: str
) -> None:
    with pytest.raises(ValidationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        cluster_settings(tmp_path, **changes)


def test_one_worker_may_own_a_local_store_when_told_so(tmp_path: Path) -> None:
    settings = cluster_settings(tmp_path, qdrant_url=str(tmp_path / "q"), embedded_store_owner=True)
    assert settings.executor == "celery"


def test_ocr_heavy_documents_and_light_ones_go_to_separate_queues() -> None:
    assert queue_for("application/pdf") == OCR_QUEUE
    assert queue_for("image/png") == OCR_QUEUE
    for light in ("text/plain", "text/markdown", "application/vnd.ms-excel", "message/rfc822"):
        assert queue_for(light) == LIGHT_QUEUE


def test_the_app_acks_late_limits_time_and_memory(tmp_path: Path) -> None:
    conf = create_celery(
        cluster_settings(
            tmp_path, document_timeout_s=120, worker_max_memory_mb=1500, visibility_timeout_s=900
        )
    ).conf
    assert conf.task_acks_late and conf.task_reject_on_worker_lost
    assert conf.worker_prefetch_multiplier == 1
    assert (conf.task_soft_time_limit, conf.task_time_limit) == (120, 125)
    assert conf.worker_max_memory_per_child == 1500 * 1024
    assert conf.broker_transport_options["visibility_timeout"] == 900


def test_beat_sends_the_quality_run_only_when_a_schedule_is_set(tmp_path: Path) -> None:
    scheduled = create_celery(cluster_settings(tmp_path, quality_interval_s=3600)).conf.beat_schedule
    assert scheduled == {
        "quality": {"task": QUALITY_RUN, "schedule": 3600.0, "options": {"queue": LIGHT_QUEUE}}
    }
    assert not create_celery(cluster_settings(tmp_path)).conf.beat_schedule


def _redis(db: int) -> object:
    import redis

    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=1).close()
    except OSError:
        pytest.skip("Redis is not reachable on 127.0.0.1:6379")
    client = redis.Redis(db=db)
    client.flushdb()
    return client


@pytest.mark.integration
def test_the_executor_queues_ids_only_on_the_queue_the_media_type_needs(tmp_path: Path) -> None:
    from core.catalog import Catalog, Jobs
    from ingest.parse import ParseLimits
    from ingest.pipeline import IngestTask
    from workers.executor import CeleryExecutor

    client = _redis(8)
    catalog = Catalog.connect(f"sqlite:///{tmp_path / 'c.db'}")
    executor = CeleryExecutor(cluster_settings(tmp_path), catalog, Jobs(catalog.db))
    try:
        for job, media_type in (("j1", "application/pdf"), ("j2", "text/plain")):
            task = IngestTask(
                job, f"doc-{job}", "acme", "a", media_type, "/x", "hashing", ParseLimits(10**8, 100), 64, 8
            )
            executor.submit(task)
        [on_ocr] = client.lrange(OCR_QUEUE, 0, -1)  # type: ignore[attr-defined]
        [on_light] = client.lrange(LIGHT_QUEUE, 0, -1)  # type: ignore[attr-defined]
        message = json.loads(on_ocr)
        assert message["headers"]["task"] == "sourcebook.ingest_document"
        assert message["headers"]["argsrepr"] == "['j1', 'doc-j1']"
        assert json.loads(on_light)["headers"]["argsrepr"] == "['j2', 'doc-j2']"
    finally:
        executor.shutdown()
        catalog.close()
        client.flushdb()  # type: ignore[attr-defined]


def test_an_unreachable_broker_is_a_backend_error_with_its_reason(tmp_path: Path) -> None:
    from core.catalog import Catalog, Jobs
    from workers.executor import CeleryExecutor

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    catalog = Catalog.connect(f"sqlite:///{tmp_path / 'c.db'}")
    executor = CeleryExecutor(
        cluster_settings(tmp_path, broker_url=f"redis://127.0.0.1:{port}/0"), catalog, Jobs(catalog.db)
    )
    try:
        with pytest.raises(BackendUnavailable, match="the task queue is unreachable"):
            executor.delegate_reindex("acme")
    finally:
        executor.shutdown()
        catalog.close()
