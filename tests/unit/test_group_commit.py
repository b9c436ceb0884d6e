import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.catalog import Catalog
from core.catalog.audit import AuditTrail
from core.catalog.models import AuditRow, UsageRow


@pytest.fixture
def catalog(catalog_url: str) -> Iterator[Catalog]:
    catalog = Catalog.connect(catalog_url)
    yield catalog
    catalog.close()


def _concurrently(threads: int, work: object) -> list[BaseException]:
    errors: list[BaseException] = []
    start = threading.Barrier(threads)

    def run(n: int) -> None:
        start.wait()
        try:
            work(n)  # type: ignore[operator]
        except BaseException as exc:  # noqa: BLE001 - reported by the caller's assertion
            errors.append(exc)

    pool = [threading.Thread(target=run, args=(n,)) for n in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return errors


def test_concurrent_audit_appends_share_commits_and_keep_the_chain(catalog: Catalog) -> None:
    trail = AuditTrail(catalog.db)

    def ask(n: int) -> None:
        for i in range(20):
            entry = trail.record(f"user{n}", "question", detail={"i": i})
            with catalog.db.session() as s:  # returned only once durable: another session sees it
                assert s.get(AuditRow, entry.seq) is not None

    assert _concurrently(8, ask) == []
    verified = trail.verify()
    assert (verified.ok, verified.checked) == (True, 160)
    group = catalog.db.group
    assert group.writes == 160
    assert group.batches < group.writes  # concurrent requests shared transactions


def test_a_failing_write_fails_alone(catalog: Catalog) -> None:
    trail = AuditTrail(catalog.db)

    def write(n: int) -> None:
        if n == 3:

            def broken(s: Session) -> None:
                s.add(UsageRow(key="k", window_end=None, count=1))  # window_end is NOT NULL

            catalog.db.append(broken)
        else:
            trail.record(f"user{n}", "search")

    errors = _concurrently(6, write)
    assert len(errors) == 1
    assert trail.verify().checked == 5
    with catalog.db.session() as s:
        assert s.scalar(select(func.count()).select_from(UsageRow)) == 0


def test_writes_after_close_still_commit(catalog_url: str) -> None:
    catalog = Catalog.connect(catalog_url)
    trail = AuditTrail(catalog.db)
    trail.record("ana", "upload")
    catalog.db.group.close()
    trail.record("ana", "upload")  # runs in the caller's thread now
    assert trail.verify().checked == 2
    catalog.close()
