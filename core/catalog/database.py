"""The catalog database: its engine, its sessions and its migrations (SQLite or PostgreSQL).

The composition root opens one ``Database`` and hands it to every repository (``Catalog`` for
collections, documents and chunks, ``Jobs``, ``AuditTrail``, ``KeyRing``, ``TemplateStore``,
``AnswerLog``, ``FeedbackLog``, ``ReviewQueue``, ``Overrides``, ``GoldenSets``).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from core.catalog.group_commit import GroupCommit
from core.errors import BackendUnavailable

T = TypeVar("T")
Work = Callable[[Session], Any]

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def create_catalog_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.removeprefix("sqlite:///") if url.startswith("sqlite:///") else ""
        if path and path != ":memory:":
            Path(path).parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            # It holds every team's text: 0600 from the start (SQLite gives its WAL and shared-memory
            # files the database file's mode), not SQLite's 0644 less whatever the umask takes.
            os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
        engine = create_engine(url, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True)


class Database:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self.group = GroupCommit(self._sessions)
        self._local = threading.local()  # a thread's appends held for its next write (``together``)

    @classmethod
    def connect(cls, url: str, *, migrate: bool = True) -> Database:
        db = cls(create_catalog_engine(url))
        if migrate:
            db.migrate()
        return db

    def migrate(self) -> None:
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        try:
            with self.engine.begin() as connection:
                config.attributes["connection"] = connection
                command.upgrade(config, "heads")  # branches made side by side all apply
        except OperationalError as exc:
            raise BackendUnavailable(f"catalog database unreachable: {exc.orig}") from exc

    def append(self, work: Callable[[Session], T]) -> T:
        """Run a small write on the request path in a transaction shared with the writes of
        concurrent requests (``GroupCommit``); its result once that transaction has committed.
        Inside ``together``, the appends this thread held back go in the same write, first."""
        held: list[Work] | None = getattr(self._local, "held", None)
        if not held:
            return self.group.submit(work)
        self._local.held = []
        try:
            results = self.group.submit(lambda s: [each(s) for each in (*held, work)])
        except BaseException:
            self._local.held = held  # not written: they go with this thread's next write
            raise
        result: T = results[-1]
        return result

    def append_later(self, work: Work) -> None:
        """``append`` for a write whose result nobody reads: inside ``together`` it waits for
        this thread's next ``append`` or the block's end, and commits with it; outside, at once."""
        held: list[Work] | None = getattr(self._local, "held", None)
        if held is None:
            self.group.submit(work)
        else:
            held.append(work)

    @contextmanager
    def together(self) -> Iterator[None]:
        """The appends of this thread inside the block share one write and one wait for its
        commit (an answer's credits, its row and its audit entry), not one each: under load,
        each wait is a round trip to the writer thread through a busy interpreter. The block
        ends once they have committed; a block inside another joins the outer one."""
        if getattr(self._local, "held", None) is not None:
            yield
            return
        self._local.held = []
        try:
            yield
        finally:
            held, self._local.held = self._local.held, None
            if held:  # even when the block raised: what it appended was done
                self.group.submit(lambda s: [each(s) for each in held])

    def close(self) -> None:
        self.group.close()
        self.engine.dispose()

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One transaction: committed when the block ends, rolled back if it raises."""
        try:
            with self._sessions.begin() as session:
                yield session
        except OperationalError as exc:
            raise BackendUnavailable(f"catalog database unreachable: {exc.orig}") from exc
