"""Late chunking: do answers hold when the reranker and the extractive composer read sentence
vectors pooled out of their chunk's one forward pass, instead of sentences embedded on their own?

    SOURCEBOOK_EVAL_DATA=/work/shared/eval-data python -m bench.late_chunking [--checks NAME ...]
        [--reranker] [--cache DIR] [--latency [--docs 300] [--questions 60]] [--emanual]
        [--skip-answers]

Each answer check of eval/baseline.json (CMU, XQuAD, acme-support) runs twice over the same
cached index: ``independent`` (the question-time embedding the product does today) and ``late``
(an embedder that answers every sentence of the collection's chunks from one forward pass per
chunk, ``MiniLMEmbedder.embed_spans``, and embeds anything else, the questions, as before).
``--reranker`` runs both with the sentence reranker on as well (the gate's checks run without
it). The evidence model was fit on cosines of sentences embedded on their own: the run also
reports how far the question-to-sentence cosine moves when the sentence is late-chunked.

``--latency``: the first ``--docs`` SciFact abstracts, chunked as ingestion chunks them, embedded
three ways on one torch thread (chunk vectors only, as before; with late-chunked sentence vectors,
as now; and, the fallback design, every sentence embedded on its own besides), then written into
two Sourcebook homes: one whose shard was made before sentence vectors (its passages bring none,
so the question side embeds sentences as before) and one made now. Fresh questions (SciFact
train claims) go through ``answering.search`` and ``answering.ask`` of both, side by side, with
the sentence reranker on: in-process CPU ms and wall ms per call.
``--emanual``: the e-manual's 50 user questions over an index made with sentence vectors, answered
from them and from the same passages stripped of them (bench/emanual_answers.py's judgement).
Writes bench/results/late-chunking.json with the commit, the settings and the CPU flags; a run of
some parts keeps the others' figures from the file (each part says its commit).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bench.provenance import RESULTS, write_result
from core.domain import Chunk, Passage
from core.protocols import Embedder, Vectors
from eval.gate import DATA as _DATA
from eval.gate import load_baseline

DATA = Path(os.environ.get("SOURCEBOOK_EVAL_DATA", _DATA))  # a worktree sees it elsewhere
ANSWER_CHECKS = ("xquad-dev", "cmu-dev", "acme-golden")


def stored_chunks(store: Any) -> list[Chunk]:
    """Every chunk of an Edge store, rebuilt from its payload (a full scan, for this bench)."""
    import qdrant_edge as q

    chunks = []
    offset = None
    while True:
        points, offset = store._shard.scroll(
            q.ScrollRequest(offset=offset, limit=1000, with_payload=True, with_vector=False)
        )
        for point in points:
            p = point.payload or {}
            chunks.append(
                Chunk(
                    p["document_id"],
                    int(p["chunk_index"]),
                    p["text"],
                    tuple(p.get("pages", ())),
                    tuple(p.get("section_path", ())),
                    int(p.get("char_start", 0)),
                    int(p.get("char_end", 0)),
                    table_header=tuple(p.get("table_header", ())),
                )
            )
        if offset is None:
            return chunks


def sentence_texts(chunk: Chunk) -> list[tuple[str, int, int]]:
    """What the reranker and the composer embed of a chunk, each with its span in the chunk's
    embedding text: the sentences, the composer's units (a table row as its record), the
    section path line."""
    from retrieval.records import read_passage
    from retrieval.sentences import split_sentences

    text = chunk.embedding_text
    at = len(text) - len(chunk.text)  # embedding_text ends with chunk.text
    found: dict[str, tuple[int, int]] = {}
    for span in split_sentences(chunk.text):
        found.setdefault(span.text, (at + span.start, at + span.end))
    passage = Passage(
        chunk.id,
        chunk.document_id,
        "",
        "",
        chunk.text,
        chunk.pages,
        0.0,
        chunk.section_path,
        table_header=chunk.table_header,
    )
    for unit in read_passage(passage):
        found.setdefault(unit.said(()), (at + unit.start, at + unit.end))
    if chunk.section_path:
        path = " > ".join(chunk.section_path)
        found.setdefault(path, (0, len(path)))
    return [(t, a, b) for t, (a, b) in found.items()]


class LateChunked:
    """An embedder that knows the late-chunked vector of every sentence of a collection and
    embeds anything else (questions) with the model; it logs the question before each sentence
    batch so the cosine shift can be measured afterwards."""

    def __init__(self, inner: Any, chunks: Sequence[Chunk], batch: int = 256) -> None:
        self.inner = inner
        self.known: dict[str, Vectors] = {}
        self.served = 0
        self.missed = 0
        self.pairs: list[tuple[Vectors, list[str]]] = []
        self._question: Vectors | None = None
        started = time.perf_counter()
        for at in range(0, len(chunks), batch):
            part = chunks[at : at + batch]
            spans = [sentence_texts(c) for c in part]
            _, vectors = inner.embed_spans(
                [c.embedding_text for c in part], [[(a, b) for _, a, b in s] for s in spans]
            )
            for found, rows in zip(spans, vectors, strict=True):
                for (text, _, _), vector in zip(found, rows, strict=True):
                    self.known.setdefault(text, vector)
        self.seconds = time.perf_counter() - started

    @property
    def name(self) -> str:
        return str(self.inner.name)

    @property
    def dimension(self) -> int:
        return int(self.inner.dimension)

    def tokenize(self, text: str) -> list[int]:
        return list(self.inner.tokenize(text))

    def embed(self, texts: Sequence[str]) -> Vectors:
        unknown = [t for t in dict.fromkeys(texts) if t not in self.known]
        fresh = dict(zip(unknown, self.inner.embed(unknown), strict=True)) if unknown else {}
        self.missed += len(unknown)
        self.served += len(texts) - len(unknown)
        if len(unknown) == 1 and len(texts) == 1:
            self._question = fresh[unknown[0]]
        elif self._question is not None:
            self.pairs.append((self._question, [t for t in texts if t in self.known]))
        return np.stack([self.known[t] if t in self.known else fresh[t] for t in texts])


def cosine_shift(late: LateChunked, inner: Embedder, sample: int = 3000) -> dict[str, float]:
    """How the question-to-sentence cosine moves when the sentence is late-chunked."""
    rows = [(q, t) for q, texts in late.pairs for t in texts][:sample]
    if not rows:
        return {}
    independent = inner.embed([t for _, t in rows])
    questions = np.stack([q for q, _ in rows])
    pooled = np.stack([late.known[t] for _, t in rows])
    before = np.sum(questions * independent, axis=1)
    after = np.sum(questions * pooled, axis=1)
    return {
        "pairs": len(rows),
        "cosine_independent_mean": round(float(before.mean()), 4),
        "cosine_late_mean": round(float(after.mean()), 4),
        "shift_mean": round(float((after - before).mean()), 4),
        "shift_p10": round(float(np.percentile(after - before, 10)), 4),
        "shift_p90": round(float(np.percentile(after - before, 90)), 4),
        "correlation": round(float(np.corrcoef(before, after)[0, 1]), 4),
        "sentence_vector_agreement": round(float(np.mean(np.sum(independent * pooled, axis=1))), 4),
    }


def answer_check(check: dict[str, Any], reranker: bool, cache: Path | None) -> dict[str, Any]:
    """One answer check, both ways, over one index."""
    from eval.config import parse_config
    from eval.datasets import load_golden_set, load_qa
    from eval.gate import ROOT
    from eval.index import open_index
    from eval.runner import _embedder, run_answers

    config = parse_config(check.get("config") or {})
    if reranker:
        from dataclasses import replace

        config = replace(config, answers=replace(config.answers, reranker="sentence"))
    if check.get("corpus"):
        dataset = load_golden_set(ROOT / check["dataset"], ROOT / check["corpus"])
    else:
        dataset = load_qa(DATA / check["dataset"], check["split"])
    if check.get("negatives"):
        dataset = dataset.with_unanswerable(load_qa(DATA / check["negatives"], check["split"]))
    embedder = _embedder(config)
    keys = list(check["tolerance"])
    out: dict[str, Any] = {}
    with open_index(dataset.corpus, config.index, embedder, cache=cache) as index:
        started = time.perf_counter()
        plain = run_answers(dataset, index.store, embedder, config)
        out["independent_s"] = round(time.perf_counter() - started, 1)
        late = LateChunked(embedder, stored_chunks(index.store))
        out["pooling_s"] = round(late.seconds, 1)
        started = time.perf_counter()
        pooled = run_answers(dataset, index.store, late, config)
        out["late_s"] = round(time.perf_counter() - started, 1)
        out["sentences_served"], out["texts_embedded"] = late.served, late.missed
        out["cosine"] = cosine_shift(late, embedder)
    base = check["metrics"]["answers"]
    tolerance = check["tolerance"]
    for name, run in (("independent", plain), ("late", pooled)):
        figures = {k: run["metrics"].get(k) for k in keys}
        out[name] = figures
        out[f"{name}_fails_gate"] = [
            k for k in keys if figures[k] is not None and figures[k] < base[k] - tolerance[k] - 1e-9
        ]
    out["baseline"] = base
    changed = [
        c
        for c in plain["per_case"]
        if plain["per_case"][c].get("answer") != pooled["per_case"][c].get("answer")
    ]
    out["cases_answered_differently"] = len(changed)
    out["cases"] = len(plain["per_case"])
    return out


def _scifact(docs: int) -> tuple[list[Any], list[str]]:
    """The first ``docs`` abstracts as ingestion chunks them (title, then text), and the train claims."""
    from core.domain import Element, ElementKind

    folder = DATA / "beir-scifact"
    rows = [json.loads(line) for _, line in zip(range(docs), (folder / "corpus.jsonl").open(), strict=False)]
    claims = [json.loads(line)["text"] for line in (folder / "train" / "queries.jsonl").open()]
    elements = [
        (
            r["_id"],
            [Element(ElementKind.TITLE, r["title"], 1, level=1), Element(ElementKind.TEXT, r["text"], 1)],
        )
        for r in rows
    ]
    return elements, claims


def _timed(work: Any) -> tuple[Any, float, float]:
    """(result, CPU seconds of this process, wall seconds)."""
    cpu, wall = time.process_time(), time.perf_counter()
    result = work()
    return result, time.process_time() - cpu, time.perf_counter() - wall


def latency(docs: int, questions: int) -> dict[str, Any]:
    """Ingest cost three ways, then search and ask latency before and after, side by side."""
    import shutil
    import statistics
    import tempfile

    import torch

    from core.access import Principal, Role
    from core.domain import Document, DocumentStatus
    from core.protocols import SearchFilter
    from core.settings import Settings
    from ingest.chunk import Chunker
    from ingest.embed import MiniLMEmbedder
    from ingest.pipeline import embed_chunks
    from retrieval.records import sentence_spans
    from sourcebook.wiring import Services

    elements, claims = _scifact(docs)
    model = MiniLMEmbedder()
    model.embed(["load the model"])
    torch.set_num_threads(1)
    chunker = Chunker(model.tokenize, 220, 32)
    per_doc = [(doc_id, chunker.chunk(doc_id, parts)) for doc_id, parts in elements]
    chunks = [c for _, cs in per_doc for c in cs]
    ingest: dict[str, Any] = {"documents": docs, "chunks": len(chunks)}
    (plain, _), cpu, wall = _timed(lambda: embed_chunks(model, chunks, None))
    ingest["chunk_vectors_only"] = {"cpu_s": round(cpu, 2), "wall_s": round(wall, 2)}
    (vectors, sentences), cpu, wall = _timed(lambda: embed_chunks(model, chunks, sentence_spans))
    ingest["late_chunked"] = {"cpu_s": round(cpu, 2), "wall_s": round(wall, 2)}
    assert sentences is not None
    texts = [c.text[a:b] for c, s in zip(chunks, sentences, strict=True) for a, b in s.spans]
    texts += [" > ".join(c.section_path) for c in chunks if c.section_path]
    _, cpu, wall = _timed(lambda: model.embed(texts))
    ingest["independent_sentences_extra"] = {
        "texts": len(texts),
        "cpu_s": round(cpu, 2),
        "wall_s": round(wall, 2),
    }
    ingest["chunk_vector_agreement_min"] = round(float(np.min(np.sum(plain * vectors, axis=1))), 6)
    print(f"ingest: {ingest}", flush=True)

    root = Path(tempfile.mkdtemp(prefix="late-chunking-"))
    homes: dict[str, Services] = {}
    try:
        for name in ("before", "after"):
            settings = Settings(home=root / name, embedder="minilm", reranker="sentence", database_url=None)
            if name == "before":
                _old_shard(settings.index_dir / "minilm", model.dimension)
            services = Services.open(settings)
            services.catalog.ensure_collection("scifact")
            store = services.store
            at = 0
            for doc_id, own in per_doc:
                document = Document(
                    doc_id, "scifact", f"{doc_id}.txt", "text/plain", doc_id, 1, DocumentStatus.READY
                )
                rows = slice(at, at + len(own))
                store.upsert(document, own, vectors[rows], sentences[rows] if name == "after" else None)
                at += len(own)
            homes[name] = services
        admin = Principal("bench", Role.ADMIN, ())
        scope = SearchFilter(collections=("scifact",))
        for services in homes.values():  # load the models and the sentence splitter: not timed
            services.answering.ask(admin, claims[-1], scope, passages=5)
        timings: dict[str, dict[str, list[float]]] = {
            f"{home}.{call}": {"cpu_ms": [], "wall_ms": []} for home in homes for call in ("search", "ask")
        }
        # Each call its own fresh questions: an ask after a search of the same question would
        # find the search's sentences in the embedding cache.
        asked = {"search": claims[:questions], "ask": claims[questions : 2 * questions]}
        for n in range(questions):
            for home, services in homes.items():
                q = asked["search"][n]
                _, cpu, wall = _timed(lambda s=services, q=q: s.answering.search(admin, q, scope, limit=5))
                timings[f"{home}.search"]["cpu_ms"].append(cpu * 1000)
                timings[f"{home}.search"]["wall_ms"].append(wall * 1000)
            for home, services in homes.items():
                q = asked["ask"][n]
                _, cpu, wall = _timed(lambda s=services, q=q: s.answering.ask(admin, q, scope, passages=5))
                timings[f"{home}.ask"]["cpu_ms"].append(cpu * 1000)
                timings[f"{home}.ask"]["wall_ms"].append(wall * 1000)
        summary = {
            key: {
                f"{kind}_{stat}": round(fn(values), 1)
                for kind, values in figures.items()
                for stat, fn in (
                    ("median", statistics.median),
                    ("p95", lambda v: float(np.percentile(v, 95))),
                    ("mean", statistics.fmean),
                )
            }
            for key, figures in timings.items()
        }
        for key, figures in summary.items():
            print(f"{key:14} {figures}", flush=True)
        return {"ingest": ingest, "questions": questions, "latency": summary}
    finally:
        for services in homes.values():
            services.close()
        shutil.rmtree(root, ignore_errors=True)


def _old_shard(path: Path, dimension: int) -> None:
    """An Edge shard as made before sentence vectors were stored."""
    import qdrant_edge as q

    from retrieval.stores import payload as P

    path.mkdir(parents=True)
    q.EdgeShard.create(
        str(path),
        q.EdgeConfig(
            vectors={P.DENSE: q.EdgeVectorParams(size=dimension, distance=q.Distance.Cosine)},
            sparse_vectors={P.SPARSE: q.EdgeSparseVectorParams(modifier=q.Modifier.Idf)},
        ),
    ).close()


def emanual() -> dict[str, Any]:
    """The e-manual's 50 user questions (bench/emanual_answers.py's judgement) over one index made
    with sentence vectors, answered from them and, with the passages stripped of them, as before."""
    import dataclasses

    from bench.emanual_answers import _words, manual_and_questions
    from core.protocols import SearchFilter
    from eval.index import IndexRecipe, open_index
    from ingest.embed import CachingEmbedder, create_embedder
    from retrieval.extractive import ExtractiveGenerator
    from retrieval.search import Searcher

    corpus, questions = manual_and_questions(None)
    embedder = create_embedder("minilm")
    out: dict[str, Any] = {}
    with open_index(corpus, IndexRecipe(), embedder, cache=None) as index:
        searcher = Searcher(index.store, embedder, None, fusion="dbsf")
        found = {
            q["id"]: searcher.search(q["question"], SearchFilter(), limit=5, mode="hybrid") for q in questions
        }
    for way in ("independent", "late"):
        counting = CachingEmbedder(embedder)
        generator = ExtractiveGenerator(counting)
        refused = quoted = coverage = 0.0
        for q in questions:
            passages = found[q["id"]]
            if way == "independent":
                passages = [dataclasses.replace(p, sentences=None) for p in passages]
            answer = generator.answer(q["question"], passages)
            gold = _words(q["answer"])
            quotes = [
                len(_words(c.quote) & gold) / max(len(_words(c.quote)), 1) >= 0.8 for c in answer.citations
            ]
            refused += answer.refused
            quoted += bool(quotes) and all(quotes)
            coverage += 0.0 if answer.refused else len(_words(answer.text) & gold) / max(len(gold), 1)
        n = len(questions)
        out[way] = {
            "refused": round(refused / n, 4),
            "quoted_in_annotated_answer": round(quoted / n, 4),
            "coverage": round(coverage / n, 4),
        }
        print(f"e-manual {way}: {out[way]}", flush=True)
    out["questions"] = len(questions)
    out["with_sentence_vectors"] = sum(p.sentences is not None for ps in found.values() for p in ps)
    return out


def _head() -> str:
    import subprocess

    return subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--checks", nargs="*", default=list(ANSWER_CHECKS))
    parser.add_argument("--reranker", action="store_true", help="also with the sentence reranker on")
    parser.add_argument("--cache", type=Path, default=None, help="eval index cache folder")
    parser.add_argument("--latency", action="store_true", help="ingest cost and search/ask latency")
    parser.add_argument("--docs", type=int, default=300, help="SciFact abstracts for --latency")
    parser.add_argument("--questions", type=int, default=60, help="train claims asked for --latency")
    parser.add_argument("--emanual", action="store_true", help="the e-manual's questions both ways")
    parser.add_argument("--skip-answers", action="store_true", help="not the gate's answer checks")
    args = parser.parse_args(argv)
    if not DATA.exists():
        print(f"skipped: {DATA} is not on this machine")
        return 0
    baseline = {c["name"]: c for c in load_baseline()["checks"]}
    summary: dict[str, Any] = {"phase1": {}}
    if args.latency:
        summary["latency"] = latency(args.docs, args.questions)
    if args.emanual:
        summary["emanual"] = emanual()
    for name in [] if args.skip_answers else args.checks:
        for rerank in (False, True) if args.reranker else (False,):
            label = f"{name}+reranker" if rerank else name
            print(f"{label}…", flush=True)
            result = answer_check(baseline[name], rerank, args.cache)
            summary["phase1"][label] = result
            print(
                f"{label}: late fails {result['late_fails_gate']}, "
                f"independent fails {result['independent_fails_gate']}; "
                f"{result['cases_answered_differently']}/{result['cases']} answers differ",
                flush=True,
            )
            for key in result["baseline"]:
                print(
                    f"  {key:24} base {result['baseline'][key]:.4f}  "
                    f"indep {result['independent'].get(key) or 0:.4f}  late {result['late'].get(key) or 0:.4f}"
                )
            print(f"  cosine: {result['cosine']}", flush=True)
    settings = {"checks": [] if args.skip_answers else args.checks, "reranker": args.reranker}
    previous = RESULTS / "late-chunking.json"
    if previous.exists():  # a run of one part keeps the other's figures (each says its commit)
        kept = json.loads(previous.read_text())
        for part in ("phase1", "phase2_gate", "latency", "emanual"):
            if not summary.get(part) and kept.get(part):
                summary[part] = kept[part]
    for part in ("phase1", "latency", "emanual"):
        if summary.get(part) and "commit" not in summary[part]:
            summary[part]["commit"] = _head()
    if args.latency:
        settings |= {"docs": args.docs, "questions": args.questions, "torch_threads": 1}
    write_result("late-chunking", summary, settings=settings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
