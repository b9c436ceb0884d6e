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
from core.protocols import Embedder, Generator
from retrieval.extractive import REFUSAL
from retrieval.prompts import Prompt, get_prompt
from retrieval.sentences import Span, content_words, split_sentences

_MARKER = re.compile(r"\s*\[(\d+)\]")


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
        for span in split_sentences(text):
            markers = [int(m) for m in _MARKER.findall(span.text)]
            plain = " ".join(_MARKER.sub("", span.text).split())
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
    so a model that was steered or wandered off never reaches the agent unchecked."""

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
        self._client = OpenAI(base_url=base_url, api_key=api_key, timeout=timeout_s, max_retries=1)

    def _messages(self, question: str, passages: Sequence[Passage]) -> list[ChatCompletionMessageParam]:
        system, user = self.prompt.render(question, passages)
        return [{"role": "system", "content": system}, {"role": "user", "content": user}]

    def answer(self, question: str, passages: Sequence[Passage], hints: AnswerHints | None = None) -> Answer:
        if not passages:
            return Answer(question, REFUSAL, refused=True, refusal_reason="no passage matches the question")
        text = "".join(self.stream(question, passages))
        return self.checked(question, text, passages)

    def stream(self, question: str, passages: Sequence[Passage]) -> Iterator[str]:
        """The model's raw text as it arrives; ``checked`` turns the whole of it into an Answer."""
        import openai

        try:
            chunks = self._client.chat.completions.create(
                model=self.model,
                messages=self._messages(question, passages),
                temperature=0,
                stream=True,
            )
            for chunk in chunks:
                if chunk.choices and chunk.choices[0].delta.content:
                    yield chunk.choices[0].delta.content
        except openai.APIError as exc:
            raise BackendUnavailable(f"the language model endpoint failed: {type(exc).__name__}") from exc

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
