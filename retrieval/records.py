"""A passage read as the composer needs it: sentences, list items and table rows, each with its
offsets, whether it is a heading (context, never an answer), the heading it sits under, and a
table row's cells named by their columns (a record: "E-102: Meaning: …; Likely cause: …").
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from core.domain import Chunk, Passage
from retrieval.question import content_stems, identifiers
from retrieval.sentences import split_sentences

_ITEM = re.compile(r"^\s*(?:[-*•▪◦]|\d{1,2}[.)]|[a-z][.)])\s+")
_NUMBERED = re.compile(r"^\s*(?:\d{1,2}[.)]|[a-z][.)])\s+")
_KEY_VALUE = re.compile(r"\w[^:]{0,40}:\s+\S")
_TERMINAL = re.compile(r"[.!;:)\"'’”]$")


@dataclass(frozen=True, slots=True)
class Unit:
    text: str  # verbatim, as quoted
    start: int  # offsets inside the passage text
    end: int
    heading: bool = False  # a heading, title or question: context for what follows, never an answer
    context: str = ""  # the heading (or section path) it sits under
    record: tuple[tuple[str, str], ...] | None = None  # a table row: (column name, cell), first = key
    paragraph: int = 0
    item: bool = False  # a list item

    def said(self, entities: Sequence[str] = (), key_terms: frozenset[str] = frozenset()) -> str:
        """How the answer says it: a table row as a record with its column names, narrowed to
        the columns a question names (a compared model's column, a column called what the
        question asks about) when it names some; anything else verbatim."""
        if self.record is None:
            return self.text
        (_, subject), *cells = self.record
        wanted = [
            (n, v) for n, v in cells if set(identifiers(n)) & set(entities) or content_stems(n) & key_terms
        ]
        cells = wanted or cells
        named = "; ".join(f"{name}: {value}" if name else value for name, value in cells if value)
        return f"{subject}: {named}" if subject and named else subject or named


def table_header(passage: Passage) -> list[str] | None:
    """The column names of a table passage: the chunk's metadata when ingestion recorded them,
    else the passage's first ``a | b | c`` line."""
    for holder in (passage, getattr(passage, "metadata", None)):
        raw = getattr(holder, "table_header", None)
        if raw is None and isinstance(holder, dict):
            raw = holder.get("table_header")
        if isinstance(raw, str) and raw.strip():
            return _cells(raw)
        if isinstance(raw, list | tuple) and raw:
            return [str(cell).strip() for cell in raw]
    lines = [line for line in passage.text.splitlines() if " | " in line]
    return _cells(lines[0]) if len(lines) >= 2 else None


def read_passage(passage: Passage) -> list[Unit]:
    header = table_header(passage)
    return list(_read(passage.text, tuple(passage.section_path), tuple(header) if header else None))


def sentence_spans(chunk: Chunk) -> list[tuple[int, int]]:
    """The spans of a chunk's text the query side reads as sentences, each once, in order: the
    reranker's (``split_sentences``) and the composer's units (a table row whole). Ingestion
    stores a vector for each, so neither embeds a sentence at question time."""
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
    spans = {(s.start, s.end) for s in split_sentences(chunk.text)}
    spans |= {(u.start, u.end) for u in read_passage(passage)}
    return sorted(spans)


