"""Every metric on cases worked out by hand, and nDCG/recall/P/MRR against trec_eval (pytrec_eval)."""

from __future__ import annotations

import math
import random

import pytest

from eval import metrics as M


def test_recall_precision_and_mrr_by_hand() -> None:
    qrels = {"a": 1, "b": 2, "c": 1, "z": 0}  # z is judged not relevant
    ranked = ["x", "b", "z", "a", "y"]
    assert M.recall_at(ranked, qrels, 2) == pytest.approx(1 / 3)
    assert M.recall_at(ranked, qrels, 5) == pytest.approx(2 / 3)
    assert M.precision_at(ranked, qrels, 5) == pytest.approx(2 / 5)
    assert M.precision_at(ranked[:2], qrels, 10) == pytest.approx(1 / 10)  # short rankings not rewarded
    assert M.mrr_at(ranked, qrels) == pytest.approx(1 / 2)
    assert M.mrr_at(["x", "y"], qrels) == 0.0
    assert M.mrr_at(["x", "y", "a"], qrels, k=2) == 0.0
    assert M.recall_at(ranked, {"z": 0}, 10) == 0.0


def test_ndcg_by_hand_with_grades() -> None:
    qrels = {"a": 3, "b": 2, "c": 1}
    # DCG of [c, x, a] = 1/log2(2) + 0 + 3/log2(4) = 1 + 1.5 = 2.5
    # ideal [a, b, c] = 3 + 2/log2(3) + 1/2
    ideal = 3 + 2 / math.log2(3) + 0.5
    assert M.ndcg_at(["c", "x", "a"], qrels, 10) == pytest.approx(2.5 / ideal)
    assert M.ndcg_at(["a", "b", "c"], qrels, 10) == pytest.approx(1.0)
    assert M.ndcg_at(["x", "a"], qrels, 1) == 0.0
    assert M.ndcg_at(["a"], {}, 10) == 0.0


def test_dedupe_keeps_first_position() -> None:
    assert M.dedupe(["d1", "d2", "d1", "d3", "d2"]) == ["d1", "d2", "d3"]


def test_answer_metrics_by_hand() -> None:
    assert M.normalize_answer("The  Cat, sat!") == "cat sat"
    assert M.exact_match("the United States.", ["United States"]) == 1.0
    assert M.exact_match("United States of America", ["United States"]) == 0.0
    # prediction "united states of america" (4 tokens) vs gold "united states" (2): P=2/4 R=1 F1=2/3
    assert M.token_f1("United States of America", ["United States"]) == pytest.approx(2 / 3)
    assert M.token_f1("nothing alike", ["United States", "US"]) == 0.0
    assert M.token_f1("US", ["United States", "US"]) == 1.0
    assert M.contains_answer("It was 5 years, the manual says.", ["5 years"]) == 1.0
    assert M.contains_answer("It was 15 years.", ["5 years"]) == 0.0  # word boundaries
    assert M.contains_answer("anything", [""]) == 0.0
    assert M.is_yes_no(["Yes"]) and M.is_yes_no(["no, never"]) and not M.is_yes_no(["Nothing"])


def test_support_is_the_share_of_content_words_in_the_quote() -> None:
    assert M.supported("The warranty lasts 5 years.", "Warranty: the T300 lasts 5 years in total")
    assert not M.supported("The warranty lasts 5 years.", "Returns are accepted within 45 days")
    assert M.supported("The a of.", "")  # nothing to check


def test_refusal_precision_and_recall_by_hand() -> None:
    answerable = [True, True, False, False, False]
    refused = [True, False, True, True, False]
    precision, recall = M.refusal_scores(answerable, refused)
    assert precision == pytest.approx(2 / 3)
    assert recall == pytest.approx(2 / 3)
    assert M.refusal_scores([True], [False]) == (1.0, 1.0)


def test_percentiles_interpolate_like_numpy() -> None:
    import numpy as np

    values = [120.0, 5.0, 7.5, 33.0, 8.0, 9.0, 61.0]
    for q in (0, 50, 90, 95, 99, 100):
        assert M.percentile(values, q) == pytest.approx(float(np.percentile(values, q)))
    assert M.percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5
    assert M.latency_summary([]) == {"p50_ms": 0.0, "p95_ms": 0.0, "p99_ms": 0.0}


def _synthetic_run(seed: int) -> tuple[dict[str, dict[str, int]], dict[str, dict[str, float]]]:
    """A TREC-style run: 40 queries, graded judgements (some docs judged 0), 100 ranked docs each."""
    rng = random.Random(seed)
    docs = [f"d{i}" for i in range(400)]
    qrels: dict[str, dict[str, int]] = {}
    run: dict[str, dict[str, float]] = {}
    for q in range(40):
        judged = rng.sample(docs, rng.randint(1, 12))
        qrels[f"q{q}"] = {d: rng.choice([0, 1, 1, 2, 3]) for d in judged}
        pool = list(dict.fromkeys(rng.sample(judged, len(judged) // 2 + 1) + rng.sample(docs, 120)))[:100]
        rng.shuffle(pool)
        run[f"q{q}"] = {d: 100.0 - i for i, d in enumerate(pool)}  # distinct scores: no tie rules
    return qrels, run


@pytest.mark.parametrize("seed", [1, 2])
def test_matches_trec_eval_on_a_run(seed: int) -> None:
    pytrec_eval = pytest.importorskip("pytrec_eval")
    qrels, run = _synthetic_run(seed)
    measures = {"ndcg_cut.10", "recall.10", "recall.100", "P.10", "recip_rank"}
    reference = pytrec_eval.RelevanceEvaluator(qrels, measures).evaluate(run)
    for qid, scores in run.items():
        ranking = sorted(scores, key=lambda d: -scores[d])
        expected = reference[qid]
        assert M.ndcg_at(ranking, qrels[qid], 10) == pytest.approx(expected["ndcg_cut_10"], abs=1e-4)
        assert M.recall_at(ranking, qrels[qid], 10) == pytest.approx(expected["recall_10"], abs=1e-4)
        assert M.recall_at(ranking, qrels[qid], 100) == pytest.approx(expected["recall_100"], abs=1e-4)
        assert M.precision_at(ranking, qrels[qid], 10) == pytest.approx(expected["P_10"], abs=1e-4)
        if any(g > 0 for g in qrels[qid].values()):
            # trec_eval's recip_rank has no cut-off; compare where the first hit is in the top 10
            first = next((i for i, d in enumerate(ranking, 1) if qrels[qid].get(d, 0) > 0), None)
            if first is not None and first <= 10:
                assert M.mrr_at(ranking, qrels[qid]) == pytest.approx(expected["recip_rank"], abs=1e-4)
