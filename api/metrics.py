"""Prometheus metrics of one app (its own registry, so several apps can live in one process).

``/metrics`` needs no key, so its labels carry no tenant data (template ids name a team's work)
unless an operator opts in with ``tenant_labels`` (``SOURCEBOOK_METRICS_TENANT_LABELS``)."""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class Metrics:
    def __init__(self, *, tenant_labels: bool = False) -> None:
        self.tenant_labels = tenant_labels
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "sourcebook_http_requests_total",
            "HTTP requests",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "sourcebook_http_request_seconds",
            "HTTP request latency",
            ["method", "route"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry,
        )
        self.answer_cache = Counter(
            "sourcebook_answer_cache_lookups_total",
            "Answer cache lookups by result",
            ["result"],
            registry=self.registry,
        )
        self.answer_cache_hit_ratio = Gauge(
            "sourcebook_answer_cache_hit_ratio",
            "Share of answer cache lookups that were hits, since the process started",
            registry=self.registry,
        )
        self.answers = Counter(
            "sourcebook_answers_total",
            "Answers given, by where they came from (generated, cached, reviewed)"
            + (" and template" if tenant_labels else ""),
            ["source", "template"] if tenant_labels else ["source"],
            registry=self.registry,
        )
        self.quality_dropped = Gauge(
            "sourcebook_quality_dropped_collections",
            "Collections whose last scheduled golden-case run dropped past the tolerance",
            registry=self.registry,
        )
        self.quality_collection = (
            Gauge(
                "sourcebook_quality_dropped",
                "1 when a collection's last scheduled golden-case run dropped past the tolerance",
                ["collection"],
                registry=self.registry,
            )
            if tenant_labels
            else None
        )
        self.live_model = Gauge(
            "sourcebook_live_model_info", "The embedding model live now", ["model"], registry=self.registry
        )
        self._cache_hits = 0
        self._cache_lookups = 0

    def cache_lookup(self, hit: bool) -> None:
        self.answer_cache.labels("hit" if hit else "miss").inc()
        self._cache_lookups += 1
        self._cache_hits += int(hit)
        self.answer_cache_hit_ratio.set(self._cache_hits / self._cache_lookups)

    def answered(self, source: str, template: str | None) -> None:
        if self.tenant_labels:
            self.answers.labels(source, template or "none").inc()
        else:
            self.answers.labels(source).inc()

    def live(self, model: str, dropped: dict[str, bool]) -> None:
        """At scrape time: the live model, and which collections' quality dropped (named only
        with tenant labels: a collection name is a team's)."""
        self.live_model.clear()
        self.live_model.labels(model).set(1)
        self.quality_dropped.set(sum(dropped.values()))
        if self.quality_collection is not None:
            self.quality_collection.clear()
            for name, flag in dropped.items():
                self.quality_collection.labels(name).set(int(flag))


class RequestMetrics:
    """Counts every HTTP request by method, route and status, and times it to its last byte.

    Plain ASGI, not Starlette's ``BaseHTTPMiddleware``, which runs the rest of the app in a task
    of its own with memory streams between them, on every request.
    """

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the server answers if the app raises before it starts a response

        async def send_counted(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_counted)
        finally:
            # The router put the matched route into the scope it was handed: this one.
            path = getattr(scope.get("route"), "path", "unmatched")
            self.metrics.requests.labels(scope["method"], path, str(status)).inc()
            self.metrics.latency.labels(scope["method"], path).observe(time.perf_counter() - started)
