"""Run a retrieval set or an answer set through the product's own search and answer code.

A run is plain JSON (so it can be committed, diffed and compared later): per query or case the
figures that the aggregate metrics are computed from, and the aggregates themselves.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from core.domain import Answer, Citation, Passage
from core.golden import CATEGORIES, UNCATEGORISED, ExpectedSource
from core.protocols import Embedder, Generator, SearchFilter, SearchRequest, VectorStore
from eval import metrics as M
from eval.config import AnswerConfig, EvalConfig, SystemConfig
from eval.datasets import AnswerCase, AnswerSet, RetrievalSet
from eval.index import open_index

if TYPE_CHECKING:
    from core.catalog import Catalog
    from retrieval.answering import Answering

Tick = Callable[[], None]
RETRIEVAL_KEYS = ("ndcg@10", "recall@10", "recall@100", "precision@10", "mrr@10")


def by_score(passages: Sequence[Passage]) -> list[Passage]:
    """Best first; equal scores ordered by chunk id, so a run is reproducible."""
    return sorted(passages, key=lambda p: (-p.score, p.chunk_id))


def ranked(passages: Sequence[Passage]) -> list[str]:
    """Document ids in the order given (a reranker's order is not its scores' order: only its
    head is re-scored), each once."""
    return M.dedupe(p.document_id for p in passages)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("sourcebook")
    except PackageNotFoundError:
        return "unknown"


def _header(kind: str, name: str, split: str, fingerprint: str, config: EvalConfig) -> dict[str, Any]:
    return {
        "kind": kind,
        "dataset": name,
        "split": split,
        "corpus_sha256": fingerprint,
        "config": config.to_json(),
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "sourcebook": _version(),
    }


# --- retrieval -----------------------------------------------------------------------------------


def query_metrics(ranking: Sequence[str], qrels: M.Qrels) -> dict[str, float]:
    return {
        "ndcg@10": M.ndcg_at(ranking, qrels, 10),
        "recall@10": M.recall_at(ranking, qrels, 10),
        "recall@100": M.recall_at(ranking, qrels, 100),
        "precision@10": M.precision_at(ranking, qrels, 10),
        "mrr@10": M.mrr_at(ranking, qrels, 10),
    }


def aggregate_retrieval(records: Sequence[dict[str, Any]]) -> dict[str, float]:
    out = {key: round(M.mean(r[key] for r in records), 4) for key in RETRIEVAL_KEYS}
    out |= M.latency_summary([r["ms"] for r in records])
    return out


def _searcher(
    system: SystemConfig, store: VectorStore, embedder: Embedder, vectors: dict[str, list[float]]
) -> Callable[[str, str], list[Passage]]:
    if system.reranker == "sentence":
        from ingest.embed import CachingEmbedder
        from retrieval.rerank import SentenceReranker
        from retrieval.search import Searcher

        searcher = Searcher(
            store,
            embedder,
            SentenceReranker(CachingEmbedder(embedder)),
            candidates=system.depth,
            duplicate_threshold=1.01,  # a corpus of abstracts has no repeats to collapse
            fusion=system.fusion,
        )
        return lambda _qid, text: searcher.search(text, SearchFilter(), limit=system.depth, mode=system.mode)

    def run(qid: str, text: str) -> list[Passage]:
        vector = vectors[qid] if system.mode != "sparse" else None
        request = SearchRequest(
            text, vector, system.depth, system.mode, candidates=system.candidates, fusion=system.fusion
        )
        return by_score(store.search(request))

    return run


def run_retrieval(
    dataset: RetrievalSet,
    store: VectorStore,
    embedder: Embedder,
    config: EvalConfig,
    *,
    tick: Tick | None = None,
) -> dict[str, Any]:
    """Every system of ``config`` over every query; the query embeddings are computed once."""
    ids = list(dataset.queries)
    vectors = {
        qid: v.tolist() for qid, v in zip(ids, embedder.embed([dataset.queries[q] for q in ids]), strict=True)
    }
    systems: dict[str, Any] = {}
    for name, system in config.systems.items():
        search = _searcher(system, store, embedder, vectors)
        per_query: dict[str, dict[str, Any]] = {}
        for qid in ids:
            started = time.perf_counter()
            ranking = ranked(search(qid, dataset.queries[qid]))
            ms = (time.perf_counter() - started) * 1000
            per_query[qid] = query_metrics(ranking, dataset.qrels[qid]) | {
                "ms": round(ms, 2),
                "top10": ranking[:10],
            }
            if tick:
                tick()
        systems[name] = {
            "config": asdict(system),
            "metrics": aggregate_retrieval(list(per_query.values())),
            "per_query": per_query,
        }
    run = _header("retrieval", dataset.name, dataset.split, dataset.corpus.fingerprint, config)
    return run | {"queries": {q: dataset.queries[q] for q in ids}, "systems": systems}


# --- answers -------------------------------------------------------------------------------------

_CITED = re.compile(r"(.+?)((?:\s*\[\d+\])+)", re.S)
_MARKER = re.compile(r"\[(\d+)\]")


def cited_sentences(answer: Answer) -> list[tuple[str, str]]:
    """(sentence, quote it cites) for every marker in the answer text."""
    quotes = {c.marker: c.quote for c in answer.citations}
    pairs = []
    for match in _CITED.finditer(answer.text):
        sentence = match.group(1).strip()
        for marker in _MARKER.findall(match.group(2)):
            pairs.append((sentence, quotes.get(int(marker), "")))
    return pairs


def _matches(document_id: str, title: str, pages: Sequence[int], source: ExpectedSource) -> bool:
    same = document_id == source.document_id or title == source.source_name
    return same and (not source.pages or bool(set(pages) & set(source.pages)))


def facts_found(text: str, facts: Sequence[str]) -> list[bool]:
    """Whether each expected fact occurs in the answer, both normalised (case, punctuation,
    articles, spacing), on word boundaries."""
    return [M.contains_answer(text, [fact]) == 1.0 for fact in facts]


def verbatim(citation: Citation, passages: Sequence[Passage]) -> bool:
    """Whether a citation's quote is, character for character, text of a passage of the cited
    document that the answer was given."""
    return bool(citation.quote) and any(
        p.document_id == citation.document_id and citation.quote in p.text for p in passages
    )


def case_record(case: AnswerCase, answer: Answer, ms: float) -> dict[str, Any]:
    """What one answer scored; None where a figure does not apply to the case."""
    answered = not answer.refused
    golds = [a for a in case.answers if a]
    record: dict[str, Any] = {
        "question": case.question,
        "category": case.category,
        "answerable": case.answerable,
        "refused": answer.refused,
        "answer": answer.text,
        "citations": [
            {"document_id": c.document_id, "title": c.title, "pages": list(c.pages)} for c in answer.citations
        ],
        "ms": round(ms, 1),
        "contained": None,
        "f1": None,
        "em": None,
        "gold_cited": None,
        "citations_on_gold": None,
        "supported": None,
        "correct": None,
        "facts_found": None,
        "verbatim": None,
    }
    if case.answerable and case.facts:
        found = facts_found(answer.text, case.facts) if answered else [False] * len(case.facts)
        record["facts_found"] = [sum(found), len(found)]
        record["correct"] = float(answered and all(found))
    if case.answerable and golds:
        record["f1"] = M.token_f1(answer.text, golds) if answered else 0.0
        record["em"] = M.exact_match(answer.text, golds) if answered else 0.0
        if not M.is_yes_no(golds):
            record["contained"] = M.contains_answer(answer.text, golds) if answered else 0.0
    if case.answerable and case.sources:
        hits = [
            any(_matches(c.document_id, c.title, c.pages, s) for s in case.sources) for c in answer.citations
        ]
        record["gold_cited"] = float(answered and any(hits))
        if answered and hits:
            record["citations_on_gold"] = [sum(hits), len(hits)]
    if answered:
        pairs = cited_sentences(answer)
        record["supported"] = [sum(M.supported(s, q) for s, q in pairs), len(pairs)]
        if answer.citations and answer.passages:
            exact = [verbatim(c, answer.passages) for c in answer.citations]
            record["verbatim"] = [sum(exact), len(exact)]
    return record


def _ratio(records: Sequence[dict[str, Any]], key: str) -> float | None:
    pairs = [r[key] for r in records if r.get(key) is not None]
    total = sum(p[1] for p in pairs)
    return round(sum(p[0] for p in pairs) / total, 4) if total else None


def _share(records: Sequence[dict[str, Any]], key: str) -> float | None:
    values = [r[key] for r in records if r.get(key) is not None]
    return round(M.mean(values), 4) if values else None


def aggregate_answers(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    precision, recall = M.refusal_scores([r["answerable"] for r in records], [r["refused"] for r in records])
    return {
        "cases": len(records),
        "answerable": sum(r["answerable"] for r in records),
        "unanswerable": sum(not r["answerable"] for r in records),
        "gold_answer_contained": _share(records, "contained"),
        "token_f1": _share(records, "f1"),
        "exact_match": _share(records, "em"),
        "gold_source_cited": _share(records, "gold_cited"),  # citation recall
        "citation_precision": _ratio(records, "citations_on_gold"),
        "citation_support": _ratio(records, "supported"),
        "refusal_precision": round(precision, 4),
        "refusal_recall": round(recall, 4),
        "correct": _share(records, "correct"),
        "false_refusals": _rate([r["refused"] for r in records if r["answerable"]]),
        "citation_verbatim": _ratio(records, "verbatim"),
    } | M.latency_summary([r["ms"] for r in records])


def _rate(flags: Sequence[bool]) -> float | None:
    return round(sum(flags) / len(flags), 4) if flags else None


def by_category(records: Sequence[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per category of case (the golden format's categories in their order, then any others)
    and ``all``: how many cases, the share of answerable ones answered correctly (not refused,
    every expected fact in the answer), refused although answerable, unanswerable ones refused,
    and citations quoted verbatim."""
    found: dict[str, list[dict[str, Any]]] = {}
    for r in records:
        found.setdefault(r.get("category") or UNCATEGORISED, []).append(r)
    order = [c for c in CATEGORIES if c in found] + [c for c in found if c not in CATEGORIES]
    groups = {name: found[name] for name in order}
    if records:
        groups["all"] = list(records)
    return {
        name: {
            "cases": len(rs),
            "answerable": sum(r["answerable"] for r in rs),
            "unanswerable": sum(not r["answerable"] for r in rs),
            "correct": _share(rs, "correct"),
            "false_refusals": _rate([r["refused"] for r in rs if r["answerable"]]),
            "unanswerable_refused": _rate([r["refused"] for r in rs if not r["answerable"]]),
            "citation_verbatim": _ratio(rs, "verbatim"),
        }
        for name, rs in groups.items()
    }


