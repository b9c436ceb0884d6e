"""The runner, the cached index, comparisons and the gate, on small data with the hashing embedder."""

from __future__ import annotations

import copy
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from core.domain import Answer, Citation, Passage
from core.errors import InvalidInput
from core.golden import ExpectedSource
from core.protocols import SearchFilter, SearchRequest
from eval.compare import compare_runs, paired_bootstrap
from eval.config import EvalConfig, SystemConfig
from eval.datasets import AnswerCase, AnswerSet, load_beir
from eval.gate import judge, updated_baseline
from eval.index import IndexRecipe
from eval.runner import (
    aggregate_answers,
    by_score,
    case_record,
    cited_sentences,
    evaluate_answers,
    evaluate_retrieval,
    ranked,
)
from ingest.embed import HashingEmbedder
from retrieval.search import Searcher


def _passage(chunk: str, doc: str, score: float) -> Passage:
    return Passage(chunk, doc, "c", doc, f"text of {doc}", (1,), score)


def test_rankings_break_ties_by_chunk_id_and_count_a_document_once() -> None:
    hits = [
        _passage("c3", "B", 0.5),
        _passage("c1", "A", 0.5),
        _passage("c9", "C", 0.9),
        _passage("c2", "A", 0.4),
    ]
    assert ranked(by_score(hits)) == ["C", "A", "B"]


def test_a_reranked_order_is_kept_though_its_tail_scores_are_higher() -> None:
    """SentenceReranker re-scores only its head; sorting by score would undo it."""
    reranked = [_passage("c1", "A", 0.9), _passage("c2", "B", 0.4), _passage("c3", "C", 1.7)]
    assert ranked(reranked) == ["A", "B", "C"]


class _TiedStore:
    def search(self, request: SearchRequest) -> list[Passage]:
        return [_passage(f"c{i}", f"D{i}", 1.0) for i in (5, 3, 4, 1, 2)]

    def attach_sentences(self, passages: Sequence[Passage]) -> list[Passage]:
        return list(passages)


def test_searcher_returns_equal_scores_in_chunk_id_order() -> None:
    searcher = Searcher(_TiedStore(), HashingEmbedder(), duplicate_threshold=1.01)  # type: ignore[arg-type]
    found = searcher.search("q", SearchFilter(), limit=5, mode="sparse")
    assert [p.chunk_id for p in found] == ["c1", "c2", "c3", "c4", "c5"]


WORDS = [
    "walrus tusk ivory",
    "volcano lava basalt",
    "violin bow rosin",
    "glacier ice moraine",
    "comet tail orbit",
]


def _tiny_beir(root: Path) -> Path:
    root.mkdir()
    (root / "corpus.jsonl").write_text(
        "".join(
            json.dumps({"_id": f"d{i}", "title": "", "text": f"About {w}."}) + "\n"
            for i, w in enumerate(WORDS)
        )
    )
    (root / "dev" / "qrels").mkdir(parents=True)
    (root / "dev" / "queries.jsonl").write_text(
        "".join(json.dumps({"_id": f"q{i}", "text": w.split()[1]}) + "\n" for i, w in enumerate(WORDS))
    )
    (root / "dev" / "qrels" / "dev.tsv").write_text("".join(f"q{i}\td{i}\t1\n" for i in range(len(WORDS))))
    return root


