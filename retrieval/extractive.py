"""The default generator: an answer composed of the passages' own sentences, each one cited.

No model writes anything, so nothing can be invented. The composer reads evidence, not mere
similarity: each candidate sentence gets a calibrated probability of answering the question
(``retrieval.evidence``: a small logistic model over cosine similarity, key-term and identifier
coverage, rank, heading match), a sentence that names another model or code than the
one asked about is no evidence, headings and questions never answer, a table row answers as a
record with its column names (its quote stays the verbatim row), a comparison gets evidence per
entity, and a sentence that only restates the question is context for the one that answers it. Below
the threshold the answer is a refusal in words an agent can act on, the closest passages shown.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from core.domain import Answer, AnswerHints, Citation, Passage
from core.protocols import Embedder, Query, Vectors
from retrieval.evidence import EvidenceModel, Features, load_model
from retrieval.question import (
    Question,
    analyze,
    asked_names,
    content_stems,
    family,
    identifiers,
    is_code,
    mentions,
    name_forms,
    normalize_identifier,
    states,
)
from retrieval.records import Unit, read_passage

REFUSAL = (
    "The documents in this knowledge base do not answer this question. "
    "The closest passages are listed below; escalate it if you need an answer."
)
STEPS = 6  # a "steps" answer reads on up to this many sentences
RESTATES = 0.15  # below this share of words the question lacks, a sentence only repeats it


@dataclass(frozen=True, slots=True)
class Candidate:
    passage_rank: int
    passage: Passage
    unit: Unit
    features: Features
    probability: float
    evidence_ids: dict[str, str]


class ExtractiveGenerator:
    def __init__(
        self,
        embedder: Embedder,
        *,
        max_sentences: int = 3,
        threshold: float | None = None,
        embed_budget: int = 12,
        model: EvidenceModel | None = None,
    ) -> None:
        self.embedder = embedder
        self.embed_budget = embed_budget
        self.max_sentences = max_sentences
        self.model = model or load_model(embedder.name)
        self.threshold = threshold if threshold is not None else self.model.threshold

    def answer(
        self, query: str | Query, passages: Sequence[Passage], hints: AnswerHints | None = None
    ) -> Answer:
        question = query.text if isinstance(query, Query) else query
        asked = analyze(question, hints)
        vector = query.vector if isinstance(query, Query) else None
        candidates = self.candidates(asked, passages, question_vector=vector)
        missing = _unnamed_codes(asked, passages)
        unnamed = [] if missing else _unnamed_names(asked, passages)
        usable = [c for c in candidates if c.probability >= self.threshold and not c.features.conflict]
        if asked.wants.startswith("money"):
            usable = [c for c in usable if c.features.value >= 0]  # a price asked: one must be stated
        if missing or unnamed or not usable:
            reason, detail = self._why(asked, candidates, missing, unnamed)
            return Answer(
                question,
                REFUSAL,
                refused=True,
                refusal_reason=reason,
                passages=tuple(passages),
                notes=(detail,),
            )
        chosen, uncovered = self._select(asked, usable, candidates)
        chosen.sort(key=lambda c: (c.passage_rank, c.unit.start))
        citations = []
        parts = []
        for marker, c in enumerate(chosen, start=1):
            citations.append(
                Citation(
                    marker=marker,
                    document_id=c.passage.document_id,
                    title=c.passage.source_name,
                    pages=c.passage.pages,
                    quote=c.unit.text,
                    char_start=c.passage.char_start + c.unit.start,
                    char_end=c.passage.char_start + c.unit.end,
                    support=round(c.probability, 4),
                )
            )
            parts.append(f"{_as_sentence(c.unit.said(asked.entities, asked.key_terms))} [{marker}]")
        notes = tuple(f"The documents do not say this for the {name}." for name in uncovered)
        return Answer(question, " ".join(parts), tuple(citations), passages=tuple(passages), notes=notes)

    # -- evidence ------------------------------------------------------------------------------

    def candidates(
        self, asked: Question, passages: Sequence[Passage], *, question_vector: Vectors | None = None
    ) -> list[Candidate]:
        """Every answer-capable unit of the passages, with its features and probability (best
        first); only the most promising ones are embedded (about a second for all on a CPU).
        ``question_vector``: the question's, computed by the search; embedded here without it."""
        question_stems = content_stems(asked.text)
        read = [read_passage(p) for p in passages]
        passage_ids = [identifiers(" ".join((*p.section_path, p.text))) for p in passages]
        weight = _term_weights(asked, passages)
        held = set().union(*(content_stems(" ".join((*p.section_path, p.text))) for p in passages))
        unmatched = _coverage(asked.key_terms - held, weight)
        names_held = set().union(*(name_forms(" ".join((*p.section_path, p.text))) for p in passages))
        unnamed = len(asked.names - names_held) / len(asked.names) if asked.names else 0.0
        pool = []
        for rank, passage in enumerate(passages):
            units = read[rank]
            for index, unit in enumerate(units):
                if unit.heading:
                    continue  # headings and questions give context, never an answer
                own = content_stems(unit.text)
                novelty = len(own - question_stems) / len(own) if own else 0.0
                if novelty < RESTATES and asked.wants_remedy:
                    continue  # restates the symptom asked about: context for the remedy after it
                previous = units[index - 1] if index else None
                follows = bool(
                    asked.wants_remedy
                    and previous is not None
                    and not previous.heading
                    and _novelty(previous, question_stems) < RESTATES
                    and previous.paragraph == unit.paragraph
                )
                lead = previous.text if follows and previous is not None else ""
                context = f"{unit.context}\n{lead}\n{unit.said(())}"
                found = identifiers(context)
                around = passage_ids[rank]
                stems = content_stems(context)
                key = _coverage(asked.key_terms & stems, weight) if asked.key_terms else 0.5
                heading = _coverage(asked.key_terms & content_stems(unit.context), weight)
                pool.append((rank, passage, unit, found, around, key, heading, follows, lead))
        if not pool:
            return []
        pool.sort(key=lambda item: (item[5] + _id_coverage(asked, item[3], item[4]), -item[0]), reverse=True)
        pool = pool[: self.embed_budget]
        cosines = self._cosines(asked.text, [(item[1], item[2]) for item in pool], question_vector)
        out = []
        for (rank, passage, unit, found, around, key, heading, follows, lead), cosine in zip(
            pool, cosines, strict=True
        ):
            features = Features(
                cosine=float(cosine),
                key_terms=key,
                identifiers=_id_coverage(asked, found, around),
                conflict=_conflicts(asked, found) or _other_row(asked, unit, read[rank]),
                rank=1.0 / (1 + rank),
                heading=heading,
                table=unit.record is not None,
                follows_restatement=follows,
                unmatched=unmatched,
                value=_value(asked, f"{unit.said(())}\n{lead}"),
                subject=_is_subject(asked, unit),
                unmatched_names=unnamed,
            )
            out.append(Candidate(rank, passage, unit, features, self.model.probability(features), found))
        out.sort(key=lambda c: c.probability, reverse=True)
        return out

    def _cosines(
        self, question: str, units: Sequence[tuple[Passage, Unit]], question_vector: Vectors | None
    ) -> Vectors:
        """Each unit's cosine to the question: from the vector its passage brings (stored at
        ingest, the unit's span pooled out of its chunk's forward pass), else embedded now, in
        one call with the question when it has no vector yet."""
        stored: list[Vectors | None] = []
        rows: dict[str, dict[tuple[int, int], int]] = {}
        for passage, unit in units:
            if passage.sentences is None:
                stored.append(None)
                continue
            if passage.chunk_id not in rows:
                rows[passage.chunk_id] = passage.sentences.by_span()
            row = rows[passage.chunk_id].get((unit.start, unit.end))
            stored.append(None if row is None else passage.sentences.vectors[row])
        missing = [unit.said(()) for (_, unit), vector in zip(units, stored, strict=True) if vector is None]
        texts = missing if question_vector is not None else [question, *missing]
        fresh = iter(self.embedder.embed(texts)) if texts else iter(())
        if question_vector is None:
            question_vector = next(fresh)
        vectors = [vector if vector is not None else next(fresh) for vector in stored]
        if not vectors:
            return np.zeros(0, dtype=np.float32)
        return np.asarray(np.stack(vectors) @ np.asarray(question_vector), dtype=np.float32)

    # -- choosing ------------------------------------------------------------------------------

    def _select(
        self, asked: Question, usable: list[Candidate], every: list[Candidate]
    ) -> tuple[list[Candidate], list[str]]:
        limit = max(self.max_sentences, len(asked.entities))
        chosen: list[Candidate] = []
        uncovered: list[str] = []
        if asked.entities:
            for key in asked.entities:
                if any(mentions(c.evidence_ids, key) for c in chosen):
                    continue
                # An entity's evidence need only be as good as the answer's threshold, loosened a
                # little: the question's other entity pulled the similarity of both sentences.
                # It must be about what is compared too: "Covers the T100 and T300 Pro models."
                # names both and says nothing of their warranty.
                own = [c for c in usable if mentions(c.evidence_ids, key) and c.features.key_terms > 0] or [
                    c
                    for c in every
                    if mentions(c.evidence_ids, key)
                    and not c.features.conflict
                    and c.probability >= self.threshold * 0.75
                    and c.features.key_terms > 0
                ]
                if own:
                    _add(chosen, own[0])
                else:
                    uncovered.append(asked.ids[key])
        best = usable[0]
        _add(chosen, best)
        covered = set().union(*(content_stems(c.unit.said(())) for c in chosen))
        for c in usable[1:]:
            if len(chosen) >= limit:
                break
            stems = content_stems(c.unit.said(()))
            # A further sentence either says what the best one says nearly as surely, or covers
            # a key term it left out and is at least half as sure: a second part, not noise.
            adds = bool((asked.key_terms & stems) - covered) and c.probability >= best.probability * 0.5
            close = c.probability >= best.probability * 0.8
            if (adds or close) and _add(chosen, c):
                covered |= stems
        if asked.shape == "steps":
            _follow(chosen, best, every, STEPS)
        elif not asked.entities and _heading_answers(asked, best):
            _list_under(chosen, best, every, STEPS)
        return chosen, uncovered

    def _why(
        self, asked: Question, candidates: list[Candidate], missing: list[str], unnamed: Sequence[str] = ()
    ) -> tuple[str, str]:
        """(what the agent reads, the score detail for engineers)."""
        best = max((c.probability for c in candidates), default=0.0)
        detail = f"evidence score {best:.2f}; answers need {self.threshold:.2f}"
        if not candidates:
            return "No document in the collections you can see matches this question.", detail
        if missing:
            names = ", ".join(missing)
            return (
                f"No document found mentions {names}: check the code or model, or escalate the question.",
                detail,
            )
        if unnamed:
            return (
                f"No document found mentions {', '.join(unnamed)}: the documents do not cover it. "
                "Check the name, or escalate the question.",
                detail,
            )
        if asked.wants.startswith("money") and not any(c.features.value >= 0 for c in candidates):
            return (
                "The documents found say nothing about a price or cost for this. "
                "Escalate the question if the customer needs one.",
                detail,
            )
        conflicting = [c for c in candidates if c.features.conflict and c.probability >= self.threshold]
        if conflicting and not asked.codes:
            return (
                "The closest passages are about other items than the one asked; nothing found "
                "answers it for what was asked. Check the name, or escalate the question.",
                detail,
            )
        if conflicting:
            other = _other_names(asked, conflicting[0].evidence_ids)
            asked_names = ", ".join(asked.ids[k] for k in asked.codes)
            return (
                f"The closest passages are about {other}, not the {asked_names}; "
                "nothing found answers it for the model or code asked.",
                detail,
            )
        return (
            "The closest passages are on this topic, but none of them says what was asked. "
            "Rephrase the question with the exact term the documents would use, or escalate it.",
            detail,
        )