@lru_cache(maxsize=4096)
def _read(text: str, section_path: tuple[str, ...], header: tuple[str, ...] | None) -> tuple[Unit, ...]:
    units: list[Unit] = []
    context = " > ".join(section_path)
    section_titles = {s.strip().lower() for s in section_path}
    offset = 0
    block_start = 0
    lines = text.split("\n")
    # Table rows are units of their own; the text between them is split into sentences.
    pending: list[tuple[int, int]] = []  # (start, end) of a non-table block
    for line in lines:
        line_start = offset
        offset += len(line) + 1
        if " | " in line:
            if block_start < line_start:
                pending.append((block_start, line_start))
            block_start = offset
            pending.append((line_start, line_start + len(line)))
    if block_start < len(text):
        pending.append((block_start, len(text)))
    for start, end in pending:
        segment = text[start:end]
        if " | " in segment and "\n" not in segment.strip():
            cells = _cells(segment)
            stripped = segment.strip()
            lead = start + segment.index(stripped)
            is_header = header is not None and cells == list(header)
            record = None
            if header is not None and not is_header and len(cells) == len(header):
                record = tuple(zip(header, cells, strict=True))
            paragraph = text.count("\n\n", 0, lead)
            units.append(Unit(stripped, lead, lead + len(stripped), is_header, context, record, paragraph))
            continue
        spans = [(start + sp.start, start + sp.end, sp.text) for sp in split_sentences(segment)]
        listed = _listed(text, spans)
        for index, (s, e, sentence) in enumerate(spans):
            paragraph_here = text.count("\n\n", 0, s)
            heading = _is_heading(sentence, text, s, e, section_titles, listed=index in listed) or (
                _numbered_heading(spans, index, text)
            )
            units.append(
                Unit(
                    sentence,
                    s,
                    e,
                    heading,
                    context,
                    None,
                    paragraph_here,
                    bool(_ITEM.match(sentence)) or index in listed,
                )
            )
            if heading and any(c.isalnum() for c in sentence):
                context = sentence.lstrip("#").strip()
    return tuple(units)


def _bare(sentence: str, text: str, start: int, end: int) -> bool:
    """A short line standing alone with no closing punctuation: a heading, a label, or a bullet
    of a slide (whose bullet marks the parser dropped)."""
    whole_line = (start == 0 or text[start - 1] == "\n") and (end == len(text) or text[end] == "\n")
    bare = sentence.strip()
    return whole_line and len(bare.split()) <= 16 and not _TERMINAL.search(bare) and not bare.endswith(",")


def _numbered_heading(spans: list[tuple[int, int, str]], index: int, text: str) -> bool:
    """A numbered line standing alone between paragraphs ("2. End of support for the legacy
    T-50 thermostat" in a letter) is a section heading, not a one-item list."""
    s, e, sentence = spans[index]
    if not _NUMBERED.match(sentence) or not _bare(sentence, text, s, e) or index + 1 >= len(spans):
        return False
    after = spans[index + 1][2]
    before = spans[index - 1][2] if index else ""
    return (
        not _ITEM.match(after) and not _ITEM.match(before) and not _bare(after, text, *spans[index + 1][:2])
    )


def _own_paragraph(text: str, start: int, end: int) -> bool:
    """A line with a blank line (or the passage's edge) on each side: a slide's bullet, not a
    line of a letterhead."""
    before = text[:start].rstrip(" \t")
    after = text[end:].lstrip(" \t")
    return (not before or before.endswith("\n\n")) and (not after or after.startswith("\n\n"))


def _listed(text: str, spans: list[tuple[int, int, str]]) -> set[int]:
    """The spans that are list members although they look like headings: three or more bare lines
    in a row are a list (a slide's bullets, release-note items), not a stack of headings; the
    first of them stays a title when a "Label: value" field follows it. Each is a paragraph of its
    own: the lines of a letterhead or an address are not a list."""
    listed: set[int] = set()
    run: list[int] = []
    for index in [*range(len(spans)), -1]:
        if (
            index >= 0
            and _own_paragraph(text, *spans[index][:2])
            and _bare(spans[index][2], text, *spans[index][:2])
        ):
            run.append(index)
            continue
        if len(run) >= 3:
            first, second = spans[run[0]][2], spans[run[1]][2]
            titled = bool(_KEY_VALUE.search(second)) and not _KEY_VALUE.search(first)
            listed.update(run[1:] if titled else run)
        run = []
    return listed


def _is_heading(
    sentence: str, text: str, start: int, end: int, section_titles: set[str], *, listed: bool = False
) -> bool:
    bare = sentence.lstrip("#").strip()
    if sentence.startswith("#") or bare.endswith("?") or bare.lower() in section_titles:
        return True
    if listed:
        return False
    words = bare.split()
    if not any(c.isalnum() for c in bare):
        return True
    whole_line = (start == 0 or text[start - 1] == "\n") and (end == len(text) or text[end] == "\n")
    return (
        whole_line
        and len(words) <= 12
        and not _TERMINAL.search(bare)
        and not _KEY_VALUE.search(bare)
        and not _ITEM.match(sentence)
        and end < len(text.rstrip())
    )


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split(" | ")]