def run_answers(
    dataset: AnswerSet,
    store: VectorStore,
    embedder: Embedder,
    config: EvalConfig,
    *,
    tick: Tick | None = None,
) -> dict[str, Any]:
    """Search, then answer, every case as the product does (``sourcebook ask``)."""
    from ingest.embed import CachingEmbedder
    from retrieval.extractive import ExtractiveGenerator
    from retrieval.rerank import SentenceReranker
    from retrieval.search import Searcher

    options: AnswerConfig = config.answers
    cached = CachingEmbedder(embedder)  # one cache for the question and the sentences, as the product has
    reranker = SentenceReranker(cached) if options.reranker == "sentence" else None
    searcher = Searcher(store, cached, reranker, fusion=options.fusion)
    generator = ExtractiveGenerator(cached, threshold=options.threshold)

    def ask(case: AnswerCase) -> Answer:
        passages = searcher.search(case.question, SearchFilter(), limit=options.passages, mode=options.mode)
        return generator.answer(case.question, passages)

    run = _header("answers", dataset.name, dataset.split, dataset.corpus.fingerprint, config)
    return run | {"threshold": generator.threshold} | _answer_all(dataset, ask, tick)


def _answer_all(dataset: AnswerSet, ask: Callable[[AnswerCase], Answer], tick: Tick | None) -> dict[str, Any]:
    records: dict[str, dict[str, Any]] = {}
    for case in dataset.cases:
        started = time.perf_counter()
        answer = ask(case)
        records[case.id] = case_record(case, answer, (time.perf_counter() - started) * 1000)
        if tick:
            tick()
    return {
        "skipped": list(dataset.skipped),
        "metrics": aggregate_answers(list(records.values())),
        "by_category": by_category(list(records.values())),
        "per_case": records,
    }


