"""An operator lifts or sets one user's or team's rate limit; everyone else keeps the default."""

from collections.abc import Iterator

import pytest

from core.access import Principal, Role
from core.catalog import Catalog
from core.catalog.audit import AuditTrail
from core.catalog.limits import RateLimits
from core.errors import InvalidInput, QuotaExceeded
from core.quota import Limits, Quotas, SqlCounters

BENCH = Principal("bench", Role.AGENT, ("research",))
ANA = Principal("ana", Role.AGENT, ("research",))


@pytest.fixture
def catalog(catalog_url: str) -> Iterator[Catalog]:
    catalog = Catalog.connect(catalog_url)
    yield catalog
    catalog.close()


def test_a_user_without_a_limit_is_never_refused_while_others_are(catalog: Catalog) -> None:
    limits = RateLimits(catalog.db, AuditTrail(catalog.db))
    quotas = Quotas(SqlCounters(catalog.db), Limits(user_per_minute=3, team_per_minute=0), overrides=limits)
    limits.set("user", "bench", 0, actor="ops")
    for _ in range(10):
        quotas.admit(BENCH)
    for _ in range(3):
        quotas.admit(ANA)
    with pytest.raises(QuotaExceeded, match="user 'ana' is over its limit of 3"):
        quotas.admit(ANA)
    assert quotas.usage("user", "bench")["requests_limit"] == 0
    assert [e.action for e in AuditTrail(catalog.db).entries()] == ["rate_limit.set"]


def test_a_team_limit_replaces_the_default_and_default_restores_it(catalog: Catalog) -> None:
    limits = RateLimits(catalog.db, AuditTrail(catalog.db), refresh_s=0)
    quotas = Quotas(SqlCounters(catalog.db), Limits(user_per_minute=0, team_per_minute=100), overrides=limits)
    limits.set("team", "research", 2, actor="ops")
    quotas.admit(BENCH)
    quotas.admit(ANA)
    with pytest.raises(QuotaExceeded, match="team 'research' is over its limit of 2"):
        quotas.admit(BENCH)
    limits.set("team", "research", None, actor="ops")
    assert quotas.rate_limit("team", "research") == 100


def test_a_limit_is_a_number_of_requests(catalog: Catalog) -> None:
    limits = RateLimits(catalog.db, AuditTrail(catalog.db))
    with pytest.raises(InvalidInput, match="0 \\(none\\) or more"):
        limits.set("user", "bench", -1, actor="ops")
