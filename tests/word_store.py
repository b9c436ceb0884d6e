"""A small Qdrant Edge store of random texts over a dozen words: for holding a bench's scoring,
done outside the engine, to the engine's own."""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from core.domain import Chunk, Document, DocumentStatus
from ingest.embed import HashingEmbedder

EMBEDDER = HashingEmbedder()
WORDS = [
    "sensor",
    "error",
    "reset",
    "battery",
    "filter",
    "pump",
    "valve",
    "firmware",
    "display",
    "cable",
    "fan",
    "alarm",
]


@contextmanager
def word_store(
    path: Path, seed: int, count: int, words: tuple[int, int], **document: Any
) -> Iterator[tuple[Any, list[str]]]:
    """``count`` chunks of one document, each of ``words`` (least, most) random words; the store
    and the texts, in chunk order."""
    from retrieval.stores.edge import EdgeVectorStore

    rng = random.Random(seed)
    texts = [" ".join(rng.choices(WORDS, k=rng.randint(*words))) for _ in range(count)]
    doc = Document("d", "manuals", "d.txt", "text/plain", "x", 1, DocumentStatus.READY, **document)
    chunks = [Chunk(doc.id, i, t, (1,), (), 0, len(t)) for i, t in enumerate(texts)]
    store = EdgeVectorStore(path, EMBEDDER.dimension)
    try:
        store.upsert(doc, chunks, EMBEDDER.embed(texts))
        yield store, texts
    finally:
        store.close()
