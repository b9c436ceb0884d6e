"""The live index: the vector store questions are answered from and the model that embeds for it,
switched together in one step, on either store.

A rebuild (``ingest/rebuild.py``) fills a new index beside the live one, with the same model or a
new one; ``switch`` then makes it live for every later search and write. A search holds the
generation it started with until it returns, so the old index is closed only once the searches
still reading it are done: no request fails and none mixes one model's question vector with the
other's index. Which index is live survives a restart in the catalog (``core/catalog/serving.py``).

- Qdrant Edge: each index is a shard folder under ``<home>/qdrant/``: ``<model>`` (the first) or
  ``<model>--<n>``; the old folder is deleted once no search reads it.
- Qdrant server: each model has an alias ``<collection>-<model>``; a rebuild fills
  ``<alias>--<n+1>`` and moves the alias (``QdrantServerVectorStore.switch_to``), so another API
  replica reading the same model's alias follows at once.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from core.domain import Chunk, Document, Passage, SentenceVectors
from core.protocols import Embedder, SearchRequest, SpanEmbedder, Vectors, VectorStore


@dataclass(eq=False)
class Generation:
    """One live index and the model its vectors come from."""

    model: str
    index: str
    store: VectorStore
    embedder: Embedder
    readers: int = 0
    drained: threading.Condition = field(default_factory=threading.Condition)


@dataclass
class Building:
    """An index being filled beside the live one (``target`` takes the rebuild's writes)."""

    model: str
    index: str
    target: Any  # a VectorStore with ``document_ids`` (ingest.rebuild.RebuildTarget)
    owner: Any = None  # the server store whose alias will point at ``target``
    opened: bool = False  # ``owner`` was opened for this rebuild (another model's alias)


class Indexes(Protocol):
    """Where a store kind keeps its indexes, and how one is made, made live and dropped."""

    def begin(self, model: str, live: Generation) -> Building: ...

    def finish(self, building: Building, live: Generation) -> VectorStore:
        """The store to serve from once ``building`` is live."""
        ...

    def drop(self, building: Building) -> None: ...

    def retire(self, old: Generation, new: Generation) -> None:
        """Release the old index once no search reads it."""
        ...


class LiveIndex:
    """A ``VectorStore`` over the live generation, switched by a rebuild."""

    def __init__(
        self,
        generation: Generation,
        indexes: Indexes | None = None,
        embedder_for: Callable[[str], Embedder] | None = None,
    ) -> None:
        self._live = generation
        self._lock = threading.Lock()
        self.indexes = indexes
        self.embedder_for = embedder_for

    @classmethod
    def fixed(cls, store: VectorStore, embedder: Embedder) -> LiveIndex:
        """An index that never switches (evaluation, tests)."""
        return cls(Generation(embedder.name, "", store, embedder))

    @property
    def live(self) -> Generation:
        return self._live

    @property
    def model(self) -> str:
        return self._live.model

    @contextmanager
    def reading(self) -> Iterator[Generation]:
        """The live generation, kept open until the block ends."""
        with self._lock:
            generation = self._live
            with generation.drained:
                generation.readers += 1
        try:
            yield generation
        finally:
            with generation.drained:
                generation.readers -= 1
                generation.drained.notify_all()

    # -- rebuilding beside (ingest.rebuild.Rebuildable) ---------------------------------------

    def begin_rebuild(self, model: str | None = None) -> Building:
        if self.indexes is None:
            from core.errors import Conflict

            raise Conflict("this index cannot be rebuilt beside the live one")
        return self.indexes.begin(model or self._live.model, self._live)

    def switch_to(self, building: Building) -> Generation:
        """Make ``building`` live in one step; the old index is released once its searches end."""
        assert self.indexes is not None
        embedder = (
            self._live.embedder
            if building.model == self._live.model or self.embedder_for is None
            else self.embedder_for(building.model)
        )
        with self._lock:
            old = self._live
            store = self.indexes.finish(building, old)
            self._live = Generation(building.model, building.index, store, embedder)
        new = self._live
        with old.drained:
            old.drained.wait_for(lambda: old.readers == 0, timeout=60)
        self.indexes.retire(old, new)
        return old

    def abandon(self, building: Building) -> None:
        assert self.indexes is not None
        self.indexes.drop(building)

    # -- VectorStore: reads from the live index, writes to it --------------------------------

    def upsert(
        self,
        document: Document,
        chunks: Sequence[Chunk],
        vectors: Vectors,
        sentences: Sequence[SentenceVectors] | None = None,
    ) -> None:
        with self.reading() as g:
            g.store.upsert(document, chunks, vectors, sentences)

    def delete_document(self, document_id: str) -> None:
        with self.reading() as g:
            g.store.delete_document(document_id)

    def delete_chunks_from(self, document_id: str, first_index: int) -> None:
        with self.reading() as g:
            g.store.delete_chunks_from(document_id, first_index)

    def count(self, *, document_id: str | None = None, collection: str | None = None) -> int:
        with self.reading() as g:
            return g.store.count(document_id=document_id, collection=collection)

    def search(self, request: SearchRequest) -> list[Passage]:
        with self.reading() as g:
            return g.store.search(request)

    def attach_sentences(self, passages: Sequence[Passage]) -> list[Passage]:
        with self.reading() as g:
            return g.store.attach_sentences(passages)

    def optimize(self) -> None:
        with self.reading() as g:
            g.store.optimize()

    def warm(self) -> int:
        with self.reading() as g:
            return g.store.warm()

    def close(self) -> None:
        self._live.store.close()


class EdgeIndexes:
    """Qdrant Edge shards side by side under one folder."""

    def __init__(self, root: Path, dimension: Callable[[str], int]) -> None:
        self.root = root
        self.dimension = dimension

    def open(self, index: str, model: str) -> VectorStore:
        from retrieval.stores.edge import EdgeVectorStore

        return EdgeVectorStore(self.root / index, self.dimension(model))

    def begin(self, model: str, live: Generation) -> Building:
        from retrieval.stores.edge import EdgeVectorStore

        n = 2
        while f"{model}--{n}" == live.index:
            n += 1
        name = f"{model}--{n}"
        shutil.rmtree(self.root / name, ignore_errors=True)  # only the live index is kept: a leftover
        return Building(model, name, EdgeVectorStore(self.root / name, self.dimension(model)))

    def finish(self, building: Building, live: Generation) -> VectorStore:
        store: VectorStore = building.target
        return store

    def drop(self, building: Building) -> None:
        building.target.close()
        shutil.rmtree(self.root / building.index, ignore_errors=True)

    def retire(self, old: Generation, new: Generation) -> None:
        old.store.close()
        if old.index and old.index != new.index:
            shutil.rmtree(self.root / old.index, ignore_errors=True)


class ServerIndexes:
    """Qdrant server collections behind one alias per model."""

    def __init__(self, alias: Callable[[str], str], dimension: Callable[[str], int]) -> None:
        self.alias = alias  # model -> the alias of its index, <collection>-<model>
        self.dimension = dimension

    def begin(self, model: str, live: Generation) -> Building:
        opened = model != live.model
        live_store: Any = live.store  # a QdrantServerVectorStore
        owner: Any = live_store.sibling(self.alias(model), self.dimension(model)) if opened else live_store
        return Building(model, owner.collection, owner.begin_rebuild(), owner, opened)

    def finish(self, building: Building, live: Generation) -> VectorStore:
        building.owner.switch_to(building.target)
        if building.opened:
            building.owner.adopt(live.store)
        store: VectorStore = building.owner
        return store

    def drop(self, building: Building) -> None:
        building.owner.abandon(building.target)

    def retire(self, old: Generation, new: Generation) -> None:
        """Nothing to release: the client is shared, and another model's index stays on the
        server behind its alias (a rollback rebuilds it afresh)."""


class LiveEmbedder:
    """The live generation's model, whichever it is now: what new documents are embedded with."""

    def __init__(self, index: LiveIndex) -> None:
        self.index = index

    @property
    def name(self) -> str:
        return self.index.live.embedder.name

    @property
    def dimension(self) -> int:
        return self.index.live.embedder.dimension

    def tokenize(self, text: str) -> list[int]:
        return self.index.live.embedder.tokenize(text)

    def embed(self, texts: Sequence[str]) -> Vectors:
        return self.index.live.embedder.embed(texts)

    def embed_spans(
        self, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]]
    ) -> tuple[Vectors, list[Vectors]]:
        embedder = self.index.live.embedder
        if not isinstance(embedder, SpanEmbedder):
            raise TypeError(f"the embedder {embedder.name} pools no spans")
        return embedder.embed_spans(texts, spans)
