"""spaCy's rule-based sentencizer, read only where it can act: the same sentence starts as
``spacy.blank("en")`` plus ``sentencizer`` over a whole line, for a fraction of the cost.

spaCy's tokenizer cuts a line at whitespace and tokenises each piece on its own; then its special
cases may join the tokens of two pieces across one space (emoticons: ": )", "( :"). The
sentencizer starts a sentence at the first token that is neither punctuation nor one of its stops,
after a token that is one of its stops; nothing else. So only the pieces from one holding a stop
character up to the next sentence's first token need cutting, each with the pieces a special case
could join it to: a segment. Most segments are cut by the steps of spaCy's own affix splitting
with its own rules (``_affixes``), with no Doc and no lexeme; the rest go through spaCy's
tokenizer, one call a line, inside a memory zone so that its vocabulary does not keep every novel
word for ever. A segment's tokens depend on nothing else, so they are kept (a bounded memo).

Whole-line spaCy was about 65% of search's CPU in a profile (20k chunks, sentence reranker).
bench/sentence_split.py checks the starts against spaCy's on every text at hand, and times both.
"""

from __future__ import annotations

import itertools
import re
import threading
import unicodedata
from dataclasses import dataclass
from typing import Any

# A token's role for the sentencizer.
_OTHER, _PUNCT, _STOP = 0, 1, 2
_Tokens = tuple[tuple[int, int], ...]  # (offset in the segment, role)

_MAX_SEGMENTS = 1 << 16
# Joins segments that go through the tokenizer together: a run of whitespace other than one space
# is a token that no special case holds, so nothing joins across it.
_SEPARATOR = "\n\n"


@dataclass(frozen=True, slots=True)
class _Pipeline:
    nlp: Any
    stops: frozenset[str]
    stop_ids: frozenset[int]  # the stops as spaCy's hashes of their text
    pairs: frozenset[tuple[str, str]]  # neighbouring tokens a special case may join
    joins: frozenset[tuple[str, str]]  # (last, first) characters of pieces a special case may join
    rules: frozenset[str]  # the special cases
    changes: frozenset[str]  # the special cases that cut their text in several tokens
    is_punct: Any  # spaCy's IS_PUNCT getter
    roles: dict[str, int]  # the tokens met, with their role

    def role(self, token: str) -> int:
        role = self.roles.get(token)
        if role is None:
            role = _STOP if token in self.stops else _PUNCT if self.is_punct(token) else _OTHER
            if len(self.roles) < _MAX_SEGMENTS:
                self.roles[token] = role
        return role


_pipeline: _Pipeline | None = None
_memo: dict[str, _Tokens] = {}
_lock = threading.Lock()


def _nlp() -> _Pipeline:
    global _pipeline
    if _pipeline is None:
        import spacy
        from spacy.attrs import IS_PUNCT

        nlp: Any = spacy.blank("en")
        stops = nlp.add_pipe("sentencizer").punct_chars
        # A new word's lexeme gets only the flag read here: spaCy's other getters (shape, norm,
        # like_url…) cost more than the tokenizing.
        nlp.vocab.lex_attr_getters = {IS_PUNCT: nlp.vocab.lex_attr_getters[IS_PUNCT]}
        pairs = _special_pairs(nlp.tokenizer)
        _pipeline = _Pipeline(
            nlp,
            frozenset(stops),
            frozenset(nlp.vocab.strings.add(c) for c in stops),
            pairs,
            frozenset((a[-1], b[0]) for a, b in pairs),
            frozenset(nlp.tokenizer.rules),
            frozenset(k for k, v in nlp.tokenizer.rules.items() if len(v) > 1),
            nlp.vocab.lex_attr_getters[IS_PUNCT],
            {},
        )
    return _pipeline


def _special_pairs(tokenizer: Any) -> frozenset[tuple[str, str]]:
    """The neighbouring tokens of every special case that the prefix, suffix and infix rules of
    ``tokenizer`` alone cut in several (":)" is ":" and ")"): where spaCy may join tokens."""
    from spacy.tokenizer import Tokenizer

    bare = Tokenizer(
        tokenizer.vocab,
        prefix_search=tokenizer.prefix_search,
        suffix_search=tokenizer.suffix_search,
        infix_finditer=tokenizer.infix_finditer,
        token_match=tokenizer.token_match,
        url_match=tokenizer.url_match,
    )
    pairs: set[tuple[str, str]] = set()
    for special in tokenizer.rules:
        pairs.update(itertools.pairwise(t.text for t in bare(special)))
    return frozenset(pairs)