def _add(chosen: list[Candidate], c: Candidate) -> bool:
    """Add ``c`` unless it is chosen already or says what a chosen sentence says."""
    words = content_stems(c.unit.text)
    for other in chosen:
        if other.unit is c.unit or (
            other.passage.chunk_id == c.passage.chunk_id and other.unit.start == c.unit.start
        ):
            return False
        kept = content_stems(other.unit.text)
        if len(words & kept) / max(min(len(words), len(kept)), 1) > 0.8:
            return False
    chosen.append(c)
    return True


def _follow(chosen: list[Candidate], best: Candidate, every: list[Candidate], limit: int) -> None:
    """Steps and remedies read on: the sentences after the best one in its paragraph or list."""
    units = read_passage(best.passage)
    scored = {(c.passage.chunk_id, c.unit.start): c for c in every}
    at = next((i for i, u in enumerate(units) if u.start == best.unit.start), None)
    if at is None:
        return
    for unit in units[at + 1 :]:
        if len(chosen) >= limit or unit.heading or (unit.paragraph != best.unit.paragraph and not unit.item):
            break
        known = scored.get((best.passage.chunk_id, unit.start))
        if known is not None and known.features.conflict:
            break
        c = known or Candidate(
            best.passage_rank, best.passage, unit, best.features, best.probability, best.evidence_ids
        )
        _add(chosen, c)


