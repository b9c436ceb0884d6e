"""Sentence spans of a passage, with their character offsets inside it."""

from __future__ import annotations

import re
from dataclasses import dataclass

# A sentence ends at . ! ? (not inside "e.g." or "3.5") before whitespace and a capital, digit or
# opening mark; a line break always ends one (tables, lists and headings are one unit per line).
_BOUNDARY = re.compile(r"(?<=[.!?])(?<!\be\.g\.)(?<!\bi\.e\.)(?<!\bvs\.)\s+(?=[A-Z0-9\"'(\[])|\n+")
_MIN_CHARS = 12


@dataclass(frozen=True, slots=True)
class Span:
    text: str
    start: int
    end: int


def split_sentences(text: str) -> list[Span]:
    spans: list[Span] = []
    start = 0
    for match in _BOUNDARY.finditer(text):
        _add(spans, text, start, match.start())
        start = match.end()
    _add(spans, text, start, len(text))
    return spans


def _add(spans: list[Span], text: str, start: int, end: int) -> None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if end - start >= _MIN_CHARS:
        spans.append(Span(text[start:end], start, end))


_CONTENT_WORD = re.compile(r"[a-z0-9][a-z0-9\-]*")
_STOP_WORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "for",
        "from",
        "has",
        "have",
        "in",
        "is",
        "it",
        "its",
        "of",
        "on",
        "or",
        "that",
        "the",
        "this",
        "to",
        "was",
        "were",
        "with",
    ]
)


def content_words(text: str) -> set[str]:
    """The words that carry a sentence's meaning (lower-cased, stop words dropped): what a
    citation's quote must hold for the sentence to count as supported by it."""
    return {w for w in _CONTENT_WORD.findall(text.lower()) if w not in _STOP_WORDS}