def sentence_starts(line: str) -> list[int]:
    """``[s.start_char for s in list(nlp(line).sents)[1:]]`` with ``nlp`` a blank English
    pipeline and a sentencizer: where the sentences after the first start."""
    pipe = _nlp()
    only_spaces = _OTHER_SPACE.search(line) is None  # no whitespace but " "
    segments: list[tuple[int, int]] = []  # those that hold a stop, in order
    for at in sorted(at for c in pipe.stops.intersection(line) for at in _find_all(line, c)):
        if not segments or at >= segments[-1][1]:
            segments.append(_segment(line, at, pipe.joins, only_spaces))
    known = _tokenize(pipe, [line[start:end] for start, end in segments])
    starts: list[int] = []
    done = 0  # the line before this offset has been read
    for start, end in segments:
        if start < done:
            continue
        # A stop already read would have moved ``done`` past this segment: the sentencizer
        # enters it with no stop seen.
        seen_stop = False
        while True:
            segment = line[start:end]
            tokens = known.get(segment) or _tokenize(pipe, [segment])[segment]
            for offset, role in tokens:
                if role == _STOP:
                    seen_stop = True
                elif seen_stop and role == _OTHER:
                    starts.append(start + offset)
                    seen_stop = False
            done = end
            if not seen_stop or end == len(line):
                break
            # The whitespace after the segment: spaCy drops one space after a piece; the rest of
            # the run is a token, which starts the next sentence.
            after = _WHITESPACE.match(line, end).end()  # type: ignore[union-attr]
            kept = end + 1 if line[end] == " " else end
            if kept < after or (after < len(line) and _starts_word(line[after], pipe.stops)):
                starts.append(kept if kept < after else after)
                done = after
                break
            if after == len(line):
                break
            start, end = _segment(line, after, pipe.joins, only_spaces)
    return starts


def _starts_word(char: str, stops: frozenset[str]) -> bool:
    """Whether a token that starts with ``char`` is neither punctuation (which spaCy says of a
    token whose characters are all punctuation) nor a stop: a sentence's first token."""
    return not unicodedata.category(char).startswith("P") and char not in stops


def _find_all(line: str, char: str) -> list[int]:
    found, at = [], line.find(char)
    while at >= 0:
        found.append(at)
        at = line.find(char, at + 1)
    return found


_WHITESPACE = re.compile(r"\s*")
_PIECE_END = re.compile(r"\S*")


def _segment(line: str, at: int, joins: frozenset[tuple[str, str]], only_spaces: bool) -> tuple[int, int]:
    """The piece of ``line`` around ``at`` with the pieces a special case could join it to."""
    start = _piece_start(line, at, only_spaces)
    while start > 1 and line[start - 1] == " " and (line[start - 2], line[start]) in joins:
        start = _piece_start(line, start - 2, only_spaces)
    end = _PIECE_END.match(line, at).end()  # type: ignore[union-attr]
    while end + 1 < len(line) and line[end] == " " and (line[end - 1], line[end + 1]) in joins:
        end = _PIECE_END.match(line, end + 1).end()  # type: ignore[union-attr]
    return start, end


def _piece_start(line: str, at: int, only_spaces: bool) -> int:
    start = line.rfind(" ", 0, at) + 1  # most whitespace is a space: look for the others after it
    while not only_spaces and (space := _SPACE.search(line, start, at)) is not None:
        start = space.end()
    return start


_SPACE = re.compile(r"\s+")
_OTHER_SPACE = re.compile(r"[^\S ]")