def _value(asked: Question, said: str) -> float:
    if not asked.wants:
        return 0.0
    # Only a missing value counts: prose states dates and amounts everywhere, so holding one is
    # no sign of an answer, while lacking one (a price asked, none stated) is a sign of none.
    return 0.0 if states(asked.wants, said) else -1.0


def _is_subject(asked: Question, unit: Unit) -> bool:
    """Whether an asked code is what the unit is about: a table row keyed by it, or a line
    labelled with it ("E-212: …")."""
    if not asked.codes:
        return False
    if unit.record is not None:
        subject = unit.record[0][1]
    else:
        label, colon, _ = unit.text.partition(":")
        subject = label if colon and len(label.split()) <= 4 else ""
    return bool(subject) and any(mentions(identifiers(subject), k) for k in asked.codes)


def _heading_answers(asked: Question, best: Candidate) -> bool:
    """Whether the best sentence is an item of a list whose heading names what is asked ("What is
    new in 4.2.0" for "what's new in firmware 4.2.0"): the items under it are the answer, not one
    of them. The heading itself never stands alone; its items are said."""
    if not best.unit.item or not best.unit.context:
        return False
    heading = best.unit.context.split(" > ")[-1]
    named = identifiers(heading)
    codes_named = bool(asked.codes) and all(mentions(named, k) for k in asked.codes)
    terms = content_stems(heading)
    return codes_named and (not asked.key_terms or bool(asked.key_terms & terms))


