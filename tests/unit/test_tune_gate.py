"""The tuning gate: offered only past the paired-bootstrap interval, never with a regression."""

from __future__ import annotations

from typing import Any

from eval.tuning_gate import compare_check, decide


def _run(scores: dict[str, list[float]], name: str = "set") -> dict[str, Any]:
    """A retrieval run whose queries score ``scores[system][i]`` on every gated metric."""
    systems = {}
    for system, values in scores.items():
        per_query = {
            f"q{i}": {
                "ndcg@10": v,
                "recall@10": v,
                "recall@100": v,
                "precision@10": v,
                "mrr@10": v,
                "ms": 1.0,
            }
            for i, v in enumerate(values)
        }
        systems[system] = {"per_query": per_query}
    return {"kind": "retrieval", "dataset": name, "split": "dev", "systems": systems, "queries": {}}


BASE = [0.5, 0.4, 0.6, 0.3, 0.7, 0.5, 0.4, 0.6, 0.5, 0.5] * 3


def test_a_consistent_gain_is_offered_and_names_what_improved() -> None:
    before = _run({"dense": BASE, "hybrid-dbsf": BASE})
    after = _run({"dense": [v + 0.1 for v in BASE], "hybrid-dbsf": BASE})
    verdict = compare_check("golden", before, after, ["dense", "hybrid-dbsf"])
    assert verdict.passed
    decision = decide([verdict])
    assert decision.offered
    assert decision.reasons[0].startswith("golden: improved: dense ndcg@10 +0.1000 [")
    moved = decision.to_json()["checks"]["golden"]["systems"]["dense"]["moved"]
    assert len(moved) == 10 and moved[0]["b"] - moved[0]["a"] > 0.09


def test_a_gain_inside_the_interval_is_not_offered() -> None:
    noisy = [v + (0.2 if i % 2 else -0.19) for i, v in enumerate(BASE)]  # +0.005 on average
    decision = decide([compare_check("dev", _run({"dense": BASE}), _run({"dense": noisy}), ["dense"])])
    assert not decision.offered
    assert decision.reasons == ["dev: no system's ndcg@10 rose by more than its 95% interval"]


def test_a_gain_in_one_system_does_not_excuse_a_regression_in_another() -> None:
    before = _run({"dense": BASE, "hybrid-dbsf": BASE})
    after = _run({"dense": [v + 0.1 for v in BASE], "hybrid-dbsf": [v - 0.05 for v in BASE]})
    verdict = compare_check("dev", before, after, ["dense", "hybrid-dbsf"])
    assert verdict.improved and not verdict.passed
    assert any(r.startswith("dev: regressed: hybrid-dbsf ndcg@10 -0.0500") for r in decide([verdict]).reasons)


def test_every_check_must_pass_and_no_check_is_no_offer() -> None:
    gain = compare_check("a", _run({"dense": BASE}), _run({"dense": [v + 0.1 for v in BASE]}), ["dense"])
    flat = compare_check("b", _run({"dense": BASE}), _run({"dense": BASE}), ["dense"])
    assert decide([gain]).offered
    assert not decide([gain, flat]).offered
    assert not decide([]).offered
    assert decide([]).reasons == ["no evaluation set: nothing held apart to judge the model on"]


def test_a_small_drop_within_tolerance_is_no_regression() -> None:
    before = _run({"dense": BASE, "hybrid-dbsf": BASE})
    after = _run({"dense": [v + 0.1 for v in BASE], "hybrid-dbsf": [v - 0.005 for v in BASE]})
    assert compare_check("dev", before, after, ["dense", "hybrid-dbsf"]).passed
