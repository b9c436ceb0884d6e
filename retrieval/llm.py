"""Answers written by a language model behind an OpenAI-compatible endpoint (OpenAI, vLLM,
Ollama, a llama.cpp server), held to the same rule as the extractive answers: every sentence
must cite a passage that supports it. ``CitationChecker`` enforces it sentence by sentence."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace

import numpy as np
from openai.types.chat import ChatCompletionMessageParam

from core.domain import Answer, AnswerHints, Citation, Passage
from core.errors import BackendUnavailable
from core.protocols import Embedder, Generator, Query
from retrieval.extractive import REFUSAL
from retrieval.prompts import Prompt, get_prompt
from retrieval.sentences import Span, content_words, split_sentences

# One marker as models write them: [1], [1, 2], [1,2;3], [1-3]; a group is markers side by side
# ("[1][2]", "[1], [2]"). A list line holds only a group, perhaps after "Sources:".
_ONE = r"\[\s*\d+(?:\s*[-\u2013,;]\s*\d+)*\s*\]"
_GROUP = re.compile(rf"\s*{_ONE}(?:[ \t,;]*{_ONE})*")
_LIST_LINE = re.compile(
    rf"^[ \t]*(?:(?:sources?|references?|citations?)[ \t]*:?[ \t]*)?{_ONE}(?:[ \t,;]*{_ONE})*[ \t.]*$",
    re.IGNORECASE | re.MULTILINE,
)
_NUMBER_OR_RANGE = re.compile(r"(\d+)(?:\s*[-\u2013]\s*(\d+))?")
_MAX_RANGE = 20  # "[1-3]" is three markers; a wider "range" is a typo, not a citation list
_BETWEEN = re.compile(r"[\s.!?:;,)\]\"'\u201d]*")  # what may stand between a sentence and its markers


def _numbers(group: str) -> list[int]:
    numbers: list[int] = []
    for first, last in _NUMBER_OR_RANGE.findall(group):
        low, high = int(first), int(last or first)
        numbers += range(low, high + 1) if 0 <= high - low <= _MAX_RANGE else [low, int(last)]
    return list(dict.fromkeys(numbers))


def cited_sentences(text: str) -> list[tuple[str, list[int]]]:
    """The sentences of a model's answer with the markers each cites.

    Models place markers in several ways, and a marker is never a sentence of its own: before or
    after the full stop ("... Restart [1]." or "... Restart. [1]"), several together ("[1][2]",
    "[1, 2]"), at the end of a paragraph for all of its sentences, or in a trailing list ("Sources:
    [1], [2]") for every sentence that cites nothing itself. Markers are taken out before the
    text is split into sentences, then given back to the sentence they follow."""
    shared = [n for line in _LIST_LINE.finditer(text) for n in _numbers(line.group())]
    text = _LIST_LINE.sub("", text)
    plain: list[str] = []
    groups: list[tuple[int, list[int], bool]] = []  # (offset in the plain text, markers, ends a paragraph)
    last = 0
    for match in _GROUP.finditer(text):
        plain.append(text[last : match.start()])
        offset = sum(map(len, plain))
        rest = text[match.end() :].lstrip(" \t.!?")
        ends_paragraph = not rest.strip() or rest.startswith(("\n", "\r"))
        groups.append((offset, _numbers(match.group()), ends_paragraph))
        last = match.end()
    plain.append(text[last:])
    joined = "".join(plain)
    spans = split_sentences(joined)
    markers: list[list[int]] = [[] for _ in spans]
    for offset, numbers, ends_paragraph in groups:
        before = [i for i, s in enumerate(spans) if s.start < offset]
        if not before and spans and not joined[:offset].strip():
            before = [0]  # markers that open the answer belong to its first sentence
        if not before:
            continue
        owner = before[-1]
        if offset > spans[owner].end and not _BETWEEN.fullmatch(joined[spans[owner].end : offset]):
            continue  # follows text that is no sentence of the answer (too short to be one)
        markers[owner] += numbers
        if ends_paragraph:
            start = joined.rfind("\n", 0, spans[owner].start) + 1
            for i in range(owner - 1, -1, -1):
                if spans[i].start < start:
                    break
                if not markers[i]:
                    markers[i] += numbers
    for numbers in markers:
        if not numbers:
            numbers += shared
    return [
        (" ".join(span.text.split()), list(dict.fromkeys(numbers)))
        for span, numbers in zip(spans, markers, strict=True)
    ]


@dataclass(frozen=True, slots=True)
class CheckedSentence:
    text: str  # without its markers
    marker: int
    passage: Passage
    quote: Span
    support: float


class CitationChecker:
    """Keeps a sentence only if it cites a passage given to the model and that passage supports it:
    most of the sentence's content words appear in one of the passage's sentences, or the two are
    close in embedding space."""

    def __init__(self, embedder: Embedder, *, min_overlap: float = 0.5, min_similarity: float = 0.6) -> None:
        self.embedder = embedder
        self.min_overlap = min_overlap
        self.min_similarity = min_similarity

    def check(self, text: str, passages: Sequence[Passage]) -> tuple[list[CheckedSentence], list[str]]:
        kept: list[CheckedSentence] = []
        dropped: list[str] = []
        for plain, markers in cited_sentences(text):
            if not markers:
                dropped.append(f"no citation: {plain!r}")
                continue
            best: CheckedSentence | None = None
            for marker in markers:
                if not 1 <= marker <= len(passages):
                    continue
                checked = self._support(plain, marker, passages[marker - 1])
                if checked is not None and (best is None or checked.support > best.support):
                    best = checked
            if best is None:
                dropped.append(f"not supported by the passage it cites: {plain!r}")
            else:
                kept.append(best)
        return kept, dropped

    def _support(self, sentence: str, marker: int, passage: Passage) -> CheckedSentence | None:
        spans = split_sentences(passage.text) or [Span(passage.text, 0, len(passage.text))]
        words = content_words(sentence)
        overlaps = [len(words & content_words(s.text)) / max(len(words), 1) for s in spans]
        vectors = self.embedder.embed([sentence] + [s.text for s in spans])
        similarity = vectors[1:] @ vectors[0]
        index = int(np.argmax(np.maximum(overlaps, similarity)))
        if overlaps[index] < self.min_overlap and float(similarity[index]) < self.min_similarity:
            return None
        support = max(overlaps[index], float(similarity[index]))
        return CheckedSentence(sentence, marker, passage, spans[index], support)


class OpenAICompatibleGenerator:
    """Passages go to the model as quoted data (prompt ``answer@2``); an answer none of whose
    sentences survives the citation check falls back to ``fallback`` (the extractive generator),
    so a model that was steered or wandered off never reaches the agent unchecked. An endpoint
    that fails or does not answer in time falls back too, saying why in the answer's notes;
    with no fallback it raises ``BackendUnavailable``."""

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str,
        timeout_s: float,
        checker: CitationChecker,
        *,
        prompt: Prompt | None = None,
        fallback: Generator | None = None,
    ) -> None:
        from openai import OpenAI

        self.model = model
        self.checker = checker
        self.prompt = prompt or get_prompt("answer")
        self.fallback = fallback
        self.name = f"openai-compatible:{model}"
        self.timeout_s = timeout_s
        self._client = OpenAI(base_url=base_url, api_key=api_key, timeout=timeout_s, max_retries=1)

    def _messages(self, question: str, passages: Sequence[Passage]) -> list[ChatCompletionMessageParam]:
        system, user = self.prompt.render(question, passages)
        return [{"role": "system", "content": system}, {"role": "user", "content": user}]

    def answer(
        self, query: str | Query, passages: Sequence[Passage], hints: AnswerHints | None = None
    ) -> Answer:
        question = query.text if isinstance(query, Query) else query
        if not passages:
            return Answer(question, REFUSAL, refused=True, refusal_reason="no passage matches the question")
        try:
            text = "".join(self.stream(question, passages))
        except BackendUnavailable as exc:
            if self.fallback is None:
                raise
            extractive = self.fallback.answer(query, passages)
            return replace(extractive, notes=(*extractive.notes, f"{exc.reason}: quoted instead"))
        return self.checked(question, text, passages)

    def stream(self, question: str, passages: Sequence[Passage]) -> Iterator[str]:
        """The model's raw text as it arrives; ``checked`` turns the whole of it into an Answer.
        An endpoint that fails, does not answer in time or breaks off mid-answer raises
        ``BackendUnavailable`` saying which."""
        import httpx
        import openai

        arrived = False
        try:
            chunks = self._client.chat.completions.create(
                model=self.model,
                messages=self._messages(question, passages),
                temperature=0,
                stream=True,
            )
            for chunk in chunks:
                arrived = True
                if chunk.choices and chunk.choices[0].delta.content:
                    yield chunk.choices[0].delta.content
        except (openai.APITimeoutError, httpx.TimeoutException) as exc:
            said = (
                f"stopped mid-answer: nothing came for {self.timeout_s:g} s"
                if arrived
                else f"did not answer within {self.timeout_s:g} s"
            )
            raise BackendUnavailable(f"the language model endpoint {said}") from exc
        except openai.APIStatusError as exc:
            raise BackendUnavailable(
                f"the language model endpoint failed: HTTP {exc.status_code} ({type(exc).__name__})"
            ) from exc
        except openai.APIError as exc:
            raise BackendUnavailable(f"the language model endpoint failed: {type(exc).__name__}") from exc
        except httpx.HTTPError as exc:  # the connection broke while the answer streamed
            raise BackendUnavailable(
                f"the language model endpoint broke off its answer: {type(exc).__name__}"
            ) from exc

    def checked(self, question: str, text: str, passages: Sequence[Passage]) -> Answer:
        if "NOT IN DOCUMENTS" in text:
            return Answer(
                question,
                REFUSAL,
                refused=True,
                refusal_reason="the model found no answer in the passages",
                passages=tuple(passages),
            )
        kept, dropped = self.checker.check(text, passages)
        notes = tuple(f"removed a sentence with {reason}" for reason in dropped)
        if not kept and self.fallback is not None:
            extractive = self.fallback.answer(question, passages)
            return replace(
                extractive, notes=(*notes, "the model's answer failed the citation check: quoted instead")
            )
        if not kept:
            return Answer(
                question,
                REFUSAL,
                refused=True,
                passages=tuple(passages),
                notes=notes,
                refusal_reason="no sentence of the generated answer was supported by a cited passage",
            )
        citations, parts = [], []
        for n, sentence in enumerate(kept, start=1):
            p = sentence.passage
            citations.append(
                Citation(
                    n,
                    p.document_id,
                    p.source_name,
                    p.pages,
                    sentence.quote.text,
                    p.char_start + sentence.quote.start,
                    p.char_start + sentence.quote.end,
                    round(sentence.support, 4),
                )
            )
            parts.append(f"{sentence.text} [{n}]")
        return Answer(question, " ".join(parts), tuple(citations), passages=tuple(passages), notes=notes)
