"""Metrics for retrieval, answers, citations, refusals and latency.

Retrieval metrics take a ranking (document ids, best first) and graded relevance judgements
(``{doc_id: grade}``, grade > 0 is relevant) for one query; the runner averages them over queries.
The definitions follow trec_eval (nDCG with gain = grade and a log2(rank + 1) discount, the
ideal ranking built from all judged documents), so figures compare with published BEIR numbers.
"""

from __future__ import annotations

import math
import re
import string
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

from retrieval.sentences import content_words

Qrels = Mapping[str, int]


def _relevant(qrels: Qrels) -> set[str]:
    return {doc for doc, grade in qrels.items() if grade > 0}


def recall_at(ranked: Sequence[str], qrels: Qrels, k: int) -> float:
    """Share of the relevant documents found in the first ``k``."""
    relevant = _relevant(qrels)
    if not relevant:
        return 0.0
    return len(relevant & set(ranked[:k])) / len(relevant)


def precision_at(ranked: Sequence[str], qrels: Qrels, k: int) -> float:
    """Relevant documents in the first ``k``, divided by ``k`` (trec_eval's P_k: a short ranking
    is not rewarded for stopping early)."""
    relevant = _relevant(qrels)
    return sum(doc in relevant for doc in ranked[:k]) / k


def mrr_at(ranked: Sequence[str], qrels: Qrels, k: int = 10) -> float:
    """Reciprocal rank of the first relevant document within the first ``k``; 0 if none."""
    relevant = _relevant(qrels)
    for rank, doc in enumerate(ranked[:k], start=1):
        if doc in relevant:
            return 1.0 / rank
    return 0.0


def ndcg_at(ranked: Sequence[str], qrels: Qrels, k: int = 10) -> float:
    """Normalised discounted cumulative gain at ``k``, gain = relevance grade."""
    dcg = sum(max(qrels.get(doc, 0), 0) / math.log2(rank + 1) for rank, doc in enumerate(ranked[:k], 1))
    ideal_grades = sorted((g for g in qrels.values() if g > 0), reverse=True)[:k]
    ideal = sum(g / math.log2(rank + 1) for rank, g in enumerate(ideal_grades, 1))
    return dcg / ideal if ideal else 0.0


def dedupe(ids: Iterable[str]) -> list[str]:
    """Document ids in first-seen order: several chunks of one document count once."""
    return list(dict.fromkeys(ids))


# --- answers -------------------------------------------------------------------------------------

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = str.maketrans("", "", string.punctuation)


def normalize_answer(text: str) -> str:
    """SQuAD v1.1's normalisation: lower case, no punctuation, no articles, single spaces."""
    return " ".join(_ARTICLES.sub(" ", text.lower().translate(_PUNCT)).split())


def exact_match(prediction: str, golds: Sequence[str]) -> float:
    """1.0 when the normalised prediction equals any normalised gold answer."""
    guess = normalize_answer(prediction)
    return float(any(guess == normalize_answer(g) for g in golds))


def token_f1(prediction: str, golds: Sequence[str]) -> float:
    """SQuAD token F1 against the best-matching gold answer."""
    guess = normalize_answer(prediction).split()
    best = 0.0
    for gold in golds:
        truth = normalize_answer(gold).split()
        common = sum((Counter(guess) & Counter(truth)).values())
        if not guess or not truth or common == 0:
            continue
        precision, recall = common / len(guess), common / len(truth)
        best = max(best, 2 * precision * recall / (precision + recall))
    return best


def contains_answer(prediction: str, golds: Sequence[str]) -> float:
    """1.0 when any normalised gold answer occurs, on word boundaries, in the normalised prediction:
    the fair test for a generator that answers with whole sentences."""
    text = f" {normalize_answer(prediction)} "
    return float(any(normalize_answer(g) and f" {normalize_answer(g)} " in text for g in golds))


def is_yes_no(golds: Sequence[str]) -> bool:
    """Yes/no gold answers: containment says nothing about them (any sentence may hold "no")."""
    return bool(golds) and normalize_answer(golds[0]).split()[:1] in (["yes"], ["no"])


def supported(sentence: str, quote: str, *, threshold: float = 0.5) -> bool:
    """Whether the cited text backs the sentence: at least ``threshold`` of the sentence's content
    words occur in it. A lexical check: it catches a citation pointing at the wrong passage or a
    sentence a language model made up, not a subtle paraphrase error."""
    words = content_words(sentence)
    if not words:
        return True
    found = content_words(quote)
    return len(words & found) / len(words) >= threshold


# --- refusals ------------------------------------------------------------------------------------


def refusal_scores(answerable: Sequence[bool], refused: Sequence[bool]) -> tuple[float, float]:
    """(precision, recall) of refusing, where the positive class is "not answerable". With no
    refusals precision is 1.0 (nothing wrongly refused); with no unanswerable questions recall is 1.0."""
    pairs = list(zip(answerable, refused, strict=True))
    refusals = [a for a, r in pairs if r]
    unanswerable = [r for a, r in pairs if not a]
    true = sum(not a for a in refusals)
    precision = true / len(refusals) if refusals else 1.0
    recall = true / len(unanswerable) if unanswerable else 1.0
    return precision, recall


# --- latency -------------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) by linear interpolation between closest ranks (NumPy's default)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def latency_summary(milliseconds: Sequence[float]) -> dict[str, float]:
    return {f"p{q}_ms": round(percentile(milliseconds, q), 1) for q in (50, 95, 99)}


def mean(values: Iterable[float]) -> float:
    items = list(values)
    return sum(items) / len(items) if items else 0.0