def _tokenize(pipe: _Pipeline, wanted: list[str]) -> dict[str, _Tokens]:
    """The tokens of each segment: from the memo, by ``_segment_tokens``, or else from spaCy's
    tokenizer, all in one call (segments apart by ``_SEPARATOR``)."""
    from spacy.attrs import IDX, IS_PUNCT, ORTH

    if len(_memo) + len(wanted) > _MAX_SEGMENTS:
        _memo.clear()
    known: dict[str, _Tokens] = {}
    todo: list[str] = []
    for segment in wanted:
        if segment in known:
            continue
        found = _memo.get(segment)
        if found is None:
            cut = _segment_tokens(pipe, segment)
            if cut is None:
                todo.append(segment)
                continue
            found = _memo[segment] = _roles(pipe, segment, cut)
        known[segment] = found
    todo = list(dict.fromkeys(todo))
    if not todo:
        return known
    # In a memory zone, the lexemes and strings of the words met are dropped afterwards: spaCy's
    # vocabulary would otherwise keep every novel word for ever.
    with _lock, pipe.nlp.memory_zone():  # a zone is the vocabulary's, not the thread's
        cut_by_spacy = pipe.nlp.tokenizer(_SEPARATOR.join(todo)).to_array([IDX, ORTH, IS_PUNCT]).tolist()
    tokens: dict[str, list[tuple[int, int]]] = {segment: [] for segment in todo}
    segments = iter(todo)
    segment, start = next(segments), 0
    for idx, orth, punct in cut_by_spacy:
        while idx >= start + len(segment):
            start += len(segment) + len(_SEPARATOR)
            segment = next(segments)
        if idx >= start:  # not the separator
            role = _STOP if orth in pipe.stop_ids else _PUNCT if punct else _OTHER
            tokens[segment].append((idx - start, role))
    for segment, roles in tokens.items():
        known[segment] = _memo[segment] = tuple(roles)
    return known


def _roles(pipe: _Pipeline, segment: str, tokens: list[str]) -> _Tokens:
    roles, at = [], 0
    for token in tokens:
        at = segment.index(token, at)  # past the space between two pieces
        roles.append((at, pipe.role(token)))
        at += len(token)
    return tuple(roles)


def _segment_tokens(pipe: _Pipeline, segment: str) -> list[str] | None:
    """The tokens of a segment, as spaCy's tokenizer would cut it, or None where only spaCy can
    say: each piece by ``_affixes``; then spaCy matches its special cases over the tokens, and
    none can match unless a token is one that changes, or two neighbours are pieces of one."""
    tokens: list[str] = []
    for piece in segment.split(" "):
        cut = _affixes(pipe, piece)
        if cut is None:
            return None
        tokens.extend(cut)
    if any(t in pipe.changes for t in tokens) or any(
        pair in pipe.pairs for pair in itertools.pairwise(tokens)
    ):
        return None
    return tokens


def _affixes(pipe: _Pipeline, piece: str) -> list[str] | None:
    """The tokens of one piece, by the steps of spaCy's ``Tokenizer._split_affixes`` and
    ``_attach_tokens`` with its own prefix, suffix, infix and URL rules, without making a Doc or a
    lexeme; None where a special case (an exception such as "e.g." or ":)") may take part, which
    is left to spaCy itself."""
    tokenizer, rules = pipe.nlp.tokenizer, pipe.rules
    token_match, url_match = tokenizer.token_match, tokenizer.url_match
    if piece in rules:
        return None
    prefixes: list[str] = []
    suffixes: list[str] = []
    string, last = piece, 0
    while string and len(string) != last:
        if (token_match and token_match(string)) or string in rules:
            break
        last = len(string)
        pre = tokenizer.find_prefix(string)
        if pre and string[pre:] in rules:
            return None
        suf = tokenizer.find_suffix(string[pre:])
        if suf and string[:-suf] in rules:
            return None
        if pre and suf and pre + suf <= len(string):
            prefixes.append(string[:pre])
            suffixes.append(string[-suf:])
            string = string[pre:-suf]
        elif pre:
            prefixes.append(string[:pre])
            string = string[pre:]
        elif suf:
            suffixes.append(string[-suf:])
            string = string[:-suf]
    tokens = prefixes
    if string:
        if string in rules:
            return None
        infixes = (
            []
            if (token_match and token_match(string)) or (url_match and url_match(string))
            else tokenizer.find_infix(string)
        )
        start = 0
        for infix in infixes:
            if infix.start() == 0:
                continue
            if infix.start() != start:
                tokens.append(string[start : infix.start()])
            if infix.start() != infix.end():
                tokens.append(string[infix.start() : infix.end()])
            start = infix.end()
        if string[start:]:
            tokens.append(string[start:])
    tokens.extend(reversed(suffixes))
    return tokens
