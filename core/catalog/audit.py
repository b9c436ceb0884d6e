"""The audit trail: an append-only, hash-chained record of who did what.

Every entry stores the hash of the entry before it, and its own hash covers its number, time,
actor, action, target, the hash of its detail and that previous hash. Editing, inserting or
deleting an entry in the middle breaks the chain at that point, and ``verify`` names it.

Appends take the next number explicitly: two writers racing for the same number cannot both
commit (primary key), so the chain never forks; the loser re-reads the head and tries again.
Appends from concurrent requests share one transaction (``Database.append``, a group commit):
the request returns once its entry is committed, so a crash never loses an answered request's
entry, and reads no longer queue behind one commit per request.

Retention deletes whole entries older than a cutoff and keeps the hash of the last one deleted
as the anchor the remaining chain starts from, so what remains still verifies.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TextIO

from sqlalchemy import delete, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.catalog.database import Database
from core.catalog.models import AuditAnchorRow, AuditRow

GENESIS = "0" * 64
_APPEND_ATTEMPTS = 20
# PostgreSQL advisory lock that serialises appends across processes (any constant of our own).
_APPEND_LOCK_KEY = 0x50B0_A0D1


@dataclass(frozen=True, slots=True)
class AuditEntry:
    seq: int
    at: datetime
    actor: str
    team: str | None
    action: str
    target: str
    detail: dict[str, Any] | None
    hash: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "at": self.at.isoformat(),
            "actor": self.actor,
            "team": self.team,
            "action": self.action,
            "target": self.target,
            "detail": self.detail,
            "hash": self.hash,
        }


@dataclass(frozen=True, slots=True)
class Verification:
    ok: bool
    checked: int
    broken_at: int | None = None
    reason: str = ""


def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode()


def _utc(at: datetime) -> datetime:
    """SQLite hands timestamps back without their zone; they were written in UTC."""
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def _entry_hash(
    seq: int,
    at: datetime,
    actor: str,
    team: str | None,
    action: str,
    target: str,
    detail_hash: str,
    prev: str,
) -> str:
    fields = {
        "seq": seq,
        "at": _utc(at).isoformat(timespec="microseconds"),
        "actor": actor,
        "team": team,
        "action": action,
        "target": target,
        "detail_hash": detail_hash,
        "prev_hash": prev,
    }
    return hashlib.sha256(_canonical(fields)).hexdigest()


def _entry(row: AuditRow) -> AuditEntry:
    return AuditEntry(
        row.seq, _utc(row.at), row.actor, row.team, row.action, row.target, row.detail, row.hash
    )


class AuditTrail:
    def __init__(self, db: Database) -> None:
        self.db = db
        # Appends read the head and write after it: one at a time in this process (the group
        # commit's one writer thread, in order, so a batch chains its entries one after another),
        # on PostgreSQL one at a time across processes too; the retry covers other SQLite writers.
        self._advisory = db.engine.dialect.name == "postgresql"

    def record(
        self,
        actor: str,
        action: str,
        target: str = "",
        *,
        team: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> AuditEntry:
        detail = json.loads(_canonical(detail or {}))  # what the database will hand back
        detail_hash = hashlib.sha256(_canonical(detail)).hexdigest()

        def append(s: Session) -> AuditEntry:
            if self._advisory:
                s.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _APPEND_LOCK_KEY})
            # The head's number and hash only: loading the row would parse its detail's JSON.
            head = s.execute(
                select(AuditRow.seq, AuditRow.hash).order_by(AuditRow.seq.desc()).limit(1)
            ).first()
            if head is None:
                anchor = s.get(AuditAnchorRow, 1)
                seq, prev = (anchor.seq + 1, anchor.hash) if anchor else (1, GENESIS)
            else:
                seq, prev = head.seq + 1, head.hash
            at = datetime.now(UTC)
            digest = _entry_hash(seq, at, actor, team, action, target, detail_hash, prev)
            row = AuditRow(
                seq=seq,
                at=at,
                actor=actor,
                team=team,
                action=action,
                target=target[:512],
                detail=detail,
                detail_hash=detail_hash,
                prev_hash=prev,
                hash=digest,
            )
            s.add(row)
            s.flush()
            return _entry(row)

        for _ in range(_APPEND_ATTEMPTS):
            try:
                return self.db.append(append)
            except IntegrityError:
                continue  # another process took this number: append after it
        raise RuntimeError("could not append to the audit trail: too many concurrent writers")

    def entries(
        self, *, since: datetime | None = None, until: datetime | None = None, action: str | None = None
    ) -> Iterator[AuditEntry]:
        query = select(AuditRow).order_by(AuditRow.seq)
        if since is not None:
            query = query.where(AuditRow.at >= since)
        if until is not None:
            query = query.where(AuditRow.at < until)
        if action is not None:
            query = query.where(AuditRow.action == action)
        with self.db.session() as s:
            rows = s.scalars(query.execution_options(yield_per=500))
            try:
                for row in rows:
                    yield _entry(row)
            finally:
                rows.close()

    def verify(self) -> Verification:
        checked = 0
        with self.db.session() as s:
            anchor = s.get(AuditAnchorRow, 1)
            seq, prev = (anchor.seq, anchor.hash) if anchor else (0, GENESIS)
            rows = s.scalars(select(AuditRow).order_by(AuditRow.seq).execution_options(yield_per=500))
            try:
                for row in rows:
                    checked += 1
                    if row.seq != seq + 1:
                        return Verification(False, checked, row.seq, f"entry {seq + 1} is missing")
                    if row.prev_hash != prev:
                        return Verification(False, checked, row.seq, "it does not follow the entry before it")
                    if (
                        row.detail is not None
                        and hashlib.sha256(_canonical(row.detail)).hexdigest() != row.detail_hash
                    ):
                        return Verification(False, checked, row.seq, "its detail was changed")
                    expected = _entry_hash(
                        row.seq, row.at, row.actor, row.team, row.action, row.target, row.detail_hash, prev
                    )
                    if row.hash != expected:
                        return Verification(False, checked, row.seq, "its fields were changed")
                    seq, prev = row.seq, row.hash
            finally:
                rows.close()  # a server-side cursor on PostgreSQL
        return Verification(True, checked)

    def purge(self, before: datetime) -> int:
        """Delete the entries older than ``before``; the chain then starts at the last one deleted."""
        with self.db.session() as s:
            last = s.scalars(
                select(AuditRow).where(AuditRow.at < before).order_by(AuditRow.seq.desc()).limit(1)
            ).first()
            if last is None:
                return 0
            anchor = s.get(AuditAnchorRow, 1)
            if anchor is None:
                s.add(AuditAnchorRow(id=1, seq=last.seq, hash=last.hash))
            else:
                anchor.seq, anchor.hash = last.seq, last.hash
            result = s.execute(delete(AuditRow).where(AuditRow.seq <= last.seq))
            return int(getattr(result, "rowcount", 0) or 0)

    def export(
        self, out: TextIO, *, fmt: str = "jsonl", since: datetime | None = None, until: datetime | None = None
    ) -> int:
        count = 0
        if fmt == "csv":
            writer = csv.writer(out)
            writer.writerow(["seq", "at", "actor", "team", "action", "target", "detail", "hash"])
            for entry in self.entries(since=since, until=until):
                row = entry.as_dict()
                row["detail"] = json.dumps(row["detail"], ensure_ascii=False)
                writer.writerow(row.values())
                count += 1
        elif fmt == "jsonl":
            for entry in self.entries(since=since, until=until):
                out.write(json.dumps(entry.as_dict(), ensure_ascii=False) + "\n")
                count += 1
        else:
            raise ValueError(f"unknown export format {fmt!r}: use jsonl or csv")
        return count