def test_retrieval_run_is_cached_by_corpus_and_reproducible(tmp_path: Path) -> None:
    dataset = load_beir(_tiny_beir(tmp_path / "tiny"))
    config = EvalConfig(
        index=IndexRecipe(embedder="hashing"),
        systems={
            "sparse": SystemConfig(mode="sparse", depth=10),
            "hybrid": SystemConfig(depth=10),
            "reranked": SystemConfig(reranker="sentence", depth=10),
        },
    )
    first = evaluate_retrieval(dataset, config, cache=tmp_path / "cache")
    second = evaluate_retrieval(dataset, config, cache=tmp_path / "cache")
    assert first["index"]["cached"] is False and second["index"]["cached"] is True
    assert first["index"]["chunks"] == 5
    assert first["systems"]["sparse"]["metrics"]["ndcg@10"] == 1.0
    assert first["systems"]["sparse"]["metrics"]["mrr@10"] == 1.0
    assert first["systems"]["reranked"]["metrics"]["ndcg@10"] == 1.0
    for name in ("sparse", "hybrid"):
        assert [q["top10"] for q in first["systems"][name]["per_query"].values()] == [
            q["top10"] for q in second["systems"][name]["per_query"].values()
        ]
    other = evaluate_retrieval(
        dataset,
        EvalConfig(index=IndexRecipe(embedder="hashing", chunk_tokens=100), systems=config.systems),
        cache=tmp_path / "cache",
    )
    assert other["index"]["cached"] is False  # another recipe, another index
    assert len([p for p in (tmp_path / "cache").iterdir() if p.is_dir()]) == 2  # beside each, its lock file


def _answer(text: str, citations: Sequence[Citation], refused: bool = False) -> Answer:
    return Answer("q", text, tuple(citations), refused=refused)


def _cite(marker: int, doc: str, quote: str, pages: tuple[int, ...] = (1,)) -> Citation:
    return Citation(marker, doc, doc, pages, quote, 0, len(quote), 0.9)


def test_case_records_and_their_aggregate_by_hand() -> None:
    gold = (ExpectedSource("manual.pdf", None, (2,)),)
    right = AnswerCase("a", "How long is the warranty?", True, ("5 years",), gold)
    yes_no = AnswerCase("b", "Is it covered?", True, ("Yes",), gold)
    missing = AnswerCase("c", "Unknown?", False)
    records = [
        case_record(
            right,
            _answer(
                "The warranty lasts 5 years. [1] Returns take 45 days. [2]",
                [
                    _cite(1, "manual.pdf", "The warranty lasts 5 years.", (2,)),
                    _cite(2, "policy.docx", "Unrelated text"),
                ],
            ),
            10.0,
        ),
        case_record(yes_no, _answer("refused", [], refused=True), 20.0),
        case_record(missing, _answer("It is blue. [1]", [_cite(1, "x", "It is blue.")]), 30.0),
    ]
    assert records[0]["contained"] == 1.0 and records[0]["gold_cited"] == 1.0
    assert records[0]["citations_on_gold"] == [1, 2]
    assert records[0]["supported"] == [1, 2]  # the second sentence's quote does not back it
    assert records[1]["contained"] is None and records[1]["f1"] == 0.0 and records[1]["gold_cited"] == 0.0
    totals = aggregate_answers(records)
    assert totals["answerable"] == 2 and totals["unanswerable"] == 1
    assert totals["gold_answer_contained"] == 1.0
    assert totals["gold_source_cited"] == 0.5
    assert totals["citation_precision"] == 0.5
    assert totals["citation_support"] == pytest.approx(2 / 3, abs=1e-4)
    assert totals["refusal_precision"] == 0.0  # the one refusal was of an answerable question
    assert totals["refusal_recall"] == 0.0
    assert totals["p50_ms"] == 20.0


def test_cited_sentences_pair_each_marker_with_its_quote() -> None:
    answer = _answer(
        "One. [1] Two [2][3] three.", [_cite(1, "a", "q1"), _cite(2, "b", "q2"), _cite(3, "c", "q3")]
    )
    assert cited_sentences(answer) == [("One.", "q1"), ("Two", "q2"), ("Two", "q3")]


