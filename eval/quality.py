"""Quality over time: each collection's golden cases asked of the live configuration, on a
schedule (``sourcebook/quality.py``: a timer in the single-node server, Celery beat in the
cluster). Each run is stored with the model and template versions it ran with; a rate that fell
past the gate's tolerance since the run before is flagged (Insights, ``/metrics``) and audited.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Protocol

from core.catalog import Catalog
from core.catalog.audit import AuditTrail
from core.catalog.golden import GoldenSets
from core.catalog.serving import QualityPoint, QualityRuns
from core.errors import InvalidInput
from core.golden import parse_case
from eval.datasets import AnswerSet, Corpus, answer_case
from eval.runner import LiveServices, evaluate_answers_live

ACTOR = "quality-schedule"
RATES = ("correct", "gold_cited", "refused")


class QualityServices(LiveServices, Protocol):
    @property
    def golden_sets(self) -> GoldenSets: ...

    @property
    def quality_runs(self) -> QualityRuns: ...

    @property
    def audit(self) -> AuditTrail: ...

    @property
    def catalog(self) -> Catalog: ...


def measure_collection(
    services: QualityServices, collection: str, *, tolerance: float, model: str
) -> QualityPoint | None:
    """Ask a collection's golden cases now; store the run; None when it has no cases to ask."""
    templates: dict[str, Any] = {}
    cases = []
    for body in services.golden_sets.of_collection(collection):
        try:
            case = parse_case(body)
        except InvalidInput:
            continue
        if case.template is not None:
            templates[case.template.id] = case.template.version
        asked = answer_case(case)
        if asked is not None:
            cases.append(asked)
    if not cases:
        return None
    prompt = dict(services.provenance).get("prompt")
    if prompt:
        templates["prompt"] = prompt
    dataset = AnswerSet(f"golden:{collection}", "live", Corpus("live", ""), tuple(cases))
    run = evaluate_answers_live(dataset, services)
    metrics, records = run["metrics"], list(run["per_case"].values())
    refused = round(sum(r["refused"] for r in records) / len(records), 4)
    point = QualityPoint(
        datetime.now(UTC),
        collection,
        model,
        templates,
        len(records),
        metrics["correct"],
        metrics["gold_source_cited"],
        refused,
    )
    previous = services.quality_runs.last(collection)
    dropped = tuple(dropped_rates(previous, point, tolerance)) if previous else ()
    point = QualityPoint(**{**_fields(point), "dropped": dropped})
    services.quality_runs.add(point)
    if dropped:
        assert previous is not None
        services.audit.record(
            ACTOR,
            "quality.drop",
            collection,
            team=services.catalog.collection_team(collection),
            detail={
                "dropped": list(dropped),
                "tolerance": tolerance,
                "before": {k: getattr(previous, k) for k in RATES} | {"model": previous.model},
                "now": {k: getattr(point, k) for k in RATES} | {"model": point.model},
            },
        )
    return point


def dropped_rates(before: QualityPoint, now: QualityPoint, tolerance: float) -> list[str]:
    """The rates that got worse by more than ``tolerance``: fewer correct answers or gold
    citations, more refusals."""
    worse = []
    for name in RATES:
        old, new = getattr(before, name), getattr(now, name)
        if old is None or new is None:
            continue
        change = (old - new) if name != "refused" else (new - old)
        if change > tolerance + 1e-9:
            worse.append(name)
    return worse


def measure_all(services: QualityServices, *, tolerance: float, model: str) -> list[QualityPoint]:
    """One run for every collection that has golden cases."""
    points = []
    for info in services.catalog.collections():
        point = measure_collection(services, info.name, tolerance=tolerance, model=model)
        if point is not None:
            points.append(point)
    return points


def _fields(point: QualityPoint) -> dict[str, Any]:
    return {name: getattr(point, name) for name in point.__slots__}
