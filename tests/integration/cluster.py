"""A small cluster for tests and the bench: real ``celery worker`` processes, Redis, PostgreSQL.

The workers write to a qdrant-client local store (the server adapter's API without a server) that
one worker process at a time holds open; the test opens it only after the workers have stopped.
"""

from __future__ import annotations

import io
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from core.catalog import Catalog, Jobs
from core.domain import DocumentStatus
from core.settings import Settings
from ingest.blobs import BlobStore
from ingest.intake import Intake, Submission
from workers.executor import CeleryExecutor

ROOT = Path(__file__).resolve().parents[2]
POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/"


@contextmanager
def postgres_database(prefix: str = "sb_workers") -> Iterator[str]:
    from sqlalchemy import create_engine, text

    admin = create_engine(POSTGRES + "postgres", isolation_level="AUTOCOMMIT")
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield POSTGRES + name
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class RedisServer:
    """A private redis-server that keeps its data across a restart (append-only, fsync always)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        folder.mkdir(parents=True, exist_ok=True)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        command = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.folder)]
        command += ["--appendonly", "yes", "--appendfsync", "always", "--save", ""]
        with (self.folder / "redis.log").open("ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("redis-server did not start")

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(10)
            self.process = None


@dataclass
class Cluster:
    """Settings shared by this process (the producer) and the workers it starts."""

    home: Path
    database_url: str
    broker_url: str
    extra: dict[str, str] = field(default_factory=dict)
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    _started: int = 0

    @property
    def store_path(self) -> Path:
        return self.home / "qdrant-local"

    def env(self) -> dict[str, str]:
        values = {
            "SOURCEBOOK_HOME": str(self.home),
            "SOURCEBOOK_DATABASE_URL": self.database_url,
            "SOURCEBOOK_VECTOR_STORE": "server",
            "SOURCEBOOK_QDRANT_URL": str(self.store_path),
            "SOURCEBOOK_EMBEDDED_STORE_OWNER": "true",
            "SOURCEBOOK_EXECUTOR": "celery",
            "SOURCEBOOK_BROKER_URL": self.broker_url,
            "SOURCEBOOK_EMBEDDER": "hashing",
            "SOURCEBOOK_CHUNK_TOKENS": "64",
            "SOURCEBOOK_CHUNK_OVERLAP": "8",
            "SOURCEBOOK_DOCUMENT_TIMEOUT_S": "8",
            "SOURCEBOOK_VISIBILITY_TIMEOUT_S": "15",
        }
        return values | self.extra

    def settings(self) -> Settings:
        return Settings(**{k.removeprefix("SOURCEBOOK_").lower(): v for k, v in self.env().items()})  # type: ignore[arg-type]

    def start_worker(self, app: str = "sourcebook.worker", concurrency: int = 1) -> subprocess.Popen[bytes]:
        self._started += 1
        env = os.environ | self.env() | {"PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "DO_NOT_TRACK": "1"}
        command = [
            str(Path(sys.executable).parent / "celery"),
            "-A",
            app,
            "worker",
            "-Q",
            "light,ocr",
            "--concurrency",
            str(concurrency),
            "-n",
            f"w{self._started}-{uuid.uuid4().hex[:6]}@%h",
            "--without-gossip",
            "--without-mingle",
            "--loglevel",
            "INFO",
        ]
        with (self.home / f"worker-{self._started}.log").open("ab") as log:
            process = subprocess.Popen(
                command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.workers.append(process)
        return process

    def kill_worker(self, process: subprocess.Popen[bytes]) -> None:
        """``kill -9`` the worker and its children (its process group), as a crashed host would."""
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)

    def stop_workers(self) -> None:
        for process in self.workers:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)  # warm shutdown: finish the current task
        for process in self.workers:
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)
        self.workers.clear()

    def logs(self) -> str:
        return "\n".join(
            p.read_text(errors="replace")[-4000:] for p in sorted(self.home.glob("worker-*.log"))
        )


@dataclass
class Producer:
    """What the API does in the cluster setup: store originals, write rows, queue ids."""

    settings: Settings
    catalog: Catalog
    jobs: Jobs
    blobs: BlobStore
    executor: CeleryExecutor
    intake: Intake

    @classmethod
    def open(cls, settings: Settings) -> Producer:
        catalog = Catalog.connect(settings.catalog_url)
        blobs = BlobStore(settings.blob_dir)
        jobs = Jobs(catalog.db)
        executor = CeleryExecutor(settings, catalog, jobs)
        return cls(settings, catalog, jobs, blobs, executor, Intake(settings, catalog, jobs, blobs, executor))

    def add(self, collection: str, files: list[tuple[str, bytes]]) -> list[Submission]:
        return [self.intake.add(collection, name, io.BytesIO(data)) for name, data in files]

    def ready(self, collection: str) -> int:
        return sum(d.status is DocumentStatus.READY for d in self.catalog.documents(collection))

    def wait_until(self, predicate: object, timeout: float, what: str, cluster: Cluster) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():  # type: ignore[operator]
                return
            time.sleep(0.25)
        raise AssertionError(f"timed out waiting for {what}\n{cluster.logs()}")

    def close(self) -> None:
        self.executor.shutdown()
        self.catalog.close()


WORDS = [
    "router",
    "firmware",
    "update",
    "restores",
    "the",
    "wireless",
    "link",
    "after",
    "a",
    "reboot",
    "and",
    "keeps",
    "the",
    "saved",
    "profiles",
    "while",
    "the",
    "status",
    "light",
    "blinks",
    "amber",
    "during",
    "the",
    "download",
    "of",
    "the",
    "new",
    "image",
]


def text_document(n: int, words: int = 150) -> tuple[str, bytes]:
    """A distinct plain-text document of a few chunks."""
    body = " ".join(f"{WORDS[(n * 7 + i) % len(WORDS)]}{'.' if i % 12 == 11 else ''}" for i in range(words))
    return f"note-{n:03d}.txt", f"Note {n}: unit S-{n:04d}.\n\n{body}\n".encode()
