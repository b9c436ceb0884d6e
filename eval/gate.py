"""The regression gate: run the checks listed in the committed baseline file and fail when a
metric drops below its baseline by more than the tolerance stated beside it.

``sourcebook eval gate`` checks; ``sourcebook eval baseline`` (a deliberate act, reviewed in the
diff) runs the same checks and writes what it measured as the new baseline, keeping the checks
and tolerances as they are. Metrics that rise past their tolerance are reported, never failed:
a better number is a prompt to update the baseline.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import InvalidInput
from eval.config import parse_config
from eval.datasets import load_beir, load_golden_set, load_qa
from eval.runner import Progress, evaluate_answers, evaluate_retrieval

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "eval" / "baseline.json"
DATA = ROOT.parent / "shared" / "eval-data"


@dataclass(frozen=True, slots=True)
class Verdict:
    check: str
    system: str
    metric: str
    baseline: float
    measured: float
    tolerance: float

    @property
    def delta(self) -> float:
        return self.measured - self.baseline

    @property
    def failed(self) -> bool:
        return self.delta < -self.tolerance - 1e-9

    @property
    def improved(self) -> bool:
        return self.delta > self.tolerance + 1e-9


def load_baseline(path: Path = BASELINE) -> dict[str, Any]:
    try:
        data: dict[str, Any] = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise InvalidInput(f"no baseline file at {path}: write one with `sourcebook eval baseline`") from exc
    for check in data.get("checks", []):
        missing = {"name", "kind", "dataset", "split", "tolerance"} - set(check)
        if missing:
            raise InvalidInput(f"baseline check {check.get('name', '?')} lacks {sorted(missing)}")
    return data


def run_check(
    check: dict[str, Any], data: Path, *, cache: Path | None, progress: Progress | None
) -> dict[str, Any]:
    """One check's run (retrieval: per system; answers: one system, named ``answers``)."""
    config = parse_config(check.get("config") or {})
    limit = check.get("limit")
    if check["kind"] == "retrieval":
        return evaluate_retrieval(
            load_beir(data / check["dataset"], check["split"]).limited(limit),
            config,
            cache=cache,
            progress=progress,
        )
    if check.get("corpus"):  # a golden set in this repository over a folder of documents
        answers = load_golden_set(ROOT / check["dataset"], ROOT / check["corpus"]).limited(limit)
    else:
        answers = load_qa(data / check["dataset"], check["split"]).limited(limit)
    if check.get("negatives"):
        answers = answers.with_unanswerable(load_qa(data / check["negatives"], check["split"]).limited(limit))
    return evaluate_answers(answers, config, cache=cache, progress=progress)


def measured(check: dict[str, Any], run: dict[str, Any]) -> dict[str, dict[str, float]]:
    """The gated metrics of a run, per system."""
    keys = list(check["tolerance"])
    if run["kind"] == "retrieval":
        return {name: {k: s["metrics"][k] for k in keys} for name, s in run["systems"].items()}
    return {"answers": {k: run["metrics"][k] for k in keys if run["metrics"].get(k) is not None}}


def judge(check: dict[str, Any], now: dict[str, dict[str, float]]) -> list[Verdict]:
    if not check.get("metrics"):
        raise InvalidInput(
            f"{check['name']}: the baseline holds no figures yet: run `sourcebook eval baseline`"
        )
    verdicts = []
    for system, values in check["metrics"].items():
        for metric, base in values.items():
            if system not in now or metric not in now[system]:
                raise InvalidInput(f"{check['name']}: the run measured no {system}/{metric}")
            verdicts.append(
                Verdict(check["name"], system, metric, base, now[system][metric], check["tolerance"][metric])
            )
    return verdicts


def measure(
    baseline: dict[str, Any],
    data: Path = DATA,
    *,
    cache: Path | None = None,
    progress: Progress | None = None,
    on_run: Callable[[str, dict[str, Any]], None] | None = None,
) -> tuple[dict[str, dict[str, dict[str, float]]], dict[str, float]]:
    """Run every check: (gated metrics per check and system, seconds per check)."""
    found: dict[str, dict[str, dict[str, float]]] = {}
    seconds: dict[str, float] = {}
    for check in baseline["checks"]:
        if not check.get("corpus") and not data.exists():
            continue  # needs the shared eval data, which this machine lacks
        started = time.perf_counter()
        run = run_check(check, data, cache=cache, progress=progress)
        seconds[check["name"]] = round(time.perf_counter() - started, 1)
        if on_run:
            on_run(check["name"], run)
        found[check["name"]] = measured(check, run)
    return found, seconds


def verdicts(baseline: dict[str, Any], found: dict[str, dict[str, dict[str, float]]]) -> list[Verdict]:
    return [
        v
        for check in baseline["checks"]
        if check["name"] in found
        for v in judge(check, found[check["name"]])
    ]


def updated_baseline(
    baseline: dict[str, Any], found: dict[str, dict[str, dict[str, float]]]
) -> dict[str, Any]:
    """The baseline with each check's metrics replaced by what was measured."""
    checks = [check | {"metrics": found[check["name"]]} for check in baseline["checks"]]
    return baseline | {"checks": checks}