def _list_under(chosen: list[Candidate], best: Candidate, every: list[Candidate], limit: int) -> None:
    """The items of the list the best sentence belongs to (under the same heading), in order."""
    scored = {(c.passage.chunk_id, c.unit.start): c for c in every}
    for unit in read_passage(best.passage):
        if len(chosen) >= limit:
            break
        if unit.heading or not unit.item or unit.context != best.unit.context:
            continue
        known = scored.get((best.passage.chunk_id, unit.start))
        if known is not None and known.features.conflict:
            continue
        _add(chosen, known or replace(best, unit=unit))


def _novelty(unit: Unit, question_stems: set[str]) -> float:
    own = content_stems(unit.text)
    return len(own - question_stems) / len(own) if own else 0.0


def _term_weights(asked: Question, passages: Sequence[Passage]) -> dict[str, float]:
    """Each key term's weight, by how few of the retrieved passages hold it: the company's name,
    in every passage, says little; "chief executive", in none, says what is asked."""
    held = [content_stems(p.text) for p in passages]
    n = len(held)
    return {t: math.log(1 + (n + 1) / (1 + sum(t in h for h in held))) for t in asked.key_terms}


def _coverage(found: set[str] | frozenset[str], weight: dict[str, float]) -> float:
    total = sum(weight.values())
    return sum(weight[t] for t in found) / total if total else 0.0


def _id_coverage(asked: Question, found: dict[str, str], around: dict[str, str]) -> float:
    """The share of the question's identifiers the evidence names; one named only elsewhere in
    its passage (the bulletin's title names the code, the sentence gives the part) or a code whose
    kind the evidence does not mention at all (the model, beside an error table's row) counts half."""
    if not asked.ids:
        return 1.0
    kinds = {family(k) for k in found if is_code(k)}
    score = 0.0
    for key in asked.ids:
        if mentions(found, key):
            score += 1.0
        elif mentions(around, key) or (is_code(key) and family(key) not in kinds):
            score += 0.5
    return score / len(asked.ids)


