"""Compare two runs of the same dataset: per-metric differences with a paired bootstrap
confidence interval, and the queries that changed most.

The bootstrap resamples queries (the same resample for both runs, hence *paired*) and recomputes
each aggregate, so it works for means (nDCG@10) and for ratios (refusal precision) alike. An
interval that excludes 0 says the change is larger than what the choice of queries explains.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from core.errors import InvalidInput
from eval.runner import aggregate_answers, aggregate_retrieval

Aggregate = Callable[[Sequence[dict[str, Any]]], dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Difference:
    metric: str
    a: float
    b: float
    delta: float
    low: float  # 95% paired bootstrap interval of delta
    high: float

    @property
    def significant(self) -> bool:
        return self.low > 0 or self.high < 0


@dataclass(frozen=True, slots=True)
class Changed:
    id: str
    text: str
    a: float
    b: float


@dataclass(frozen=True)
class Comparison:
    system_a: str
    system_b: str
    common: int  # queries in both runs
    differences: list[Difference]
    changed: list[Changed]  # by the key metric, largest change first
    key_metric: str


def paired_bootstrap(
    a: Sequence[dict[str, Any]],
    b: Sequence[dict[str, Any]],
    aggregate: Aggregate,
    metrics: Sequence[str],
    *,
    resamples: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> dict[str, tuple[float, float]]:
    """Interval of aggregate(b) - aggregate(a) per metric over resampled query sets."""
    if len(a) != len(b):
        raise ValueError("paired runs need the same queries")
    rng = np.random.default_rng(seed)
    n = len(a)
    deltas: dict[str, list[float]] = {m: [] for m in metrics}
    for _ in range(resamples):
        pick = rng.integers(0, n, n)
        left, right = aggregate([a[i] for i in pick]), aggregate([b[i] for i in pick])
        for m in metrics:
            if left.get(m) is not None and right.get(m) is not None:
                deltas[m].append(float(right[m]) - float(left[m]))
    tail = (1 - confidence) / 2 * 100
    return {
        m: (float(np.percentile(d, tail)), float(np.percentile(d, 100 - tail))) if d else (0.0, 0.0)
        for m, d in deltas.items()
    }


def _records(run: dict[str, Any], system: str | None) -> tuple[str, dict[str, dict[str, Any]]]:
    if run["kind"] == "retrieval":
        systems = run["systems"]
        name = system or next(iter(systems))
        if name not in systems:
            raise InvalidInput(f"the run has no system {name!r}; it has {', '.join(systems)}")
        return name, systems[name]["per_query"]
    return "answers", run["per_case"]


def compare_runs(
    run_a: dict[str, Any],
    run_b: dict[str, Any],
    *,
    system_a: str | None = None,
    system_b: str | None = None,
    top: int = 10,
    resamples: int = 1000,
) -> Comparison:
    """B against A. Runs of two configs share query ids; a system name picks one retrieval mode."""
    if run_a["kind"] != run_b["kind"]:
        raise InvalidInput(f"cannot compare a {run_a['kind']} run with a {run_b['kind']} run")
    if run_a["dataset"] != run_b["dataset"] or run_a["split"] != run_b["split"]:
        raise InvalidInput(
            f"the runs are of different data: {run_a['dataset']}/{run_a['split']} and "
            f"{run_b['dataset']}/{run_b['split']}"
        )
    name_a, records_a = _records(run_a, system_a)
    name_b, records_b = _records(run_b, system_b or system_a)
    common = [q for q in records_a if q in records_b]
    if not common:
        raise InvalidInput("the runs share no query")
    left, right = [records_a[q] for q in common], [records_b[q] for q in common]
    aggregate: Aggregate
    if run_a["kind"] == "retrieval":
        aggregate, key = aggregate_retrieval, "ndcg@10"
    else:
        aggregate, key = aggregate_answers, "f1"
    totals_a, totals_b = aggregate(left), aggregate(right)
    metrics = [
        m
        for m, v in totals_a.items()
        if isinstance(v, float) and totals_b.get(m) is not None and m not in ("cases",)
    ]
    intervals = paired_bootstrap(left, right, aggregate, metrics, resamples=resamples)
    differences = [
        Difference(m, totals_a[m], totals_b[m], round(totals_b[m] - totals_a[m], 4), *intervals[m])
        for m in metrics
    ]
    texts = run_a.get("queries", {})
    changed = [
        Changed(
            q,
            texts.get(q) or records_a[q].get("question", ""),
            _value(records_a[q], key),
            _value(records_b[q], key),
        )
        for q in common
    ]
    changed.sort(key=lambda c: (-abs(c.b - c.a), c.id))
    changed = [c for c in changed if c.a != c.b][:top]
    return Comparison(name_a, name_b, len(common), differences, changed, key)


def _value(record: dict[str, Any], key: str) -> float:
    value = record.get(key)
    if value is None and key == "f1":  # unanswerable case: 1 when rightly refused
        return float(record["refused"]) if not record["answerable"] else 0.0
    return float(value or 0.0)
