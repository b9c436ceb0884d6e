"""Loaders: BEIR retrieval sets, QA sets with gold answers and passages, and golden sets.

Every loader returns a corpus (what to index) and the cases to run against it:

- BEIR (``corpus.jsonl``, ``queries.jsonl``, ``qrels/*.tsv``): a :class:`RetrievalSet`. The split's
  queries sit either in ``DIR/<split>/`` (the layout of ../shared/eval-data) or in ``DIR/`` with
  ``qrels/<split>.tsv`` (BEIR's own layout).
- QA with gold passages (``corpus_passages.jsonl`` + ``<split>/questions.jsonl`` with
  ``gold_passage_id``, as qa-xquad) or with whole articles (``articles_text/*.txt`` +
  ``<split>/questions.jsonl`` with ``doc_id`` and ``answerable``, as qa-cmu-wikipedia-s10): an
  :class:`AnswerSet`.
- A golden-set file (``*.jsonl``, see :mod:`core.golden`) with the folder of documents it is about:
  an :class:`AnswerSet` whose corpus is ingested by the product's own pipeline.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from core.errors import InvalidInput, NotFound
from core.golden import UNCATEGORISED, ExpectedSource, GoldenCase, load_golden

Kind = Literal["beir", "qa-passages", "qa-articles", "golden"]


@dataclass(frozen=True, slots=True)
class CorpusDoc:
    id: str
    title: str
    text: str


@dataclass(frozen=True)
class Corpus:
    """What to index. ``docs``: parsed already (one chunk each, or ``chunked`` as the product chunks
    text); ``folder``: files that the product's ingestion pipeline parses, OCRs and chunks."""

    name: str
    fingerprint: str  # sha256 of the source bytes: the key of the cached index
    docs: tuple[CorpusDoc, ...] = ()
    folder: Path | None = None
    chunked: bool = False


@dataclass(frozen=True)
class RetrievalSet:
    name: str
    split: str
    corpus: Corpus
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]

    def limited(self, count: int | None) -> RetrievalSet:
        """The first ``count`` queries (in file order), for a quick run; None: all."""
        if not count:
            return self
        return replace(self, queries=dict(list(self.queries.items())[:count]))


@dataclass(frozen=True, slots=True)
class AnswerCase:
    id: str
    question: str
    answerable: bool
    answers: tuple[str, ...] = ()  # gold answers; empty: only sources are checked
    sources: tuple[ExpectedSource, ...] = ()
    collection: str | None = None  # a golden case's collection, for asking a live Sourcebook
    facts: tuple[str, ...] = ()  # a golden case's expected facts: all must be in a correct answer
    category: str = UNCATEGORISED


@dataclass(frozen=True)
class AnswerSet:
    name: str
    split: str
    corpus: Corpus
    cases: tuple[AnswerCase, ...]
    skipped: tuple[str, ...] = field(default=())  # why some cases could not be asked

    def limited(self, count: int | None) -> AnswerSet:
        return self if not count else replace(self, cases=self.cases[:count])

    def with_unanswerable(self, other: AnswerSet) -> AnswerSet:
        """Add ``other``'s questions as questions this corpus cannot answer: a set of another
        domain gives the refusal metrics negatives when this set has none of its own."""
        negatives = tuple(AnswerCase(f"{other.name}:{c.id}", c.question, False) for c in other.cases)
        return replace(self, name=f"{self.name}+negatives({other.name})", cases=self.cases + negatives)


def detect(path: Path) -> Kind:
    """Which format a dataset path holds."""
    if path.is_file():
        if path.suffix == ".jsonl":
            return "golden"
        raise InvalidInput(f"{path} is a file but not a golden set (a .jsonl file)")
    if not path.is_dir():
        raise NotFound(f"no dataset at {path}")
    if (path / "corpus.jsonl").exists():
        return "beir"
    if (path / "corpus_passages.jsonl").exists():
        return "qa-passages"
    if (path / "articles_text").is_dir():
        return "qa-articles"
    raise InvalidInput(
        f"{path} is not a dataset this tool reads: expected corpus.jsonl (BEIR), corpus_passages.jsonl "
        "or articles_text/ (QA), or a golden-set .jsonl file"
    )


