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
from typing import Any

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


# Lexemes the tokenizer may add before a fresh pipeline replaces it: spaCy keeps a lexeme, a
# string and a cache entry for every novel word it sees, for ever (a long-running server's memory).
_MAX_LEXEMES = 50_000
_Pipeline = tuple[Any, frozenset[str], re.Pattern[str], frozenset[tuple[str, str]]]
_pipeline: _Pipeline | None = None


def _nlp() -> _Pipeline:
    """spaCy's tokenizer, the sentencizer's stop characters, a pattern that finds them, and
    the pieces its special cases may join (``_joins``)."""
    global _pipeline
    if _pipeline is None or len(_pipeline[0].vocab) > _MAX_LEXEMES:
        import spacy

        nlp = spacy.blank("en")
        stops = frozenset(nlp.add_pipe("sentencizer").punct_chars)
        pattern = re.compile("[" + "".join(re.escape(c) for c in sorted(stops)) + "]")
        _pipeline = (nlp.tokenizer, stops, pattern, _joins(nlp.tokenizer))
    return _pipeline


def _joins(tokenizer: Any) -> frozenset[tuple[str, str]]:
    """The (last character, first character) of two pieces a special case of ``tokenizer`` could
    join into one token across the space between them: the neighbouring tokens of every special
    case that its prefix, suffix and infix rules alone would cut in several (":)" is ":" and ")")."""
    from spacy.tokenizer import Tokenizer

    bare = Tokenizer(
        tokenizer.vocab,
        prefix_search=tokenizer.prefix_search,
        suffix_search=tokenizer.suffix_search,
        infix_finditer=tokenizer.infix_finditer,
        token_match=tokenizer.token_match,
        url_match=tokenizer.url_match,
    )
    joins: set[tuple[str, str]] = set()
    for special in tokenizer.rules:
        cut = [t.text for t in bare(special)]
        joins.update((a[-1], b[0]) for a, b in itertools.pairwise(cut))
    return frozenset(joins)


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
        bounds = [0] + [_boundary(unit, at) for at in _sentence_starts(unit.replace("\n", " "))] + [len(unit)]
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


def _sentence_starts(line: str) -> list[int]:
    """Where spaCy's sentencizer starts the sentences of ``line`` after its first: the character
    offsets of ``[s.start_char for s in list(nlp(line).sents)[1:]]``, for a fraction of the cost.

    spaCy's tokenizer cuts ``line`` at whitespace and tokenises each piece on its own; then its
    special cases may join tokens across one space (emoticons such as ": )"). The sentencizer
    starts a sentence only at the first token that is neither punctuation nor one of its stops,
    after a token that is one of its stops. So only the pieces from one holding a stop character
    to the next sentence's first token, widened to pieces a special case could join them with,
    need the tokenizer; the rest of the line (most of it) never goes through it."""
    tokenizer, stops, stop, joins = _nlp()
    starts: list[int] = []
    done = 0  # the line before this offset has been read
    for found in stop.finditer(line):
        if found.start() < done:
            continue
        first = begin = _piece_start(line, found.start())
        while begin > 1 and line[begin - 1] == " " and (line[begin - 2], line[begin]) in joins:
            begin = _piece_start(line, begin - 1)
        end = found.start()
        while True:
            # This piece and the next, with the whitespace between them: a run of whitespace other
            # than one space is a token of its own, and may start a sentence, as in spaCy.
            end = _PIECE.match(line, end).end()  # type: ignore[union-attr]
            while end + 1 < len(line) and line[end] == " " and (line[end - 1], line[end + 1]) in joins:
                end = _PIECE.match(line, end + 1).end()  # type: ignore[union-attr]
            found_starts, seen_stop = [], False
            for token in tokenizer(line[begin:end]):
                if begin + token.idx < first:
                    continue
                if token.text in stops:
                    seen_stop = True
                elif seen_stop and not token.is_punct:
                    found_starts.append(begin + token.idx)
                    seen_stop = False
            if not seen_stop or end >= len(line):
                break
        starts.extend(found_starts)
        done = end
    return starts


def _piece_start(line: str, at: int) -> int:
    while at > 0 and not line[at - 1].isspace():
        at -= 1
    return at


# The rest of a piece, then any whitespace and the next piece.
_PIECE = re.compile(r"\S*\s*\S*")


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