class LiveServices(Protocol):
    """What a live run asks of a configured Sourcebook (the shell's composition root builds it)."""

    @property
    def catalog(self) -> Catalog: ...

    @property
    def answering(self) -> Answering: ...

    @property
    def generator(self) -> Generator: ...

    @property
    def provenance(self) -> tuple[tuple[str, str], ...]: ...

    def close(self) -> None: ...


def evaluate_answers_live(
    dataset: AnswerSet, services: LiveServices, *, progress: Progress | None = None
) -> dict[str, Any]:
    """A golden set asked of a running configuration's own collections, searcher and generator
    (the answering use case's search and generation, without quota, cache or answer log): what
    the product answers now, with whatever generator, reranker and prompt its settings choose."""

    def ask(case: AnswerCase) -> Answer:
        scope = SearchFilter(collections=(case.collection,) if case.collection else ())
        return services.answering.generate(case.question, scope, passages=6)[0]

    advance = progress.task(f"answering {dataset.name}", len(dataset.cases)) if progress else None
    run = _header("answers", dataset.name, dataset.split, "", EvalConfig())
    return (
        run
        | {
            "config": {"live": dict(services.provenance)},
            "threshold": getattr(services.generator, "threshold", None),
        }
        | _answer_all(dataset, ask, (lambda: advance(1)) if advance else None)
    )


