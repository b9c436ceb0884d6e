"""The hashing embedder: the deterministic stand-in for MiniLM in tests."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from core.protocols import Vectors
from ingest.embed import BatchingEmbedder, CachingEmbedder, HashingEmbedder, MiniLMEmbedder, create_embedder


def test_vectors_are_deterministic_across_instances() -> None:
    texts = ["Error E-104 means the internal temperature sensor failed.", "Refunds take 7 days."]
    first = HashingEmbedder().embed(texts)
    second = HashingEmbedder().embed(list(reversed(texts)))
    assert first.dtype == np.float32
    assert first.shape == (2, 384)
    np.testing.assert_array_equal(first[0], second[1])
    np.testing.assert_array_equal(first[1], second[0])


def test_vectors_have_unit_norm() -> None:
    vectors = HashingEmbedder(dimension=64).embed(["one", "two words", "a much longer text " * 20])
    assert vectors.shape == (3, 64)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-6)


def test_similar_texts_are_closer_than_unrelated_ones() -> None:
    query, similar, unrelated = HashingEmbedder().embed(
        [
            "how do I factory reset the thermostat",
            "to factory reset the thermostat press and hold the dial",
            "refunds are paid to the original payment method within seven business days",
        ]
    )
    assert float(query @ similar) > float(query @ unrelated) + 0.2


def test_an_empty_text_still_gets_a_unit_vector() -> None:
    vectors = HashingEmbedder(dimension=16).embed(["", "   ", "!!!"])
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0)
    assert vectors[0, 0] == 1.0


def test_no_texts_give_an_empty_matrix() -> None:
    assert HashingEmbedder(dimension=8).embed([]).shape == (0, 8)


def test_tokenize_counts_words_case_insensitively() -> None:
    tokenize = HashingEmbedder().tokenize
    assert len(tokenize("Hold the dial, for 10 seconds!")) == 6
    assert tokenize("Dial") == tokenize("dial")
    assert tokenize("") == []


def test_create_embedder() -> None:
    assert isinstance(create_embedder("hashing"), HashingEmbedder)
    assert isinstance(create_embedder("minilm"), MiniLMEmbedder)  # constructing loads nothing
    with pytest.raises(ValueError, match="unknown embedder 'bert'"):
        create_embedder("bert")


class _Counting:
    """A hashing embedder that counts the texts it is asked to embed."""

    def __init__(self) -> None:
        self.inner = HashingEmbedder()
        self.name, self.dimension, self.seen = "counting", self.inner.dimension, []

    def tokenize(self, text: str) -> list[int]:
        return self.inner.tokenize(text)

    def embed(self, texts: Sequence[str]) -> Vectors:
        self.seen += list(texts)
        return self.inner.embed(texts)


def test_the_caching_embedder_embeds_each_text_once_and_keeps_the_order() -> None:
    counting = _Counting()
    cached = CachingEmbedder(counting, max_entries=3)
    first = cached.embed(["a question", "a sentence", "a question"])
    again = cached.embed(["a sentence", "a question"])
    assert counting.seen == ["a question", "a sentence"]
    assert np.array_equal(first[0], first[2]) and np.array_equal(again, first[[1, 0]])
    assert np.array_equal(first, HashingEmbedder().embed(["a question", "a sentence", "a question"]))
    cached.embed(["b", "c"])  # past max_entries: the oldest is forgotten
    cached.embed(["a question"])
    assert counting.seen[-1] == "a question"
    assert cached.embed([]).shape == (0, counting.dimension)


class _Slow(_Counting):
    """Takes a while per call, as a forward pass does, so concurrent callers pile up."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def embed(self, texts: Sequence[str]) -> Vectors:
        import time

        self.calls += 1
        if "boom" in texts:
            raise RuntimeError("the model failed")
        time.sleep(0.02)
        return super().embed(texts)


def test_the_batching_embedder_embeds_concurrent_callers_in_shared_forward_passes() -> None:
    import threading

    slow = _Slow()
    batching = BatchingEmbedder(slow)
    texts = [f"question number {n} about the router" for n in range(16)]
    got: dict[int, Vectors] = {}
    start = threading.Barrier(len(texts))

    def ask(n: int) -> None:
        start.wait()
        got[n] = batching.embed([texts[n]])

    threads = [threading.Thread(target=ask, args=(n,)) for n in range(len(texts))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    expected = HashingEmbedder().embed(texts)
    for n in range(len(texts)):
        np.testing.assert_array_equal(got[n][0], expected[n])  # each caller gets its own vector
    assert slow.calls < len(texts) / 2  # callers that arrived during a pass shared the next one
    alone = slow.calls
    batching.embed(["alone"])  # no company: embedded at once, in a pass of its own
    assert slow.calls == alone + 1 and slow.seen[-1] == "alone"


def test_the_batching_embedder_hands_the_model_error_to_its_caller() -> None:
    batching = BatchingEmbedder(_Slow())
    with pytest.raises(RuntimeError, match="the model failed"):
        batching.embed(["boom"])
    assert batching.embed(["fine"]).shape == (1, 384)  # the model thread lives on


def test_the_batching_embedder_gives_every_caller_its_own_vectors_under_contention() -> None:
    import random
    import threading

    batching = BatchingEmbedder(HashingEmbedder(), max_batch=8, max_passes=2)
    wrong: list[str] = []

    def caller(n: int) -> None:
        rng = random.Random(n)
        for i in range(30):
            texts = [f"caller {n} call {i} text {k}" for k in range(rng.randint(1, 12))]
            if not np.array_equal(batching.embed(texts), HashingEmbedder().embed(texts)):
                wrong.append(texts[0])

    threads = [threading.Thread(target=caller, args=(n,)) for n in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads)  # no caller left waiting for a pass
    assert wrong == []
    assert batching._passes == 0 and batching._pending == []
