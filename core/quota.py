"""Request rate limits and monthly credit budgets, per user and per team.

A request counts against a per-minute window of its user and of each of its teams; an answer
then spends credits (generator tokens with an LLM, one per answer otherwise) from monthly
budgets. Over a limit, ``QuotaExceeded`` carries the seconds until the window resets, which the
API returns as ``Retry-After``. Counters live in Redis in the cluster (shared by every API
replica) and in the catalog on a single node. A limit of 0 means none.
"""

from __future__ import annotations

import calendar
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from core.access import Principal
from core.catalog.database import Database
from core.catalog.models import UsageRow
from core.errors import QuotaExceeded


class Counters(Protocol):
    def add(self, keys: Sequence[str], amount: int, window_end: float) -> list[int]:
        """Add ``amount`` to the counters of one window (which ends at unix time ``window_end``),
        in one write: their new totals, in the order of ``keys``."""
        ...

    def add_later(self, keys: Sequence[str], amount: int, window_end: float) -> None:
        """``add`` when no total is read: the catalog's counters join the caller's next write
        (``Database.together``)."""
        ...

    def get(self, key: str) -> int: ...


class RedisCounters:
    def __init__(self, client: Any) -> None:
        self.client = client

    def add(self, keys: Sequence[str], amount: int, window_end: float) -> list[int]:
        pipe = self.client.pipeline()
        for key in keys:
            pipe.incrby(key, amount)
            pipe.expireat(key, int(window_end) + 1)
        done = pipe.execute() if keys else []
        return [int(total) for total in done[::2]]

    def add_later(self, keys: Sequence[str], amount: int, window_end: float) -> None:
        self.add(keys, amount, window_end)

    def get(self, key: str) -> int:
        return int(self.client.get(key) or 0)


class SqlCounters:
    """Counters in the catalog: one row per key and window, expired rows swept now and then.

    Adding is one atomic upsert (``INSERT … ON CONFLICT DO UPDATE … RETURNING``), so requests that
    open a new window together never insert the same row twice.
    """

    def __init__(self, db: Database) -> None:
        self.db = db
        self._insert = postgresql.insert if db.engine.dialect.name == "postgresql" else sqlite.insert
        self._adds = 0

    def add(self, keys: Sequence[str], amount: int, window_end: float) -> list[int]:
        if not keys:
            return []
        # One transaction for these counters, committed with those of concurrent requests.
        totals = self.db.append(self._upserts(keys, amount, window_end))
        self._swept_now_and_then()
        return totals

    def add_later(self, keys: Sequence[str], amount: int, window_end: float) -> None:
        if keys:
            self.db.append_later(self._upserts(keys, amount, window_end))
            self._swept_now_and_then()

    def _upserts(self, keys: Sequence[str], amount: int, window_end: float) -> Callable[[Session], list[int]]:
        ends = datetime.fromtimestamp(window_end, UTC)
        upserts = []
        for key in keys:
            insert = self._insert(UsageRow).values(key=key, window_end=ends, count=amount)
            upserts.append(
                insert.on_conflict_do_update(
                    index_elements=[UsageRow.key], set_={"count": UsageRow.count + insert.excluded.count}
                ).returning(UsageRow.count)
            )

        def add(s: Session) -> list[int]:
            return [int(s.execute(upsert).scalar_one()) for upsert in upserts]

        return add

    def _swept_now_and_then(self) -> None:
        self._adds += 1
        if self._adds % 500 == 0:
            self.sweep()

    def get(self, key: str) -> int:
        with self.db.session() as s:
            return int(s.scalar(select(UsageRow.count).where(UsageRow.key == key)) or 0)

    def sweep(self) -> None:
        with self.db.session() as s:
            s.execute(delete(UsageRow).where(UsageRow.window_end < datetime.now(UTC)))


@dataclass(frozen=True, slots=True)
class Limits:
    user_per_minute: int = 0
    team_per_minute: int = 0
    user_monthly_credits: int = 0
    team_monthly_credits: int = 0
    window_s: int = 60  # the rate limits count requests per window of this length