# --- whole evaluations: index (cached), then run ---------------------------------------------------


class Progress(Protocol):
    """Shows long work; ``task`` returns a function that advances the new task by ``n``."""

    def task(self, description: str, total: int) -> Callable[[int], None]: ...


def _embedder(config: EvalConfig) -> Embedder:
    """The packaged model, the test double, or a tuned model by its name (``minilm-acme-1``)."""
    from ingest.embed import create_embedder

    try:
        return create_embedder(config.index.embedder)
    except ValueError:
        from core.settings import Settings
        from ingest.models import ModelRegistry

        return ModelRegistry(Settings().models_dir).embedder(config.index.embedder)


def _index_progress(progress: Progress | None, corpus: str) -> Callable[[int, int], None] | None:
    if progress is None:
        return None
    state: dict[str, Any] = {}

    def update(done: int, total: int) -> None:
        if "advance" not in state:
            state["advance"], state["done"] = progress.task(f"indexing {corpus}", total), 0
        state["advance"](done - state["done"])
        state["done"] = done

    return update


def evaluate_retrieval(
    dataset: RetrievalSet, config: EvalConfig, *, cache: Path | None = None, progress: Progress | None = None
) -> dict[str, Any]:
    embedder = _embedder(config)
    with open_index(
        dataset.corpus, config.index, embedder, cache=cache, progress=_index_progress(progress, dataset.name)
    ) as index:
        total = len(dataset.queries) * len(config.systems)
        advance = progress.task(f"querying {dataset.name}", total) if progress else None
        run = run_retrieval(
            dataset, index.store, embedder, config, tick=(lambda: advance(1)) if advance else None
        )
        return run | {
            "index": {"chunks": index.chunks, "cached": not index.built, "folder": str(index.folder)}
        }


def evaluate_answers(
    dataset: AnswerSet, config: EvalConfig, *, cache: Path | None = None, progress: Progress | None = None
) -> dict[str, Any]:
    embedder = _embedder(config)
    with open_index(
        dataset.corpus, config.index, embedder, cache=cache, progress=_index_progress(progress, dataset.name)
    ) as index:
        advance = progress.task(f"answering {dataset.name}", len(dataset.cases)) if progress else None
        run = run_answers(
            dataset, index.store, embedder, config, tick=(lambda: advance(1)) if advance else None
        )
        return run | {
            "index": {"chunks": index.chunks, "cached": not index.built, "folder": str(index.folder)}
        }
