"""Rate limits an operator sets for one user or team, in place of the settings' defaults.

A service account that many people's requests go through, a load test, a team with a bigger
contract: ``sourcebook keys limit --user bench --per-minute 0`` lifts one user's limit without
lifting everyone's. The table is small and read on every request, so it is kept in memory and
read again every ``refresh_s`` seconds (a change in another process takes effect within that).
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import Literal

from sqlalchemy import delete, select

from core.catalog.audit import AuditTrail
from core.catalog.database import Database
from core.catalog.models import RateLimitRow
from core.errors import InvalidInput

Kind = Literal["user", "team"]


class RateLimits:
    def __init__(self, db: Database, audit: AuditTrail, refresh_s: float = 10.0) -> None:
        self.db = db
        self.audit = audit
        self.refresh_s = refresh_s
        self._known: dict[tuple[str, str], int] = {}
        self._read_at = float("-inf")
        self._lock = threading.Lock()

    def per_minute(self, kind: str, name: str) -> int | None:
        """The operator's limit for this user or team (0: none), or None: the default applies."""
        if time.monotonic() - self._read_at > self.refresh_s:
            with self._lock, self.db.session() as s:
                self._known = {(r.kind, r.name): r.per_minute for r in s.scalars(select(RateLimitRow))}
                self._read_at = time.monotonic()
        return self._known.get((kind, name))

    def set(self, kind: Kind, name: str, per_minute: int | None, *, actor: str) -> None:
        """Set one user's or team's limit (0: none); None goes back to the default."""
        if kind not in ("user", "team"):
            raise InvalidInput(f"a rate limit is set for a user or a team, not a {kind!r}")
        if per_minute is not None and per_minute < 0:
            raise InvalidInput("a rate limit is 0 (none) or more requests")
        with self.db.session() as s:
            s.execute(delete(RateLimitRow).where(RateLimitRow.kind == kind, RateLimitRow.name == name))
            if per_minute is not None:
                s.add(
                    RateLimitRow(
                        kind=kind,
                        name=name,
                        per_minute=per_minute,
                        updated_by=actor,
                        updated_at=datetime.now(UTC),
                    )
                )
        self._read_at = float("-inf")
        self.audit.record(actor, "rate_limit.set", f"{kind}:{name}", detail={"per_minute": per_minute})
