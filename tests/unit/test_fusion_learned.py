"""bench/fusion_learned scores BM25 outside the engine so that each setting of k, b and avg_len is
one pass over the corpus: at the product's setting its scores must be the engine's, or the
settings it compares are not the product's BM25."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bench.fusion_learned import _bm25, bm25_scores, candidates, corpus_length
from core.protocols import SearchRequest
from tests.word_store import word_store


def test_the_default_setting_scores_as_the_engines_bm25(tmp_path: Path) -> None:
    questions = ["pump valve alarm", "reset the firmware after a battery error", "fan"]
    with word_store(tmp_path / "edge", 3, 80, (3, 30)) as (store, texts):
        ours = bm25_scores(texts, questions, _bm25(None, None, None))
        for row, question in enumerate(questions):
            found = store.search(SearchRequest(question, None, 80, "sparse", candidates=80))
            # Texts repeat (random words from a dozen), so each found text's score is compared
            # with ours for every chunk of that text.
            assert len(found) == int((ours[row] > 0).sum())
            for passage in found:
                same = [at for at, text in enumerate(texts) if text == passage.text]
                assert ours[row][same] == pytest.approx(passage.score, rel=1e-4)


def test_a_corpus_length_counts_tokens_without_stopwords() -> None:
    # "the" and "a" are English stopwords; "pumps" and "pump" are two tokens of one stem.
    assert corpus_length(["the pump and a valve", "pumps pump"]) == pytest.approx(2.0)


def test_candidates_are_both_lists_with_their_features() -> None:
    dense = np.array([0.9, 0.1, 0.5, 0.2], dtype=np.float32)
    sparse = np.array([0.0, 3.0, 1.0, 0.0], dtype=np.float32)
    union, features = candidates(dense, sparse)
    assert union.tolist() == [0, 1, 2, 3]  # every dense hit; BM25's only where it scores
    assert features[:, 7].tolist() == [0.0, 1.0, 1.0, 0.0]  # in the BM25 list
    assert features[1, 3] == pytest.approx(1.0)  # BM25 score over the best one