def _conflicts(asked: Question, found: dict[str, str]) -> bool:
    """Evidence about another code of a family the question names, and not about the one asked
    (the legacy T-50 when the question is about the T100)."""
    for kind in {family(k) for k in asked.codes}:
        if any(mentions(found, k) for k in asked.codes if family(k) == kind):
            continue
        if any(is_code(k) and family(k) == kind for k in found):
            return True
    return False


def _other_row(asked: Question, unit: Unit, units: Sequence[Unit]) -> bool:
    """A table row that is not the one asked about: the question names what another row's key
    holds and this row lacks ("blinking amber" against the rows "Blinking red" and "Pulsing
    amber": neither is the asked one). A comparison names several rows' keys: a row answers it
    when its key is one of them and the table holds the compared aspect ("differ in warranty"
    against a support-tier table with no warranty column answers nothing)."""
    if unit.record is None or not asked.key_terms:
        return False
    keys = [content_stems(u.record[0][1]) for u in units if u.record is not None]
    own_key = content_stems(unit.record[0][1])
    header = {stem for name, _ in unit.record for stem in content_stems(name)}
    row = content_stems(" ".join(cell for _, cell in unit.record)) | header
    other_keys = set().union(*keys) - own_key
    named = asked.key_terms & own_key
    if asked.compares:
        if not named:
            return bool(asked.key_terms & other_keys)
        # What is compared: not the rows' names, nor what the key column or the table is called.
        aspect = asked.key_terms - set().union(*keys) - content_stems(f"{unit.context} {unit.record[0][0]}")
        return bool(aspect) and not aspect & row
    # It names at least as many words of other rows' keys as of its own.
    clash = (asked.key_terms & other_keys) - row
    return bool(clash) and len(clash) >= len(named)


def _other_names(asked: Question, found: dict[str, str]) -> str:
    families = {family(k) for k in asked.codes}
    others = [v for k, v in found.items() if is_code(k) and family(k) in families and k not in asked.ids]
    return ", ".join(others[:2]) or "something else"


def _unnamed_codes(asked: Question, passages: Sequence[Passage]) -> list[str]:
    """Codes the question names that no passage mentions while the passages name others of their
    kind (error E-150 when the table lists E-101 to E-305), or when none of its codes is named."""
    if not asked.codes:
        return []
    found: dict[str, str] = {}
    for passage in passages:
        found |= identifiers(" ".join((*passage.section_path, passage.text)))
    present = {family(k) for k in found if is_code(k)}
    text = " ".join(" ".join((*p.section_path, p.text)) for p in passages)
    # A model the passages name only through its series ("a T-series thermostat"), with no other
    # model of it named (they would name this one too if they knew it: the T400 beside the T100).
    missing = [k for k in asked.codes if not mentions(found, k) and not _series_named(text, k, passages)]
    if asked.entities and any(k not in missing for k in asked.entities):
        missing = [k for k in missing if k not in asked.entities]  # said per entity instead
    if not missing:
        return []
    if len(missing) == len(asked.codes) or any(family(k) in present for k in missing):
        return [asked.ids[k] for k in missing]
    return []


def _unnamed_names(asked: Question, passages: Sequence[Passage]) -> list[str]:
    """Names the question asks about that no passage mentions (the "Enterprise" tier of a policy
    listing Basic, Plus and Pro Installer): the documents do not cover what is asked."""
    if not asked.names:
        return []
    held = set().union(*(name_forms(" ".join((*p.section_path, p.text))) for p in passages))
    absent = asked.names - held
    return [spelled for key, spelled in asked_names(asked.text).items() if key in absent]


def _series_named(text: str, key: str, passages: Sequence[Passage]) -> bool:
    """Whether the passages speak of the whole series a model belongs to ("a T-series thermostat"
    for the T100), what they say holding for every model of it, and no passage lists the series'
    models without this one (the T400 is no model of a series listed as T100, T200, T300 Pro)."""
    kind = family(key)
    if not kind or kind == "version" or kind == normalize_identifier(key):
        return False
    if re.search(rf"\b{re.escape(kind)}[- ]series\b", text, re.I) is None:
        return False
    for passage in passages:
        named = {k for k in identifiers(passage.text) if is_code(k) and family(k) == kind}
        if len(named) >= 2:
            return False  # a list of the series' models that leaves this one out
    return True


def _as_sentence(text: str) -> str:
    return " ".join(text.split())