def _jsonl(path: Path) -> list[dict[str, object]]:
    if not path.exists():
        raise NotFound(f"missing {path}")
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def fingerprint(files: Iterable[Path], root: Path | None = None) -> str:
    digest = hashlib.sha256()
    for path in sorted(files):
        name = path.relative_to(root).as_posix() if root else path.name
        digest.update(name.encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def load_beir(path: Path, split: str = "dev") -> RetrievalSet:
    corpus_file = path / "corpus.jsonl"
    docs = tuple(
        CorpusDoc(str(d["_id"]), str(d.get("title") or ""), str(d["text"])) for d in _jsonl(corpus_file)
    )
    if (path / split / "queries.jsonl").exists():
        queries_file = path / split / "queries.jsonl"
        qrels_files = sorted((path / split / "qrels").glob("*.tsv"))
    else:
        queries_file = path / "queries.jsonl"
        qrels_files = [path / "qrels" / f"{split}.tsv"]
    if not qrels_files or not qrels_files[0].exists():
        raise NotFound(f"no qrels for split {split!r} under {path}")
    qrels: dict[str, dict[str, int]] = {}
    for qrels_file in qrels_files:
        for line in qrels_file.read_text().splitlines():
            parts = line.split("\t")
            if len(parts) < 3 or parts[0] == "query-id":
                continue
            qrels.setdefault(parts[0], {})[parts[1]] = int(parts[-1])
    queries = {str(q["_id"]): str(q["text"]) for q in _jsonl(queries_file) if str(q["_id"]) in qrels}
    corpus = Corpus(f"{path.name}", fingerprint([corpus_file]), docs=docs)
    return RetrievalSet(path.name, split, corpus, queries, {q: qrels[q] for q in queries})


def load_qa(path: Path, split: str = "dev") -> AnswerSet:
    kind = detect(path)
    if kind not in ("qa-passages", "qa-articles"):
        hint = "use `sourcebook eval retrieval`" if kind == "beir" else "it is a golden set"
        raise InvalidInput(f"{path} is not a QA set ({hint})")
    rows = _jsonl(path / split / "questions.jsonl")
    if kind == "qa-passages":
        corpus_file = path / "corpus_passages.jsonl"
        docs = tuple(
            CorpusDoc(str(p["_id"]), str(p.get("title") or ""), str(p["text"])) for p in _jsonl(corpus_file)
        )
        corpus = Corpus(path.name, fingerprint([corpus_file]), docs=docs)
        cases = tuple(
            AnswerCase(
                str(q["id"]),
                str(q["question"]),
                True,
                tuple(map(str, q["answers"])),  # type: ignore[call-overload]
                (ExpectedSource(str(q["gold_passage_id"]), str(q["gold_passage_id"])),),
            )
            for q in rows
        )
        return AnswerSet(path.name, split, corpus, cases)
    files = sorted((path / "articles_text").glob("*.txt"))
    docs = tuple(CorpusDoc(f.stem, f.stem, f.read_text(encoding="utf-8", errors="replace")) for f in files)
    corpus = Corpus(path.name, fingerprint(files), docs=docs, chunked=True)
    cases = tuple(
        AnswerCase(
            str(q["id"]),
            str(q["question"]),
            bool(q["answerable"]),
            tuple(map(str, q["answers"])) if q["answerable"] else (),  # type: ignore[call-overload]
            (ExpectedSource(str(q["doc_id"]), str(q["doc_id"])),) if q["answerable"] else (),
        )
        for q in rows
    )
    return AnswerSet(path.name, split, corpus, cases)


def _golden_cases(path: Path) -> tuple[list[AnswerCase], list[str]]:
    cases: list[AnswerCase] = []
    skipped: list[str] = []
    for case in load_golden(path):
        asked = _as_answer_case(case)
        if asked is None:
            skipped.append(f"{case.id}: template case (needs the template store)")
        else:
            cases.append(asked)
    return cases, skipped


def load_golden_live(path: Path) -> AnswerSet:
    """A golden set asked of the collections of this Sourcebook (``$SOURCEBOOK_HOME``), as they
    are now: each case of its own collection. No corpus is indexed."""
    cases, skipped = _golden_cases(path)
    return AnswerSet(path.stem, "live", Corpus("live", ""), tuple(cases), tuple(skipped))


def load_golden_set(path: Path, corpus_folder: Path) -> AnswerSet:
    """A golden set asked of a folder of documents (ingested by the product's pipeline).

    Cases given as a template and values are skipped, and counted: rendering needs the template
    store of a running Sourcebook; ask them against it instead."""
    if not corpus_folder.is_dir():
        raise NotFound(f"no folder of documents at {corpus_folder}")
    cases, skipped = _golden_cases(path)
    files = [
        p
        for p in corpus_folder.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(corpus_folder).parts)
    ]
    corpus = Corpus(corpus_folder.name, fingerprint(files, corpus_folder), folder=corpus_folder)
    return AnswerSet(path.stem, "golden", corpus, tuple(cases), tuple(skipped))


def answer_case(case: GoldenCase) -> AnswerCase | None:
    """A golden case as a question to ask; None for a case given as a template and values."""
    return _as_answer_case(case)


def _as_answer_case(case: GoldenCase) -> AnswerCase | None:
    if case.question is None:
        return None
    answers = (case.expected_answer,) if case.expected_answer else ()
    return AnswerCase(
        case.id,
        case.question,
        case.answerable,
        answers,
        case.expected_sources,
        case.collection,
        case.facts,
        case.category,
    )
