"""bench/fusion_weights fuses dense and BM25 in Python as Qdrant's DBSF does: at equal weights its
ranking must be the engine's, or the weights it reports measure something else."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.fusion_weights import fused, fused_scores
from core.protocols import SearchRequest
from tests.word_store import EMBEDDER, word_store


def test_equal_weights_rank_as_the_engines_dbsf(tmp_path: Path) -> None:
    with word_store(tmp_path / "edge", 7, 120, (4, 12), team="support") as (store, _):
        for question in ("pump valve alarm", "reset the firmware", "battery cable fan display"):
            vector = EMBEDDER.embed([question])[0].tolist()

            def scores(mode: str, q: str = question, v: list[float] = vector) -> dict[str, float]:
                found = store.search(SearchRequest(q, v, 40, mode, candidates=40))  # type: ignore[arg-type]
                return {p.chunk_id: p.score for p in found}

            engine = store.search(SearchRequest(question, vector, 10, "hybrid", candidates=40, fusion="dbsf"))
            ours = fused_scores(scores("dense"), scores("sparse"), 0.5)
            # The same scores (DBSF sums both sides: twice ours), so the same ranking up to ties,
            # which the engine returns in no fixed order.
            assert [p.score for p in engine] == pytest.approx(
                sorted((2 * v for v in ours.values()), reverse=True)[:10], abs=1e-4
            )
            assert all(p.score == pytest.approx(2 * ours[p.chunk_id], abs=1e-4) for p in engine)
            dense = scores("dense")  # all weight on it: its own order (ties by id)
            assert fused(dense, scores("sparse"), 1.0)[:5] == sorted(dense, key=lambda c: (-dense[c], c))[:5]


def test_a_list_of_equal_scores_does_not_divide_by_zero() -> None:
    assert fused({"a": 0.3, "b": 0.3}, {"b": 2.0, "c": 1.0}, 0.5)[0] == "b"