def _month(now: float) -> tuple[str, float]:
    """This month's key (``2026-11``) and the unix time it ends."""
    day = datetime.fromtimestamp(now, UTC)
    last = calendar.monthrange(day.year, day.month)[1]
    end = datetime(day.year, day.month, last, tzinfo=UTC) + timedelta(days=1)
    return f"{day:%Y-%m}", end.timestamp()


class Overrides(Protocol):
    def per_minute(self, kind: str, name: str) -> int | None:
        """An operator's rate limit for this user or team (0: none); None: the default applies."""
        ...


class Quotas:
    def __init__(
        self,
        counters: Counters,
        limits: Limits,
        clock: Any = time.time,
        overrides: Overrides | None = None,
    ) -> None:
        self.counters = counters
        self.limits = limits
        self.clock = clock
        self.overrides = overrides

    def rate_limit(self, kind: str, name: str) -> int:
        """The requests a window allowed to this user or team: the operator's, else the default."""
        own = self.overrides.per_minute(kind, name) if self.overrides is not None else None
        if own is not None:
            return own
        return self.limits.user_per_minute if kind == "user" else self.limits.team_per_minute

    def admit(self, principal: Principal) -> None:
        """Count one request; refuse it when the user or a team is over its rate or its budget."""
        now = self.clock()
        span = self.limits.window_s
        window = int(now // span)
        window_end = (window + 1) * span
        retry = max(1, math.ceil(window_end - now))
        per = "a minute" if span == 60 else f"per {span} s"
        subjects = [("user", principal.user, self.rate_limit("user", principal.user))]
        subjects += [("team", team, self.rate_limit("team", team)) for team in principal.teams]
        limited = [(kind, name, limit) for kind, name, limit in subjects if limit]
        # Every limited counter in one write: a request the user's limit refuses still counts
        # against its teams' windows, as one the team's limit refuses counts against the user's.
        totals = self.counters.add(
            [f"rate:{kind}:{name}:{span}:{window}" for kind, name, _ in limited], 1, window_end
        )
        for (kind, name, limit), total in zip(limited, totals, strict=True):
            if total > limit:
                raise QuotaExceeded(
                    f"{kind} {name!r} is over its limit of {limit} requests {per}; try again in {retry} s",
                    retry,
                )
        month, month_end = _month(now)
        for kind, name, budget in self._budgets(principal):
            if budget and self.counters.get(f"credits:{kind}:{name}:{month}") >= budget:
                raise QuotaExceeded(
                    f"{kind} {name!r} has spent its {budget} credits for {month}; "
                    "the budget renews on the first of the month",
                    max(1, int(month_end - now)),
                )

    def charge(self, principal: Principal, credits: int) -> None:
        month, month_end = _month(self.clock())
        keys = [f"credits:{kind}:{name}:{month}" for kind, name, _ in self._budgets(principal)]
        self.counters.add_later(keys, credits, month_end)  # the user's and the teams', in one write

    def usage(self, kind: str, name: str) -> dict[str, Any]:
        """This month's credits and this window's requests of one user or team."""
        now = self.clock()
        month, _ = _month(now)
        span = self.limits.window_s
        window = int(now // span)
        is_user = kind == "user"
        return {
            kind: name,
            "month": month,
            "credits_used": self.counters.get(f"credits:{kind}:{name}:{month}"),
            "credits_budget": self.limits.user_monthly_credits
            if is_user
            else self.limits.team_monthly_credits,
            "requests_this_window": self.counters.get(f"rate:{kind}:{name}:{span}:{window}"),
            "requests_limit": self.rate_limit(kind, name),
            "window_s": span,
        }

    def _budgets(self, principal: Principal) -> list[tuple[str, str, int]]:
        return [("user", principal.user, self.limits.user_monthly_credits)] + [
            ("team", team, self.limits.team_monthly_credits) for team in principal.teams
        ]
