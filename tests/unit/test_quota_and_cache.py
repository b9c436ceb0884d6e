import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from core.access import Principal, Role
from core.catalog import Catalog
from core.domain import Answer, Citation, Passage
from core.errors import QuotaExceeded
from core.quota import Counters, Limits, Quotas, RedisCounters, SqlCounters
from retrieval.cache import AnswerCache, MemoryBackend, RedisBackend, cache_key, normalise

REDIS_URL = "redis://127.0.0.1:6379/5"
ANA = Principal("ana", Role.AGENT, ("support",))


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def redis_client() -> Iterator[Any]:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.ConnectionError:
        pytest.skip(f"no Redis at {REDIS_URL}")
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


@pytest.fixture(params=["sqlite", "postgresql", "redis"])
def counters(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Counters]:
    if request.param == "redis":
        yield RedisCounters(request.getfixturevalue("redis_client"))
        return
    url = f"sqlite:///{tmp_path / 'catalog.db'}"
    catalog = Catalog.connect(url if request.param == "sqlite" else request.getfixturevalue("postgres_url"))
    yield SqlCounters(catalog.db)
    catalog.close()


def test_the_rate_limit_refuses_with_retry_after_then_clears(counters: Counters) -> None:
    clock = Clock(1_800_000_015.0)  # 15 s into a minute
    quotas = Quotas(counters, Limits(user_per_minute=3), clock)
    for _ in range(3):
        quotas.admit(ANA)
    with pytest.raises(QuotaExceeded) as refused:
        quotas.admit(ANA)
    assert refused.value.retry_after_s == 45
    assert "user 'ana' is over its limit of 3 requests a minute" in refused.value.reason
    clock.now += 45
    quotas.admit(ANA)  # a new window


def test_a_team_limit_counts_every_member(counters: Counters) -> None:
    quotas = Quotas(counters, Limits(team_per_minute=2), Clock(1_800_000_000.0))
    quotas.admit(ANA)
    quotas.admit(Principal("ben", Role.AGENT, ("support",)))
    with pytest.raises(QuotaExceeded, match="team 'support'"):
        quotas.admit(Principal("cy", Role.AGENT, ("support",)))


def test_monthly_credits_run_out_and_renew_next_month(counters: Counters) -> None:
    clock = Clock(1_893_456_000.0 - 10)  # 10 s before 2030-01-01 00:00 UTC (Redis expiry is real time)
    quotas = Quotas(counters, Limits(user_monthly_credits=2), clock)
    quotas.admit(ANA)
    quotas.charge(ANA, 2)
    with pytest.raises(QuotaExceeded, match="spent its 2 credits for 2029-12") as refused:
        quotas.admit(ANA)
    assert refused.value.retry_after_s == 10
    assert quotas.usage("user", "ana")["credits_used"] == 2
    clock.now += 10
    quotas.admit(ANA)
    assert quotas.usage("user", "ana")["credits_used"] == 0


def test_a_request_counts_for_its_user_and_every_team_in_one_write(tmp_path: Path) -> None:
    catalog = Catalog.connect(f"sqlite:///{tmp_path / 'catalog.db'}")
    try:
        counters = SqlCounters(catalog.db)
        quotas = Quotas(counters, Limits(user_per_minute=5, team_per_minute=5), Clock(1_800_000_000.0))
        two_teams = Principal("ana", Role.AGENT, ("support", "legal"))
        before = catalog.db.group.writes
        quotas.admit(two_teams)
        quotas.charge(two_teams, 3)
        assert catalog.db.group.writes - before == 2  # the rate counters, then the credits
        assert [
            quotas.usage(*subject)["requests_this_window"]
            for subject in (("user", "ana"), ("team", "support"), ("team", "legal"))
        ] == [1, 1, 1]
        assert [
            quotas.usage(*subject)["credits_used"]
            for subject in (("user", "ana"), ("team", "support"), ("team", "legal"))
        ] == [3, 3, 3]
    finally:
        catalog.close()


def test_requests_opening_a_window_together_each_count_once(counters: Counters) -> None:
    """Concurrent first requests of a window used to insert the same counter row (a 500 on SQLite)."""
    threads, windows = 8, 25
    start = threading.Barrier(threads)
    failures: list[BaseException] = []

    def open_windows() -> None:
        for window in range(windows):
            start.wait()
            try:
                counters.add([f"rate:user:ana:60:{window}"], 1, time.time() + 60)
            except Exception as exc:  # noqa: BLE001  # reported below, not lost in a thread
                failures.append(exc)

    workers = [threading.Thread(target=open_windows) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert failures == []
    assert [counters.get(f"rate:user:ana:60:{w}") for w in range(windows)] == [threads] * windows


def _answer(text: str) -> Answer:
    passage = Passage("c1", "d1", "kb", "manual.pdf", "Error E-104 means…", (3,), 0.9, ("Errors",), 10, 30)
    citation = Citation(1, "d1", "manual.pdf", (3,), "Error E-104 means…", 10, 30, 0.8)
    return Answer("q", text, (citation,), passages=(passage,), provenance=(("generator", "extractive"),))


@pytest.mark.parametrize("backend", ["memory", "redis"])
def test_a_cached_answer_comes_back_whole(backend: str, request: pytest.FixtureRequest) -> None:
    store = MemoryBackend() if backend == "memory" else RedisBackend(request.getfixturevalue("redis_client"))
    cache = AnswerCache(store, ttl_s=60)
    assert cache.get("k") is None
    cache.put("k", _answer("It means the sensor failed. [1]"))
    assert cache.get("k") == _answer("It means the sensor failed. [1]")
    assert (cache.hits, cache.misses, cache.hit_rate) == (1, 1, 0.5)


def test_the_key_separates_teams_versions_and_generators() -> None:
    base: dict[str, Any] = {
        "question": "What does E-104 mean?",
        "template": None,
        "filters": {"collections": ["kb"]},
        "scope": ("support",),
        "fingerprint": "3:2026-11-24",
        "generator": "extractive",
    }
    key = cache_key(**base)
    assert cache_key(**(base | {"question": "  what does e-104   MEAN"})) == key
    for change in (
        {"scope": ("legal",)},
        {"scope": None},
        {"fingerprint": "4:2026-11-24"},
        {"generator": "openai-compatible:gpt-4o-mini"},
        {"filters": {"collections": ["other"]}},
        {"template": ("error-code", 2, {"code": "E-104"})},
    ):
        assert cache_key(**(base | change)) != key, change
    assert normalise("Reset?") == normalise("reset")


def test_the_memory_cache_is_bounded_and_expires() -> None:
    store = MemoryBackend(max_entries=2)
    store.set("a", "1", 60)
    store.set("b", "2", 60)
    store.set("c", "3", 60)
    assert store.get("a") is None and store.get("c") == "3"
    store.set("d", "4", 0)
    assert store.get("d") is None
