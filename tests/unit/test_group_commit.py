import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
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


def _usage(key: str, count: int = 1) -> Callable[[Session], None]:
    return lambda s: s.add(UsageRow(key=key, window_end=datetime(2030, 1, 1, tzinfo=UTC), count=count))


def _keys(catalog: Catalog) -> list[str]:
    with catalog.db.session() as s:
        return sorted(s.scalars(select(UsageRow.key)))


def test_writes_held_together_commit_as_one_write_with_the_next(catalog: Catalog) -> None:
    trail, group = AuditTrail(catalog.db), catalog.db.group
    before = group.writes
    with catalog.db.together():
        catalog.db.append_later(_usage("credits"))
        catalog.db.append_later(_usage("answer"))
        assert _keys(catalog) == []  # held, not written yet
        entry = trail.record("ana", "question")  # the write they join, and its own result
        assert _keys(catalog) == ["answer", "credits"]
        catalog.db.append_later(_usage("after"))
    assert group.writes - before == 2  # the three with the entry, then the one left at the end
    assert _keys(catalog) == ["after", "answer", "credits"]
    assert (entry.seq, trail.verify().ok) == (1, True)


def test_a_block_inside_another_joins_it_and_outside_one_nothing_waits(catalog: Catalog) -> None:
    group = catalog.db.group
    before = group.writes
    with catalog.db.together():
        catalog.db.append_later(_usage("outer"))
        with catalog.db.together():
            catalog.db.append_later(_usage("inner"))
        assert _keys(catalog) == []  # the inner block's end wrote nothing: the outer one's will
    assert (group.writes - before, _keys(catalog)) == (1, ["inner", "outer"])
    catalog.db.append_later(_usage("alone"))  # no block: written at once
    assert "alone" in _keys(catalog)


def test_held_writes_survive_a_failed_write_and_go_with_the_next(catalog: Catalog) -> None:
    def broken(s: Session) -> None:
        s.add(UsageRow(key="broken", window_end=None, count=1))  # window_end is NOT NULL

    with catalog.db.together():
        catalog.db.append_later(_usage("credits"))
        with pytest.raises(IntegrityError):
            catalog.db.append(broken)
        assert _keys(catalog) == []  # rolled back with the broken write
    assert _keys(catalog) == ["credits"]  # not lost: written when the block ended
