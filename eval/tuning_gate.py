"""The tuning gate: a tuned embedder is offered only when it measurably beats the current one.

Each check (a collection's held-apart golden cases; a dataset's dev split) is run with the current
model and with the tuned one, and compared with ``eval compare``'s paired bootstrap. The model
passes when, in every check, some retrieval system's key metric (nDCG@10) rose by more than its
95% interval (the interval's low end above 0), and no system's metric fell past the regression
gate's tolerance with an interval wholly below 0.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from core.domain import Chunk, Document
from core.golden import GoldenCase
from core.protocols import Embedder, SearchMode, SearchRequest
from eval.compare import Comparison, compare_runs
from eval.config import Fusion
from eval.runner import aggregate_retrieval, query_metrics
from ingest.training_pairs import ChunkFinder, question_key

KEY = "ndcg@10"
# The regression gate's retrieval tolerances (eval/baseline.json, scifact-dev); other metrics: 0.02.
TOLERANCE = {"ndcg@10": 0.01, "recall@100": 0.02, "mrr@10": 0.015}
# The systems judged: the model alone, and the product's default search (hybrid, DBSF fusion).
SYSTEMS: dict[str, tuple[SearchMode, Fusion]] = {"dense": ("dense", "rrf"), "hybrid-dbsf": ("hybrid", "dbsf")}


def held_apart(
    cases: Sequence[GoldenCase], share: float = 0.3, seed: int = 0
) -> tuple[list[GoldenCase], list[GoldenCase]]:
    """(training, held-apart) golden cases, split by question (a question asked twice falls on
    one side), the same way for the same seed. With two or more questions, each side has one."""
    keys = sorted({question_key(c.question or "") for c in cases})
    rank = sorted(keys, key=lambda k: hashlib.sha256(f"{seed}:{k}".encode()).hexdigest())
    count = min(max(round(len(rank) * share), 1), len(rank) - 1) if len(rank) > 1 else 0
    held = set(rank[:count])
    return (
        [c for c in cases if question_key(c.question or "") not in held],
        [c for c in cases if question_key(c.question or "") in held],
    )


def golden_qrels(cases: Sequence[GoldenCase], finder: ChunkFinder) -> dict[str, dict[str, int]]:
    """Per answerable case: every chunk on its gold sources' pages is relevant."""
    qrels: dict[str, dict[str, int]] = {}
    for case in cases:
        if not case.answerable or not case.question:
            continue
        gold = {
            c.id
            for s in case.expected_sources
            for d in finder.documents(s)
            for c in finder.chunks(d.id)
            if not s.pages or set(c.pages) & set(s.pages)
        }
        if gold:
            qrels[case.id] = dict.fromkeys(sorted(gold), 1)
    return qrels


def collection_run(
    name: str,
    cases: Sequence[GoldenCase],
    documents: Sequence[Document],
    finder: ChunkFinder,
    embedder: Embedder,
) -> dict[str, Any]:
    """Held-apart golden cases over a throwaway index of the collection's chunks embedded by
    ``embedder``: a retrieval run (chunk-level relevance), comparable with ``compare_runs``."""
    from retrieval.stores.edge import EdgeVectorStore

    qrels = golden_qrels(cases, finder)
    questions = {c.id: c.question or "" for c in cases if c.id in qrels}
    with tempfile.TemporaryDirectory(prefix="sourcebook-tune-eval-") as scratch:
        store = EdgeVectorStore(Path(scratch) / "qdrant", embedder.dimension)
        try:
            for document in documents:
                chunks: list[Chunk] = finder.chunks(document.id)
                if chunks:
                    store.upsert(document, chunks, embedder.embed([c.embedding_text for c in chunks]))
            ids = list(questions)
            vectors = dict(zip(ids, embedder.embed([questions[q] for q in ids]), strict=True))
            systems: dict[str, Any] = {}
            for system, (mode, fusion) in SYSTEMS.items():
                per_query = {}
                for qid in ids:
                    request = SearchRequest(
                        questions[qid],
                        vectors[qid].tolist(),
                        100,
                        mode,
                        candidates=200,
                        fusion=fusion,
                    )
                    hits = sorted(store.search(request), key=lambda p: (-p.score, p.chunk_id))
                    ranking = [p.chunk_id for p in hits]
                    per_query[qid] = query_metrics(ranking, qrels[qid]) | {"ms": 0.0, "top10": ranking[:10]}
                systems[system] = {
                    "metrics": aggregate_retrieval(list(per_query.values())),
                    "per_query": per_query,
                }
        finally:
            store.close()
    return {
        "kind": "retrieval",
        "dataset": name,
        "split": "held-apart",
        "embedder": embedder.name,
        "queries": questions,
        "systems": systems,
    }


@dataclass(frozen=True)
class CheckVerdict:
    check: str
    improved: list[str]  # "<system> <metric> +0.0312 [+0.0101, +0.0533]"
    regressed: list[str]
    comparisons: dict[str, Comparison] = field(repr=False)

    @property
    def passed(self) -> bool:
        return bool(self.improved) and not self.regressed


@dataclass(frozen=True)
class GateDecision:
    offered: bool
    checks: list[CheckVerdict]

    @property
    def reasons(self) -> list[str]:
        if not self.checks:
            return ["no evaluation set: nothing held apart to judge the model on"]
        out = []
        for v in self.checks:
            if v.regressed:
                out.append(f"{v.check}: regressed: " + "; ".join(v.regressed))
            if not v.improved:
                out.append(f"{v.check}: no system's {KEY} rose by more than its 95% interval")
            if v.passed:
                out.append(f"{v.check}: improved: " + "; ".join(v.improved))
        return out

    def to_json(self, top: int = 10) -> dict[str, Any]:
        """What the model's metadata keeps: the verdict, each check's figures and moved queries."""
        return {
            "offered": self.offered,
            "reasons": self.reasons,
            "checks": {
                v.check: {
                    "passed": v.passed,
                    "systems": {
                        system: {
                            "differences": [asdict(d) for d in c.differences if d.metric in TOLERANCE],
                            "moved": [asdict(m) for m in c.changed[:top]],
                        }
                        for system, c in v.comparisons.items()
                    },
                }
                for v in self.checks
            },
        }


def _line(system: str, d: Any) -> str:
    return f"{system} {d.metric} {d.delta:+.4f} [{d.low:+.4f}, {d.high:+.4f}]"


def judge_check(name: str, comparisons: Mapping[str, Comparison]) -> CheckVerdict:
    improved, regressed = [], []
    for system, comparison in comparisons.items():
        for d in comparison.differences:
            if d.metric not in TOLERANCE:
                continue
            if d.metric == KEY and d.low > 0:
                improved.append(_line(system, d))
            if d.delta < -TOLERANCE[d.metric] and d.high < 0:
                regressed.append(_line(system, d))
    return CheckVerdict(name, improved, regressed, dict(comparisons))


def compare_check(
    name: str, current: dict[str, Any], tuned: dict[str, Any], systems: Sequence[str]
) -> CheckVerdict:
    """One check's runs (the same queries, current and tuned model) judged system by system."""
    comparisons = {s: compare_runs(current, tuned, system_a=s, system_b=s, top=10) for s in systems}
    return judge_check(name, comparisons)


def decide(checks: Sequence[CheckVerdict]) -> GateDecision:
    return GateDecision(bool(checks) and all(v.passed for v in checks), list(checks))