def test_answer_run_refuses_what_the_corpus_cannot_answer(tmp_path: Path) -> None:
    from eval.datasets import Corpus, CorpusDoc

    docs = tuple(CorpusDoc(f"d{i}", "", f"The {w} is described here in detail.") for i, w in enumerate(WORDS))
    corpus = Corpus("tiny", "f" * 64, docs=docs)
    cases = (
        AnswerCase(
            "in",
            "What about the volcano lava basalt?",
            True,
            ("volcano lava basalt",),
            (ExpectedSource("d1", "d1"),),
        ),
        AnswerCase("out", "Who painted the ceiling of the chapel?", False),
    )
    run = evaluate_answers(
        AnswerSet("tiny", "dev", corpus, cases),
        EvalConfig(index=IndexRecipe(embedder="hashing")),
        cache=tmp_path,
    )
    assert run["per_case"]["in"]["gold_cited"] == 1.0
    assert run["per_case"]["out"]["refused"] is True
    assert run["metrics"]["refusal_precision"] == 1.0 and run["metrics"]["refusal_recall"] == 1.0


def _retrieval_run(values: dict[str, float]) -> dict[str, Any]:
    per_query = {
        q: {"ndcg@10": v, "recall@10": v, "recall@100": v, "precision@10": v / 10, "mrr@10": v, "ms": 1.0}
        for q, v in values.items()
    }
    return {
        "kind": "retrieval",
        "dataset": "d",
        "split": "dev",
        "queries": {q: q for q in values},
        "systems": {"s": {"per_query": per_query}},
    }


def test_compare_finds_no_change_between_equal_runs_and_a_clear_one_otherwise() -> None:
    base = {f"q{i}": (i % 5) / 5 for i in range(40)}
    same = compare_runs(_retrieval_run(base), _retrieval_run(base), resamples=200)
    assert all(d.delta == 0 and d.low == 0 and d.high == 0 and not d.significant for d in same.differences)
    assert same.changed == []
    better = {q: min(v + 0.2, 1.0) for q, v in base.items()}
    diff = compare_runs(_retrieval_run(base), _retrieval_run(better), resamples=200, top=3)
    ndcg = next(d for d in diff.differences if d.metric == "ndcg@10")
    assert ndcg.delta > 0.1 and ndcg.significant and ndcg.low > 0
    assert len(diff.changed) == 3 and all(c.b > c.a for c in diff.changed)
    with pytest.raises(InvalidInput, match="no system 'x'"):
        compare_runs(_retrieval_run(base), _retrieval_run(base), system_a="x")
    other = _retrieval_run(base) | {"dataset": "e"}
    with pytest.raises(InvalidInput, match="different data"):
        compare_runs(_retrieval_run(base), other)


def test_paired_bootstrap_interval_contains_the_observed_difference() -> None:
    a = [{"x": float(i % 2)} for i in range(30)]
    b = [{"x": float(i % 2) + 0.1} for i in range(30)]
    low, high = paired_bootstrap(
        a, b, lambda rs: {"x": sum(r["x"] for r in rs) / len(rs)}, ["x"], resamples=100
    )["x"]
    assert low == pytest.approx(0.1) and high == pytest.approx(0.1)  # a constant shift has no spread


def test_gate_fails_drops_beyond_tolerance_only() -> None:
    check = {
        "name": "c",
        "tolerance": {"ndcg@10": 0.01, "recall@100": 0.02},
        "metrics": {"dense": {"ndcg@10": 0.70, "recall@100": 0.90}},
    }
    verdicts = judge(check, {"dense": {"ndcg@10": 0.685, "recall@100": 0.885}})
    by_metric = {v.metric: v for v in verdicts}
    assert by_metric["ndcg@10"].failed and not by_metric["recall@100"].failed
    assert judge(check, {"dense": {"ndcg@10": 0.75, "recall@100": 0.9}})[0].improved
    with pytest.raises(InvalidInput, match="measured no dense/recall@100"):
        judge(check, {"dense": {"ndcg@10": 0.7}})
    baseline = {"about": "x", "checks": [check]}
    new = updated_baseline(copy.deepcopy(baseline), {"c": {"dense": {"ndcg@10": 0.71, "recall@100": 0.9}}})
    assert new["checks"][0]["tolerance"] == check["tolerance"]
    assert new["checks"][0]["metrics"]["dense"]["ndcg@10"] == 0.71 and new["about"] == "x"
