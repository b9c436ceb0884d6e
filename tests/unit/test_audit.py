import io
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from core.catalog import Catalog
from core.catalog.audit import AuditTrail
from core.catalog.models import AuditRow


@pytest.fixture
def trail(catalog_url: str) -> Iterator[AuditTrail]:
    catalog = Catalog.connect(catalog_url)
    yield AuditTrail(catalog.db)
    catalog.close()


def test_an_untouched_chain_verifies(trail: AuditTrail) -> None:
    for n in range(5):
        trail.record("ana", "question", "acme-support", team="support", detail={"question": f"q{n}"})
    result = trail.verify()
    assert result.ok and result.checked == 5


def test_editing_an_entry_breaks_the_chain_there(trail: AuditTrail) -> None:
    for n in range(4):
        trail.record("ana", "question", detail={"question": f"q{n}"})
    with trail.db.session() as s:
        s.execute(update(AuditRow).where(AuditRow.seq == 3).values(detail={"question": "edited"}))
    assert trail.verify().broken_at == 3
    with trail.db.session() as s:  # forge the detail hash too: the entry hash gives it away
        s.execute(update(AuditRow).where(AuditRow.seq == 3).values(detail=None))
        s.execute(update(AuditRow).where(AuditRow.seq == 2).values(actor="mallory"))
    result = trail.verify()
    assert (result.ok, result.broken_at, result.reason) == (False, 2, "its fields were changed")


def test_deleting_an_entry_in_the_middle_is_detected(trail: AuditTrail) -> None:
    for _ in range(3):
        trail.record("ana", "upload")
    with trail.db.session() as s:
        s.query(AuditRow).filter(AuditRow.seq == 2).delete()
    assert trail.verify().reason == "entry 2 is missing"


def test_retention_purges_old_entries_and_the_rest_still_verifies(trail: AuditTrail) -> None:
    for n in range(3):
        trail.record("ana", "question", detail={"question": f"secret {n}"})
    cutoff = datetime.now(UTC) + timedelta(seconds=1)
    assert trail.purge(cutoff) == 3
    trail.record("ben", "question", detail={"question": "kept"})
    assert trail.verify().ok
    entries = list(trail.entries())
    assert [e.seq for e in entries] == [4]
    assert "secret" not in json.dumps([e.as_dict() for e in entries])


@pytest.mark.parametrize("shared", [True, False], ids=["one-trail", "one-trail-per-writer"])
def test_concurrent_writers_never_fork_the_chain(trail: AuditTrail, catalog_url: str, shared: bool) -> None:
    # A trail of its own per writer (own engine, own connections) stands for another process.
    errors: list[BaseException] = []

    def write(name: str) -> None:
        own = None if shared else Catalog.connect(catalog_url, migrate=False)
        writer = trail if own is None else AuditTrail(own.db)
        try:
            for _ in range(10):
                writer.record(name, "question")
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            if own is not None:
                own.close()

    threads = [threading.Thread(target=write, args=(f"user{n}",)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert trail.verify().checked == 40
    assert trail.verify().ok


def test_export_by_date_range_as_jsonl_and_csv(trail: AuditTrail) -> None:
    trail.record("ana", "upload", "manual.pdf", detail={"size": 10})
    out = io.StringIO()
    assert trail.export(out, fmt="jsonl", since=datetime.now(UTC) - timedelta(minutes=1)) == 1
    assert json.loads(out.getvalue())["target"] == "manual.pdf"
    assert trail.export(io.StringIO(), fmt="jsonl", until=datetime.now(UTC) - timedelta(minutes=1)) == 0
    table = io.StringIO()
    trail.export(table, fmt="csv")
    assert table.getvalue().splitlines()[0] == "seq,at,actor,team,action,target,detail,hash"
