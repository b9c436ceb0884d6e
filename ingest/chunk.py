"""Structure-aware chunking: sections follow headings, size follows the embedder's tokenizer.

Each section's running text is one span of the document text; a span longer than the budget is
split by llama-index's ``SentenceSplitter`` (sentence-aware, with overlap) using the embedder's
own tokenizer, so a chunk never exceeds what the model reads. Tables stay whole where they fit,
and split by rows where they do not; every piece of a table keeps the table's header row in its
metadata (``Chunk.table_header``) and in what the embedder reads, while its text stays the exact
slice of the document that its offsets name.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from core.domain import Chunk, Element, ElementKind
from core.layout import TextBox

SEPARATOR = "\n\n"
_MIN_BUDGET = 48


def document_text(elements: Sequence[Element]) -> str:
    """The text that chunk offsets index into: elements joined by blank lines."""
    return SEPARATOR.join(e.text for e in elements)


@dataclass(frozen=True, slots=True)
class _Span:
    start: int
    end: int
    section: tuple[str, ...]
    kind: ElementKind
    table_header: tuple[str, ...] = ()


class Chunker:
    def __init__(self, tokenize: Callable[[str], list[int]], max_tokens: int, overlap: int) -> None:
        self.tokenize = tokenize
        self.max_tokens = max_tokens
        self.overlap = overlap

    def chunk(self, document_id: str, elements: Sequence[Element]) -> list[Chunk]:
        text = document_text(elements)
        starts: list[int] = []
        offset = 0
        for element in elements:
            starts.append(offset)
            offset += len(element.text) + len(SEPARATOR)
        page_of = [(start, start + len(e.text), e.page) for start, e in zip(starts, elements, strict=True)]
        boxes = [b.shifted(start) for start, e in zip(starts, elements, strict=True) for b in e.boxes]
        box_starts = [b.start for b in boxes]

        spans = self._spans(elements, starts)
        if not spans:
            # Headings only (a title slide, a deck of chart captions): the headings are the content.
            spans = self._spans([_as_text(e) for e in elements], starts)
        chunks: list[Chunk] = []
        for span in spans:
            for start, end in self._split(text, span):
                pages = tuple(sorted({p for s, e, p in page_of if s < end and e > start}))
                chunks.append(
                    Chunk(
                        document_id=document_id,
                        index=len(chunks),
                        text=text[start:end],
                        pages=pages or (1,),
                        section_path=span.section,
                        char_start=start,
                        char_end=end,
                        kind=span.kind,
                        table_header=span.table_header,
                        boxes=_within(boxes, box_starts, start, end),
                    )
                )
        return chunks

    def _spans(self, elements: Sequence[Element], starts: list[int]) -> list[_Span]:
        spans: list[_Span] = []
        headings: list[tuple[int, str]] = []
        run: list[int] = []

        def close_run() -> None:
            if run:
                first, last = run[0], run[-1]
                end = starts[last] + len(elements[last].text)
                section = tuple(h for _, h in headings)
                spans.append(_Span(starts[first], end, section, ElementKind.TEXT))
                run.clear()

        for i, element in enumerate(elements):
            if element.kind is ElementKind.TITLE:
                close_run()
                while headings and headings[-1][0] >= element.level:
                    headings.pop()
                headings.append((element.level, " ".join(element.text.split())[:120]))
            elif element.kind is ElementKind.TABLE:
                close_run()
                end = starts[i] + len(element.text)
                section = tuple(h for _, h in headings)
                spans.append(_Span(starts[i], end, section, ElementKind.TABLE, element.table_header))
            else:
                run.append(i)
        close_run()
        return spans

    def _budget(self, section: tuple[str, ...]) -> int:
        heading_tokens = len(self.tokenize(" > ".join(section))) + 2 if section else 0
        return max(self.max_tokens - heading_tokens, _MIN_BUDGET)

    def _split(self, text: str, span: _Span) -> list[tuple[int, int]]:
        body = text[span.start : span.end]
        budget = self._budget(span.section)
        if not body.strip():
            return []
        if len(self.tokenize(body)) <= budget:
            return [(span.start, span.end)]
        if span.kind is ElementKind.TABLE:
            header = len(self.tokenize(" | ".join(span.table_header))) + 1 if span.table_header else 0
            return self._split_rows(body, span.start, max(budget - header, _MIN_BUDGET))
        return self._split_sentences(body, span.start, budget)

    def _split_rows(self, body: str, base: int, budget: int) -> list[tuple[int, int]]:
        pieces: list[tuple[int, int]] = []
        start = end = 0
        used = 0
        for line in body.splitlines(keepends=True):
            cost = len(self.tokenize(line))
            if used and used + cost > budget:
                pieces.append((base + start, base + end))
                start, used = end, 0
            end += len(line)
            used += cost
        if end > start:
            pieces.append((base + start, base + end))
        return [(s, e) for s, e in (_trim(body, s - base, e - base, base) for s, e in pieces) if e > s]

    def _split_sentences(self, body: str, base: int, budget: int) -> list[tuple[int, int]]:
        from llama_index.core.node_parser import SentenceSplitter

        splitter = SentenceSplitter(
            chunk_size=budget,
            chunk_overlap=min(self.overlap, budget // 4),
            tokenizer=self.tokenize,
            paragraph_separator=SEPARATOR,
        )
        pieces: list[tuple[int, int]] = []
        previous = (-1, 0)
        for part in splitter.split_text(body):
            start = _locate(body, part, previous)
            if start < 0:
                continue
            previous = (start, start + len(part))
            pieces.append((base + start, base + start + len(part)))
        return pieces


def _within(boxes: list[TextBox], starts: list[int], start: int, end: int) -> tuple[TextBox, ...]:
    """The boxes of the words a chunk holds (a word's spans start in order: elements are)."""
    first = bisect.bisect_left(starts, start)
    while first > 0 and boxes[first - 1].end > start:
        first -= 1  # a word that starts before the chunk and runs into it
    last = bisect.bisect_left(starts, end, lo=first)
    return tuple(b for b in boxes[first:last] if b.end > start)


def _as_text(element: Element) -> Element:
    if element.kind is ElementKind.TITLE:
        return Element(ElementKind.TEXT, element.text, element.page, boxes=element.boxes)
    return element


def _locate(body: str, part: str, previous: tuple[int, int]) -> int:
    """Where the splitter's piece sits in the span. Pieces come in order, each starting after the
    one before and no later than its end (they overlap or touch): of the places the text occurs in
    that window the last one is its place, even where the same sentence repeats all along."""
    previous_start, previous_end = previous
    best = -1
    found = body.find(part, previous_start + 1)
    while 0 <= found <= previous_end:
        best = found
        found = body.find(part, found + 1)
    if best >= 0:
        return best
    return found if found >= 0 else body.find(part)


def _trim(body: str, start: int, end: int, base: int) -> tuple[int, int]:
    while start < end and body[start].isspace():
        start += 1
    while end > start and body[end - 1].isspace():
        end -= 1
    return base + start, base + end
