"""Questions through ONNX Runtime: the same model, one call that runs outside the interpreter's lock.

A search embeds one short question. In torch that forward pass is a few hundred small operations,
each dispatched from Python, so it holds the GIL for most of its time and a server's searches run
one at a time however many cores it has (a profile under 8 clients: the process used one core of
two). ONNX Runtime runs the whole graph in one call that releases the GIL, and for a question it
is also faster (4.8 ms against 7.1 ms in bfloat16 torch, one thread, SciFact claims).

The graph is exported from the model's own weights the first time (2 s) and kept in the data
folder, named after the weights' hash, so a tuned model gets its own. Its vectors are checked
against the torch model's before it is used (float32: cosine 1.0 to torch's float32); where
ONNX Runtime is missing or the check fails, questions go to torch as before, and ``runtime`` says
which. Documents are still embedded by torch (``embed_spans``: long batches, where bfloat16 on
a CPU that has it is the faster path).
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from core.protocols import Vectors
from ingest.embed import MiniLMEmbedder, _unit, _Wrapping

log = logging.getLogger(__name__)

PROBES = (
    "What does error E-104 mean on the T300 Pro?",
    "Vitamin D deficiency is associated with an increased risk of tuberculosis.",
    "how do i reset the password",
)
AGREEMENT = 0.999  # the lowest cosine to the torch model's vectors a probe may have


class OnnxEmbedder(_Wrapping):
    """``inner``'s model, with ``embed`` run by ONNX Runtime (one thread); its name, tokenizer and
    ``embed_spans`` (torch) are ``inner``'s."""

    inner: MiniLMEmbedder

    def __init__(self, inner: MiniLMEmbedder, folder: Path) -> None:
        self.inner = inner
        self.folder = folder
        self._lock = threading.Lock()
        self._session: Any = None
        self._checked = False
        self.runtime = "onnxruntime (not loaded yet)"

    def embed(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        session = self.load()
        if session is None:
            return self.inner.embed(texts)
        return self._run(session, texts)

    def load(self) -> Any:
        """The checked session, or None (questions then go to torch); made once."""
        with self._lock:
            if not self._checked:
                self._checked = True
                try:
                    self._session = self._open()
                except Exception as exc:  # noqa: BLE001 - any failure leaves torch answering
                    log.warning("questions are embedded by torch: ONNX Runtime is unusable (%s)", exc)
                    self.runtime = f"torch ({self.inner.precision}): ONNX Runtime is unusable: {exc}"
            return self._session

    def _open(self) -> Any:
        import onnxruntime

        path = self._exported()
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1  # one question a core; the batching embedder runs two passes
        options.inter_op_num_threads = 1
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        agreement = float(np.min(np.sum(self._run(session, PROBES) * self.inner.embed(PROBES), axis=1)))
        if agreement < AGREEMENT:
            raise ValueError(f"its vectors differ from torch's (cosine {agreement:.4f})")
        self.runtime = f"onnxruntime {onnxruntime.__version__} (float32, cosine {agreement:.4f} to torch)"
        return session

    def _exported(self) -> Path:
        """The model's graph in the data folder, exported on first use (atomically: a second
        process waits for nothing and at worst exports its own copy)."""
        weights = Path(self.inner._folder()) / "model.safetensors"
        digest = hashlib.sha256(weights.read_bytes()).hexdigest()[:16]
        path = self.folder / f"{self.name}-{digest}.onnx"
        if path.is_file():
            return path
        self.folder.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.partial")
        try:
            _export(self.inner, partial)
            partial.replace(path)
        finally:
            partial.unlink(missing_ok=True)
        return path

    @cached_property
    def _tokenizer(self) -> Any:
        """The model's tokenizer as sentence-transformers applies it: padded to the longest
        text, cut at the model's window."""
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(Path(self.inner._folder()) / "tokenizer.json"))
        tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        tokenizer.enable_truncation(self.inner._model.max_seq_length)
        return tokenizer

    def _run(self, session: Any, texts: Sequence[str]) -> Vectors:
        encodings = self._tokenizer.encode_batch(list(texts))
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        (tokens,) = session.run(
            None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        )
        weights = mask[:, :, None].astype(np.float32)
        pooled = (tokens * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        return _unit(pooled)


def _export(embedder: MiniLMEmbedder, path: Path) -> None:
    """The transformer of a sentence-transformers MiniLM as an ONNX graph (float32, any batch and
    length); pooling and normalising stay in numpy."""
    import warnings

    import torch
    from transformers import AutoModel

    transformer = AutoModel.from_pretrained(embedder._folder(), dtype=torch.float32)

    class Tokens(torch.nn.Module):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            out = self.inner(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            )
            return out.last_hidden_state

    example = torch.ones((1, 8), dtype=torch.int64)
    axes = {0: "batch", 1: "tokens"}
    with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation and tracer notes
        torch.onnx.export(
            Tokens(transformer).eval(),
            (example, example, torch.zeros_like(example)),
            str(path),
            input_names=["input_ids", "attention_mask", "token_type_ids"],
            output_names=["tokens"],
            dynamic_axes={name: axes for name in ("input_ids", "attention_mask", "token_type_ids", "tokens")},
            opset_version=17,
            dynamo=False,
        )
