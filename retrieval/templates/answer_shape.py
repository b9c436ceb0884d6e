"""Answer options of a question template: how long the answer is, and prose or bullets."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, replace

from core.domain import Answer

LENGTHS = {"short": 1, "medium": 3, "long": None}  # at most this many cited sentences
STYLES = ("prose", "bullets")
# What the composer looks for (retrieval/extractive.py); "" lets it judge from the question.
SHAPES = ("", "lookup", "steps", "compare")
_SENTENCE = re.compile(r"(.+?)(?:\s*\[(\d+)\])(?=\s|$)|(.+?)$", re.S)


@dataclass(frozen=True, slots=True)
class AnswerOptions:
    length: str = "medium"
    style: str = "prose"
    shape: str = ""  # lookup: a table row; steps: a list read on; compare: evidence per entity


def shape_answer(answer: Answer, options: AnswerOptions) -> Answer:
    """Keep at most as many cited sentences as the length allows; bullets put one per line."""
    if answer.refused or not answer.text.strip():
        return answer
    sentences = list(answer_sentences(answer.text))
    limit = LENGTHS.get(options.length)
    if limit is not None and len(sentences) > limit:
        sentences = sentences[:limit]
    markers = {m for m, _ in sentences if m is not None}
    if options.style == "bullets":
        text = "\n".join(f"- {s} [{m}]" if m is not None else f"- {s}" for m, s in sentences)
    else:
        text = " ".join(f"{s} [{m}]" if m is not None else s for m, s in sentences)
    citations = tuple(c for c in answer.citations if c.marker in markers)
    return replace(answer, text=text, citations=citations)


def answer_sentences(text: str) -> Iterator[tuple[int | None, str]]:
    """An answer's sentences, each with the citation marker it ends with (``… [2]``)."""
    for match in _SENTENCE.finditer(text):
        if match.group(1) is not None:
            yield int(match.group(2)), _unbullet(match.group(1))
        elif match.group(3) and match.group(3).strip():
            yield None, _unbullet(match.group(3))


def _unbullet(sentence: str) -> str:
    sentence = sentence.strip()
    return sentence[2:].strip() if sentence.startswith("- ") else sentence
