"""Training pairs for tuning the embedder: (question, a passage that answers it), from what a team
already said about its own answers.

Sources, each kept apart so a tuned model can name what it learnt from (a sha256 per source):
golden cases (question → the chunks of the gold documents' pages), reviews marked right
(question → the passages the answer cited) or wrong with the correct sources (question → those),
answers voted helpful (question → their citations), and a BEIR dataset's split (claim → the
cited abstract). Hard negatives are the current index's top hits that are not gold.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from core.domain import Chunk, Document
from core.errors import InvalidInput
from core.golden import ExpectedSource, GoldenCase

MAX_POSITIVES = 3  # a gold document of many pages: its chunks that name a fact, else its first three


@dataclass(frozen=True, slots=True)
class Pair:
    """A question and one passage that answers it; ``gold`` names every passage that does."""

    question: str
    positive: str
    positive_id: str
    source: str  # "golden", "review", "helpful", or "dataset:<name>/<split>"
    gold: frozenset[str] = field(default=frozenset())


@dataclass(frozen=True, slots=True)
class Example:
    """A pair with its hard negatives: what one training row holds."""

    question: str
    positive: str
    negatives: tuple[str, ...] = ()


def question_key(text: str) -> str:
    """Questions compared as a person would: case, spacing and end punctuation aside."""
    return re.sub(r"\s+", " ", text.casefold()).strip().rstrip("?.! ")


def check_disjoint(train: Iterable[str], held: Iterable[str]) -> None:
    """Training and evaluation must not share a question: a model tuned on the questions it is
    judged by would pass the gate on memory. ``InvalidInput`` quotes the shared ones."""
    held_keys = {question_key(q): q for q in held}
    shared = sorted({held_keys[k] for q in train if (k := question_key(q)) in held_keys})
    if shared:
        quoted = "; ".join(repr(q[:80]) for q in shared[:5])
        more = f" and {len(shared) - 5} more" if len(shared) > 5 else ""
        raise InvalidInput(
            f"training and evaluation share {len(shared)} question(s): {quoted}{more}. "
            "Evaluate on questions the model is not trained on (another split, or held-apart golden cases)."
        )


def source_summary(pairs: Sequence[Pair]) -> list[dict[str, Any]]:
    """Per source: its name, the sha256 of its pairs (sorted, so order does not matter), how many."""
    by_source: dict[str, list[Pair]] = {}
    for pair in pairs:
        by_source.setdefault(pair.source, []).append(pair)
    summary = []
    for source, group in sorted(by_source.items()):
        rows = sorted(json.dumps([p.question, p.positive_id, p.positive]) for p in group)
        digest = hashlib.sha256("\n".join(rows).encode()).hexdigest()
        summary.append({"source": source, "sha256": digest, "pairs": len(group)})
    return summary


class ChunkFinder:
    """The chunks a reference names (a document by id or source name, pages, a quote or offsets)."""

    def __init__(self, documents: Sequence[Document], chunks_of: Callable[[str], Sequence[Chunk]]) -> None:
        self._by_id = {d.id: d for d in documents}
        self._by_name: dict[str, list[Document]] = {}
        for d in documents:
            self._by_name.setdefault(d.source_name, []).append(d)
        self._chunks_of = chunks_of
        self._cache: dict[str, list[Chunk]] = {}

    def chunks(self, document_id: str) -> list[Chunk]:
        if document_id not in self._cache:
            self._cache[document_id] = list(self._chunks_of(document_id))
        return self._cache[document_id]

    def documents(self, source: ExpectedSource) -> list[Document]:
        if source.document_id and source.document_id in self._by_id:
            return [self._by_id[source.document_id]]
        return list(self._by_name.get(source.source_name, []))

    def for_source(self, source: ExpectedSource, facts: Sequence[str] = ()) -> list[Chunk]:
        """The chunks of a gold source's pages; those that contain an expected fact first."""
        found = [
            c
            for d in self.documents(source)
            for c in self.chunks(d.id)
            if not source.pages or set(c.pages) & set(source.pages)
        ]
        wanted = [f.casefold() for f in facts if f]
        naming = [c for c in found if any(f in c.text.casefold() for f in wanted)]
        return (naming or found)[:MAX_POSITIVES]

    def for_citation(self, citation: Mapping[str, Any]) -> list[Chunk]:
        """The chunk a citation quotes (by its offsets, else its quote), else its pages' chunks."""
        chunks = self.chunks(str(citation.get("document_id", "")))
        start, quote = citation.get("char_start"), str(citation.get("quote") or "")
        if isinstance(start, int) and citation.get("char_end"):
            hit = [c for c in chunks if c.char_start <= start < c.char_end]
            if hit:
                return hit[:1]
        if quote:
            hit = [c for c in chunks if quote in c.text]
            if hit:
                return hit[:1]
        pages = set(citation.get("pages") or ())
        return [c for c in chunks if not pages or set(c.pages) & pages][:MAX_POSITIVES]


