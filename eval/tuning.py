"""``sourcebook tune`` as one use case: gather pairs, mine hard negatives, train, then gate.

The collection's golden cases are split by question: most train, the rest are held apart to judge
the model by (with a dataset's dev split when one is given); training and judging never share a
question. The tuned model is written under ``models/<name>-<n>`` whatever the verdict, with the
gate's result in its metadata: ``offered`` says whether it may be put to use.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from core.domain import Passage
from core.errors import InvalidInput
from core.golden import GoldenCase, load_golden, parse_case
from core.protocols import Embedder, SearchFilter, SearchRequest, VectorStore
from eval.runner import Progress
from eval.tuning_gate import (
    SYSTEMS,
    CheckVerdict,
    GateDecision,
    collection_run,
    compare_check,
    decide,
    held_apart,
)
from ingest.training_pairs import (
    ChunkFinder,
    Pair,
    check_disjoint,
    dataset_pairs,
    dedupe,
    golden_pairs,
    helpful_pairs,
    question_key,
    review_pairs,
    source_summary,
    with_hard_negatives,
)
from ingest.tune import TuneSettings, next_folder, train, write_meta

if TYPE_CHECKING:
    from core.catalog import Catalog
    from core.catalog.golden import GoldenSets
    from core.catalog.review import ReviewQueue
    from eval.datasets import RetrievalSet

NEGATIVE_DEPTH = 20  # how far down the current ranking hard negatives are looked for, past the skipped ones


class TuneServices(Protocol):
    """What tuning asks of a configured Sourcebook (the shell's composition root has it all)."""

    @property
    def catalog(self) -> Catalog: ...

    @property
    def review_queue(self) -> ReviewQueue: ...

    @property
    def golden_sets(self) -> GoldenSets: ...

    @property
    def store(self) -> VectorStore: ...

    @property
    def model(self) -> Embedder: ...


@dataclass(frozen=True)
class TuneRequest:
    collection: str
    name: str
    home: Path
    settings: TuneSettings = field(default_factory=TuneSettings)
    dataset: Path | None = None
    split: str = "train"
    eval_split: str = "dev"
    held_share: float = 0.3
    golden_files: tuple[Path, ...] = ()
    limit: int = 0  # only the first N queries of the dataset's training split (0: all)
    eval_limit: int = 0
    cache: Path | None = None  # the eval index cache


@dataclass
class TuneOutcome:
    folder: Path
    meta: dict[str, Any]
    decision: GateDecision
    pairs: int
    examples: int
    runs: dict[str, tuple[dict[str, Any], dict[str, Any]]]  # check → (current, tuned)


def collection_cases(services: TuneServices, collection: str, files: Sequence[Path]) -> list[GoldenCase]:
    """The collection's golden cases: the catalog's sets (promoted reviews) and the given files."""
    cases: list[GoldenCase] = []
    for name in services.golden_sets.names():
        for n, body in enumerate(services.golden_sets.cases(name)):
            if body.get("collection") == collection:
                cases.append(parse_case(body, where=f"golden set {name} case {n + 1}"))
    for path in files:
        cases += [c for c in load_golden(path) if c.collection == collection]
    return cases


def _hybrid_hits(
    store: VectorStore,
    embedder: Embedder,
    questions: Sequence[str],
    depth: int,
    search_filter: SearchFilter | None = None,
) -> list[list[Passage]]:
    """Each question's hits, hybrid (DBSF) as the product searches: a hard negative is what users'
    searches would wrongly rank high, not what the model alone would, which BM25 often already
    ranks right. Equal scores in the order of chunk ids, so the mined pairs are reproducible."""
    vectors = embedder.embed(list(questions))
    return [
        sorted(
            store.search(
                SearchRequest(
                    question,
                    vector.tolist(),
                    depth,
                    "hybrid",
                    search_filter or SearchFilter(),
                    fusion="dbsf",
                    with_sentences=False,
                )
            ),
            key=lambda p: (-p.score, p.chunk_id),
        )
        for question, vector in zip(questions, vectors, strict=True)
    ]


def _collection_search(
    services: TuneServices, collection: str, finder: ChunkFinder, depth: int
) -> Callable[[Sequence[str]], list[list[tuple[str, str]]]]:
    """Hits of the live index (the current model) with the text the embedder saw for each chunk."""

    def search(questions: Sequence[str]) -> list[list[tuple[str, str]]]:
        found = _hybrid_hits(
            services.store, services.model, questions, depth, SearchFilter(collections=(collection,))
        )
        out = []
        for hits in found:
            texts = []
            for p in hits:
                chunk = next((c for c in finder.chunks(p.document_id) if c.id == p.chunk_id), None)
                texts.append((p.chunk_id, chunk.embedding_text if chunk else p.text))
            out.append(texts)
        return out

    return search


def _recipe_name(embedder: Embedder) -> str:
    """The eval's name for an embedder, so its cached index of a corpus is found again."""
    from ingest.embed import MINILM

    return "minilm" if embedder.name == MINILM else embedder.name


def _beir_text(title: str, text: str) -> str:
    """A BEIR document as the eval index embeds it: its title as the heading."""
    return f"{title}\n\n{text}" if title else text


def _dataset_search(
    data: RetrievalSet, embedder: Embedder, cache: Path | None, progress: Progress | None, depth: int
) -> Callable[[Sequence[str]], list[list[tuple[str, str]]]]:
    """The current model's ranking of a dataset's corpus (its eval index), as for a collection."""
    from eval.config import EvalConfig
    from eval.index import open_index

    texts = {d.id: _beir_text(d.title, d.text) for d in data.corpus.docs}

    def search(questions: Sequence[str]) -> list[list[tuple[str, str]]]:
        recipe = replace(EvalConfig().index, embedder=_recipe_name(embedder))
        with open_index(data.corpus, recipe, embedder, cache=cache) as index:
            found = _hybrid_hits(index.store, embedder, questions, depth)
        return [[(p.document_id, texts[p.document_id]) for p in hits] for hits in found]

    return search


def _dataset_runs(
    request: TuneRequest, current: Embedder, tuned_name: str, progress: Progress | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    from eval.config import EvalConfig, SystemConfig, with_embedder
    from eval.datasets import load_beir
    from eval.runner import evaluate_retrieval

    assert request.dataset is not None
    dev = load_beir(request.dataset, request.eval_split).limited(request.eval_limit)
    systems = {name: SystemConfig(mode=mode, fusion=fusion) for name, (mode, fusion) in SYSTEMS.items()}
    config = EvalConfig(systems=systems)
    before = evaluate_retrieval(
        dev, with_embedder(config, _recipe_name(current)), cache=request.cache, progress=progress
    )
    after = evaluate_retrieval(dev, with_embedder(config, tuned_name), cache=request.cache, progress=progress)
    return before, after


def tune(
    request: TuneRequest,
    services: TuneServices,
    *,
    progress: Progress | None = None,
    say: Callable[[str], None] = lambda _line: None,
) -> TuneOutcome:
    """Gather, train, gate and keep a tuned model; the outcome says whether it is offered."""
    catalog = services.catalog
    catalog.collection_team(request.collection)  # NotFound names a missing collection
    finder = ChunkFinder(catalog.documents(request.collection), catalog.chunks)
    cases = collection_cases(services, request.collection, request.golden_files)
    train_cases, held = held_apart(cases, request.held_share, request.settings.seed)
    held_questions = [c.question or "" for c in held]

    closed = [(i.feedback, i.answer) for i in services.review_queue.items("closed", None)]
    votes = [(i.feedback, i.answer) for i in services.review_queue.items("none", None)]
    held_keys = {question_key(q) for q in held_questions}
    collection_pairs = [
        p
        for p in golden_pairs(train_cases, finder)
        + review_pairs(closed, finder)
        + helpful_pairs(votes, finder)
        if question_key(p.question)
        not in held_keys  # a review promoted to a held-apart case stays held apart
    ]

    eval_questions = list(held_questions)
    data_pairs: list[Pair] = []
    data_set = None
    if request.dataset is not None:
        from eval.datasets import load_beir

        if request.split == request.eval_split:
            raise InvalidInput(
                f"--split {request.split} is also the split the gate evaluates on: train on another split"
            )
        data_set = load_beir(request.dataset, request.split).limited(request.limit)
        docs = {d.id: _beir_text(d.title, d.text) for d in data_set.corpus.docs}
        data_pairs = dataset_pairs(data_set.name, request.split, data_set.queries, data_set.qrels, docs)
        eval_questions += list(load_beir(request.dataset, request.eval_split).queries.values())

    pairs = dedupe(collection_pairs + data_pairs)
    check_disjoint([p.question for p in pairs], eval_questions)
    say(
        f"{len(pairs)} training pairs ("
        + ", ".join(f"{s['source']} {s['pairs']}" for s in source_summary(pairs))
        + f"); {len(held)} golden case(s) held apart"
    )

    per, skip = request.settings.hard_negatives, request.settings.negatives_from
    depth = NEGATIVE_DEPTH + skip
    examples = with_hard_negatives(
        [p for p in pairs if not p.source.startswith("dataset:")],
        _collection_search(services, request.collection, finder, depth) if per else None,
        per,
        skip,
    )
    if data_set is not None:
        examples += with_hard_negatives(
            [p for p in pairs if p.source.startswith("dataset:")],
            _dataset_search(data_set, services.model, request.cache, progress, depth) if per else None,
            per,
            skip,
        )
    if per:
        past = f", past its best {skip} non-gold hits" if skip else ""
        say(f"{len(examples)} examples with {per} hard negative(s) each from the current index{past}")

    folder = next_folder(request.home, request.name)
    measured = train(examples, request.settings, folder)
    say(
        f"trained in {measured['train_seconds']} s (peak memory {measured['peak_rss_mib']:.0f} MiB): {folder}"
    )
    measured |= {"examples": len(examples)}
    sources = source_summary(pairs)
    write_meta(  # findable by name for the eval below; not offered until judged
        folder,
        settings=request.settings,
        training_data=sources,
        measured=measured,
        eval_result=None,
        offered=False,
    )

    from ingest.models import ModelCard, TunedEmbedder

    tuned = TunedEmbedder(ModelCard.read(folder))
    runs: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}
    verdicts: list[CheckVerdict] = []
    if any(c.answerable for c in held):
        name = f"{request.collection}-golden"
        documents = catalog.documents(request.collection)
        before = collection_run(name, held, documents, finder, services.model)
        after = collection_run(name, held, documents, finder, tuned)
        if before["queries"]:
            runs[name] = (before, after)
            verdicts.append(compare_check(name, before, after, list(SYSTEMS)))
    if request.dataset is not None:
        name = f"{request.dataset.name}-{request.eval_split}"
        runs[name] = _dataset_runs(request, services.model, tuned.name, progress)
        verdicts.append(compare_check(name, *runs[name], list(SYSTEMS)))
    decision = decide(verdicts)
    result = decision.to_json() | {
        "metrics": {
            check: {
                system: {
                    "current": before["systems"][system]["metrics"],
                    "tuned": after["systems"][system]["metrics"],
                }
                for system in SYSTEMS
            }
            for check, (before, after) in runs.items()
        },
        "current_model": services.model.name,
    }
    meta = write_meta(
        folder,
        settings=request.settings,
        training_data=sources,
        measured=measured,
        eval_result=result,
        offered=decision.offered,
    )
    return TuneOutcome(folder, meta, decision, len(pairs), len(examples), runs)
