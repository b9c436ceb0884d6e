"""Sentence spans of a passage, with their character offsets inside it.

Sentences inside a line come from spaCy's rule-based ``sentencizer`` on a blank English pipeline:
spaCy is already a dependency (unstructured needs it), the blank pipeline needs no model download,
and its tokenizer's exceptions keep abbreviations ("e.g.", "approx."), decimals ("3.5"), versions
("4.2.1"), addresses ("192.168.4.1") and menu paths ("Settings > Picture > Expert Settings") whole.
pysbd handles more abbreviations but is not in the stack, unmaintained since 2021 and about ten
times slower; spaCy's statistical parsers would need a model download.

What spaCy does not know, the page's structure says: a blank line, a list item or a table row
always ends a sentence, while a hard-wrapped line (the next line goes on in lower case, or this
one stops at a comma) does not. Citation markers written after the full stop ("…restart. [1]")
stay with their sentence.
"""

from __future__ import annotations

import functools
import itertools
import re
from dataclasses import dataclass

from retrieval.sentencizer import sentence_starts
from retrieval.stopwords import STOP_WORDS


@dataclass(frozen=True, slots=True)
class Span:
    text: str
    start: int
    end: int


# A line that starts a unit of its own: a list item, a table row, a "Label: value" field.
_LIST_ITEM = re.compile(r"^\s*([•●▪◦\-–*]|\d{1,2}[.)]|[a-z][.)])\s+")
_TABLE_ROW = re.compile(r" \| ")
# A line that stops mid-sentence: the next one carries on.
_OPEN_END = re.compile(r"[,;(/&>+\-–]$|\b(a|an|and|or|the|of|to|in|on|for|with|by|at|from)$", re.IGNORECASE)
_TRAILER = re.compile(r"[\"')\]}»”’]*(\s*\[\d+(\s*[,;–-]\s*\d+)*\])*")
_BETWEEN = re.compile(r"[\s\"')\]}»”’\[\d,;–-]*")
_MAY_END = re.compile(r"[.!?][\"')\]}»”’]*\s+\S")
_LIST_MARK_ONLY = re.compile(r"^\s*(\d{1,2}[.)]|[a-z][.)]|[•●▪◦\-–*])\s*$")
_HAS_WORD = re.compile(r"\w")


def warm_up() -> None:
    """Load spaCy (seconds: it imports thinc, and torch where installed) ahead of the first answer."""
    split_sentences("Warm up. The sentence splitter loads on first use.")


def split_sentences(text: str) -> list[Span]:
    return list(_split(text))


@functools.lru_cache(maxsize=4096)
def _split(text: str) -> tuple[Span, ...]:
    # Cached: the same passages come back query after query, and spaCy costs ~4 µs a character.
    spans: list[Span] = []
    for start, end in _units(text):
        spans.extend(_sentences(text, start, end))
    return tuple(spans)


def _units(text: str) -> list[tuple[int, int]]:
    """Ranges of ``text`` that never share a sentence: paragraphs, list items, table rows.
    A line break inside a unit is a hard wrap."""
    units: list[tuple[int, int]] = []
    start = 0
    previous = ""
    for match in re.finditer(r"[^\n]*(\n|$)", text):
        line = match.group().rstrip("\n")
        if match.start() == len(text) and not line:
            break
        if match.start() > start and _breaks(previous, line):
            units.append((start, match.start()))
            start = match.start()
        previous = line
    if start < len(text):
        units.append((start, len(text)))
    return units


def _breaks(previous: str, line: str) -> bool:
    before, after = previous.strip(), line.strip()
    if not before or not after:
        return True  # a blank line ends a paragraph
    if _LIST_ITEM.match(after) or _TABLE_ROW.search(after) or _TABLE_ROW.search(before):
        return True
    # A hard wrap: the line goes on in lower case, or the one above stops mid-phrase.
    return not (after[0].islower() or after[0] == "(" or _OPEN_END.search(before))


def _sentences(text: str, start: int, end: int) -> list[Span]:
    unit = text[start:end]
    if not _HAS_WORD.search(unit):
        return []
    bounds = [0, len(unit)]
    if _MAY_END.search(unit):
        bounds = [0] + [_boundary(unit, at) for at in sentence_starts(unit.replace("\n", " "))] + [len(unit)]
    pieces: list[list[int]] = []
    for s, e in itertools.pairwise(bounds):
        piece = unit[s:e].strip()
        if not piece:
            continue
        if pieces and (piece[:1].islower() or not _HAS_WORD.search(piece)):
            pieces[-1][1] = e  # a false stop after an abbreviation, or a stray mark
        elif pieces and _LIST_MARK_ONLY.match(unit[pieces[-1][0] : pieces[-1][1]]):
            pieces[-1][1] = e  # "1." belongs to its item
        else:
            pieces.append([s, e])
    spans = []
    for s, e in pieces:
        s, e = _trim(unit, s, e)
        if e > s:
            spans.append(Span(text[start + s : start + e], start + s, start + e))
    return spans


def _boundary(unit: str, start: int) -> int:
    """Where a sentence spaCy starts at ``start`` really starts: right after the full stop and
    the closing marks and citation markers ("… Restart. [1]") that follow it."""
    stop = max(unit.rfind(mark, 0, start + 1) for mark in ".!?")
    if stop < 0 or not _BETWEEN.fullmatch(unit, stop + 1, start):
        return start
    after = _TRAILER.match(unit, stop + 1)
    return after.end() if after else stop + 1


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


_CONTENT_WORD = re.compile(r"[a-z0-9][a-z0-9\-]*")


def content_words(text: str) -> set[str]:
    """The words that carry a sentence's meaning (lower-cased, stop words dropped): what a
    citation's quote must hold for the sentence to count as supported by it."""
    return {w for w in _CONTENT_WORD.findall(text.lower()) if w not in STOP_WORDS}