def _pairs(question: str, chunks: Sequence[Chunk], source: str) -> list[Pair]:
    gold = frozenset(c.id for c in chunks)
    return [Pair(question, c.embedding_text, c.id, source, gold) for c in chunks]


def golden_pairs(cases: Iterable[GoldenCase], finder: ChunkFinder) -> list[Pair]:
    """Answerable cases with a free question and gold sources: question → the gold chunks."""
    pairs: list[Pair] = []
    for case in cases:
        if not case.answerable or not case.question or not case.expected_sources:
            continue
        chunks = [c for s in case.expected_sources for c in finder.for_source(s, case.facts)]
        pairs += _pairs(case.question, list({c.id: c for c in chunks}.values()), "golden")
    return pairs


def review_pairs(items: Iterable[tuple[Any, Any]], finder: ChunkFinder) -> list[Pair]:
    """Closed reviews, as (feedback, answer record): marked right → the passages the answer
    cited; marked wrong with the correct sources → those. Wrong without sources teaches nothing."""
    pairs: list[Pair] = []
    for feedback, answer in items:
        if feedback.state != "closed" or feedback.verdict not in ("right", "wrong"):
            continue
        if feedback.correct_sources:
            chunks = [
                c
                for s in feedback.correct_sources
                for c in finder.for_source(
                    ExpectedSource("", s.get("document_id"), tuple(s.get("pages") or ())),
                    (feedback.correct_answer or "",) if feedback.correct_answer else (),
                )
            ]
        elif feedback.verdict == "right" and not answer.refused:
            chunks = [c for cite in answer.answer.get("citations", []) for c in finder.for_citation(cite)]
        else:
            continue
        pairs += _pairs(answer.question, list({c.id: c for c in chunks}.values()), "review")
    return pairs


def helpful_pairs(items: Iterable[tuple[Any, Any]], finder: ChunkFinder) -> list[Pair]:
    """Answers voted helpful and not flagged, as (feedback, answer record): question → citations."""
    pairs: list[Pair] = []
    for feedback, answer in items:
        if not feedback.helpful or feedback.flagged or answer.refused:
            continue
        chunks = [c for cite in answer.answer.get("citations", []) for c in finder.for_citation(cite)]
        pairs += _pairs(answer.question, list({c.id: c for c in chunks}.values()), "helpful")
    return pairs


def dataset_pairs(
    name: str,
    split: str,
    queries: Mapping[str, str],
    qrels: Mapping[str, Mapping[str, int]],
    docs: Mapping[str, str],
) -> list[Pair]:
    """A BEIR split: each query → each document judged relevant (score > 0)."""
    pairs: list[Pair] = []
    for qid, question in queries.items():
        gold = frozenset(d for d, score in qrels.get(qid, {}).items() if score > 0 and d in docs)
        pairs += [Pair(question, docs[d], d, f"dataset:{name}/{split}", gold) for d in sorted(gold)]
    return pairs


def dedupe(pairs: Iterable[Pair]) -> list[Pair]:
    """One pair per (question, passage): a golden case promoted from a review says it once."""
    seen: dict[tuple[str, str], Pair] = {}
    for pair in pairs:
        seen.setdefault((question_key(pair.question), pair.positive_id), pair)
    return list(seen.values())


Search = Callable[[Sequence[str]], list[list[tuple[str, str]]]]  # questions → hits (id, text), best first


def with_hard_negatives(
    pairs: Sequence[Pair], search: Search | None, per_pair: int, skip: int = 0
) -> list[Example]:
    """Each pair with up to ``per_pair`` hard negatives: the current index's best hits for its
    question that are not among its gold passages (a passage that answers is no negative), after
    the first ``skip`` of them (the very best non-gold hits are often answers nobody labelled)."""
    if search is None or per_pair <= 0 or not pairs:
        return [Example(p.question, p.positive) for p in pairs]
    questions = list(dict.fromkeys(p.question for p in pairs))
    hits = dict(zip(questions, search(questions), strict=True))
    examples = []
    for pair in pairs:
        ranked = [text for hit_id, text in hits[pair.question] if hit_id not in pair.gold]
        negatives = ranked[skip : skip + per_pair]
        # rows of one table need the same columns: repeat the last negative when too few were found
        while negatives and len(negatives) < per_pair:
            negatives.append(negatives[-1])
        examples.append(Example(pair.question, pair.positive, tuple(negatives)))
    return [e for e in examples if len(e.negatives) == per_pair]
