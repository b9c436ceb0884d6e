"""Qdrant server through ``qdrant-client`` (the cluster setup; also its local mode in tests)."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from core.domain import Chunk, Document, Passage, SentenceVectors
from core.errors import BackendUnavailable, Conflict
from core.protocols import SearchFilter, SearchRequest, Vectors
from retrieval.stores import payload as P


class QdrantServerVectorStore:
    """``location`` is a server URL, ``:memory:``, or a folder for qdrant-client's local mode."""

    def __init__(
        self,
        location: str,
        dimension: int,
        collection: str = "sourcebook",
        api_key: str | None = None,
        *,
        shards: int = 1,
        replicas: int = 1,
    ) -> None:
        from qdrant_client import QdrantClient, models

        self._m = models
        self.collection = collection
        self._lock = threading.Lock()
        self._local = not location.startswith(("http://", "https://"))
        # Local mode has no shards; a server spreads a new collection's points over them.
        self._shards: int | None = None if self._local else shards
        self._replicas: int | None = None if self._local else replicas
        if location.startswith(("http://", "https://")):
            self._client = QdrantClient(url=location, api_key=api_key, timeout=30)
        elif location == ":memory:":
            self._client = QdrantClient(location=":memory:")
        else:
            self._client = QdrantClient(path=location)
        self._dimension = dimension
        self._owns_client = True
        self.sentences = True  # False: a collection made before sentence vectors were stored
        try:
            self._ensure_collection()
        except Exception as exc:
            raise BackendUnavailable(f"Qdrant at {location} is unavailable: {exc}") from exc

    def _ensure_collection(self) -> None:
        """A new index is a collection ``<name>--1`` behind the alias ``<name>``, which every
        reader and writer uses: a rebuild fills ``<name>--2`` beside it, then moves the alias."""
        if self._alias_target() is not None or self._client.collection_exists(self.collection):
            # An alias, or a collection made before aliases (it cannot be rebuilt beside). One
            # made before sentence vectors cannot gain them: its passages come without.
            vectors = self._client.get_collection(self.collection).config.params.vectors
            self.sentences = isinstance(vectors, dict) and P.SENTENCES in vectors
            return
        first = f"{self.collection}--1"
        try:
            self._create(first)
            self._client.update_collection_aliases(change_aliases_operations=[self._alias_to(first)])
        except Exception:
            # Another replica starting at the same moment may have made them: give it a moment.
            for _ in range(10):
                if self._alias_target() is not None:
                    return
                time.sleep(0.5)
            raise

    def _create(self, name: str) -> None:
        m = self._m
        self._client.create_collection(
            name,
            vectors_config={
                P.DENSE: m.VectorParams(size=self._dimension, distance=m.Distance.COSINE),
                P.SENTENCES: m.VectorParams(
                    size=self._dimension,
                    distance=m.Distance.COSINE,
                    on_disk=True,
                    multivector_config=m.MultiVectorConfig(comparator=m.MultiVectorComparator.MAX_SIM),
                    datatype=m.Datatype.FLOAT16,
                    hnsw_config=m.HnswConfigDiff(m=0),  # read back with the points, never searched
                ),
            },
            sparse_vectors_config={P.SPARSE: m.SparseVectorParams(modifier=m.Modifier.IDF)},
            shard_number=self._shards,
            replication_factor=self._replicas,
        )
        if self._local:
            return  # local mode ignores payload indexes (and warns about them)
        for field in P.KEYWORD_FIELDS:
            self._client.create_payload_index(name, field, m.PayloadSchemaType.KEYWORD)
        for field in P.INTEGER_FIELDS:
            self._client.create_payload_index(name, field, m.PayloadSchemaType.INTEGER)
        for field in P.FLOAT_FIELDS:
            self._client.create_payload_index(name, field, m.PayloadSchemaType.FLOAT)

    def _alias_to(self, target: str) -> Any:
        m = self._m
        return m.CreateAliasOperation(
            create_alias=m.CreateAlias(collection_name=target, alias_name=self.collection)
        )

    def _alias_target(self) -> str | None:
        for alias in self._client.get_aliases().aliases:
            if alias.alias_name == self.collection:
                return str(alias.collection_name)
        return None

    # -- rebuilding beside the live index --------------------------------------------------

    def begin_rebuild(self) -> QdrantServerVectorStore:
        """An empty collection beside the live one, and a store that writes to it alone."""
        live = self._alias_target()
        if live is None:
            raise Conflict(
                f"the index {self.collection!r} was made before rebuilds beside it were possible: "
                "re-index in place (sourcebook reindex) instead"
            )
        name = f"{self.collection}--{int(live.rsplit('--', 1)[1]) + 1}"
        with self._lock:
            if self._client.collection_exists(name):
                self._client.delete_collection(name)  # a rebuild that never finished
            self._create(name)
        rebuilt = object.__new__(QdrantServerVectorStore)
        rebuilt.__dict__.update(
            self.__dict__ | {"collection": name, "_owns_client": False, "sentences": True}
        )
        return rebuilt

    def sibling(self, collection: str, dimension: int) -> QdrantServerVectorStore:
        """The store of another alias (another model's index) through this store's client: local
        mode admits one client per folder. It takes the client over when ``adopt`` is called."""
        other = object.__new__(QdrantServerVectorStore)
        other.__dict__.update(
            self.__dict__ | {"collection": collection, "_dimension": dimension, "_owns_client": False}
        )
        try:
            other._ensure_collection()
        except Exception as exc:
            raise BackendUnavailable(f"Qdrant cannot make the index {collection!r}: {exc}") from exc
        return other

    def adopt(self, previous: QdrantServerVectorStore) -> None:
        """Own the client ``previous`` owned (it is being retired, this one goes on)."""
        self._owns_client, previous._owns_client = previous._owns_client or self._owns_client, False

    def switch_to(self, rebuilt: QdrantServerVectorStore) -> None:
        """Point the alias at the rebuilt collection (one atomic request), then drop the old one."""
        m = self._m
        old = self._alias_target()
        with self._lock:
            self._client.update_collection_aliases(
                change_aliases_operations=[
                    m.DeleteAliasOperation(delete_alias=m.DeleteAlias(alias_name=self.collection)),
                    self._alias_to(rebuilt.collection),
                ]
            )
            if old is not None and old != rebuilt.collection:
                self._client.delete_collection(old)
        self.sentences = rebuilt.sentences

    def abandon(self, rebuilt: QdrantServerVectorStore) -> None:
        with self._lock:
            self._client.delete_collection(rebuilt.collection)

    def document_ids(self) -> set[str]:
        """Every document with a point here (a full scan: for rebuilds, not requests)."""
        found: set[str] = set()
        offset = None
        while True:
            with self._reading():
                points, offset = self._client.scroll(
                    self.collection,
                    limit=1000,
                    offset=offset,
                    with_payload=["document_id"],
                    with_vectors=False,
                )
            found |= {str((point.payload or {})["document_id"]) for point in points}
            if offset is None:
                return found

    def upsert(
        self,
        document: Document,
        chunks: Sequence[Chunk],
        vectors: Vectors,
        sentences: Sequence[SentenceVectors] | None = None,
    ) -> None:
        m = self._m
        kept: Sequence[SentenceVectors | None] = (
            sentences if self.sentences and sentences is not None else [None] * len(chunks)
        )
        points = []
        for chunk, vector, own in zip(chunks, vectors, kept, strict=True):
            indices, values = P.sparse_document(chunk.embedding_text)
            named: dict[str, Any] = {
                P.DENSE: vector.tolist(),
                P.SPARSE: m.SparseVector(indices=indices, values=values),
            }
            if own is not None and len(own.vectors):
                named[P.SENTENCES] = own.vectors.tolist()
            else:
                own = None
            points.append(
                m.PointStruct(id=chunk.id, vector=named, payload=P.chunk_payload(document, chunk, own))
            )
        with self._lock:
            for start in range(0, len(points), 256):
                self._client.upsert(self.collection, points[start : start + 256], wait=True)

    def delete_document(self, document_id: str) -> None:
        m = self._m
        condition = m.Filter(
            must=[m.FieldCondition(key="document_id", match=m.MatchValue(value=document_id))]
        )
        with self._lock:
            self._client.delete(
                self.collection, points_selector=m.FilterSelector(filter=condition), wait=True
            )

    def delete_chunks_from(self, document_id: str, first_index: int) -> None:
        m = self._m
        condition = m.Filter(
            must=[
                m.FieldCondition(key="document_id", match=m.MatchValue(value=document_id)),
                m.FieldCondition(key="chunk_index", range=m.Range(gte=first_index)),
            ]
        )
        with self._lock:
            self._client.delete(
                self.collection, points_selector=m.FilterSelector(filter=condition), wait=True
            )

    def count(self, *, document_id: str | None = None, collection: str | None = None) -> int:
        m = self._m
        must: list[Any] = []
        if document_id is not None:
            must.append(m.FieldCondition(key="document_id", match=m.MatchValue(value=document_id)))
        if collection is not None:
            must.append(m.FieldCondition(key="collection", match=m.MatchValue(value=collection)))
        with self._reading():
            result = self._client.count(
                self.collection, count_filter=m.Filter(must=must) if must else None, exact=True
            )
        return int(result.count)

    def search(self, request: SearchRequest) -> list[Passage]:
        with self._reading():
            return self._search(request)

    def _reading(self) -> AbstractContextManager[object]:
        """A server serves reads beside writes; local mode's arrays do not survive a write
        while a search reads them, so there the write lock covers reads too."""
        return self._lock if self._local else nullcontext()

    def _search(self, request: SearchRequest) -> list[Passage]:
        m = self._m
        condition = self._filter(request.filter)
        with_vectors = [P.SENTENCES] if self.sentences and request.with_sentences else False
        sparse_vector = None
        if request.mode in {"sparse", "hybrid"}:
            indices, values = P.sparse_query(request.text)
            if indices:
                sparse_vector = m.SparseVector(indices=indices, values=values)
            elif request.mode == "sparse":
                return []
        if request.mode in {"dense", "hybrid"} and request.vector is None:
            raise ValueError("dense search needs a query vector")
        dense_vector = list(request.vector) if request.vector is not None else None
        if request.mode == "hybrid" and sparse_vector is not None:
            response = self._client.query_points(
                self.collection,
                prefetch=[
                    m.Prefetch(query=dense_vector, using=P.DENSE, limit=request.candidates, filter=condition),
                    m.Prefetch(
                        query=sparse_vector, using=P.SPARSE, limit=request.candidates, filter=condition
                    ),
                ],
                query=m.FusionQuery(fusion=m.Fusion.RRF if request.fusion == "rrf" else m.Fusion.DBSF),
                query_filter=condition,
                limit=request.limit,
                with_payload=True,
                with_vectors=with_vectors,
            )
        elif request.mode == "sparse":
            response = self._client.query_points(
                self.collection,
                query=sparse_vector,
                using=P.SPARSE,
                query_filter=condition,
                limit=request.limit,
                with_payload=True,
                with_vectors=with_vectors,
            )
        else:
            response = self._client.query_points(
                self.collection,
                query=dense_vector,
                using=P.DENSE,
                query_filter=condition,
                limit=request.limit,
                with_payload=True,
                with_vectors=with_vectors,
            )
        return [
            P.passage(point.id, point.score, point.payload or {}, point.vector) for point in response.points
        ]

    def attach_sentences(self, passages: Sequence[Passage]) -> list[Passage]:
        if not self.sentences or not passages:
            return list(passages)
        with self._reading():
            points = self._client.retrieve(
                self.collection,
                ids=[p.chunk_id for p in passages],
                with_payload=["sentence_spans"],
                with_vectors=[P.SENTENCES],
            )
        return P.with_sentences(
            passages, {str(p.id): P.sentence_vectors(p.payload or {}, p.vector) for p in points}
        )

    def _filter(self, f: SearchFilter) -> Any:
        m = self._m
        must = [m.FieldCondition(key=key, match=m.MatchAny(any=values)) for key, values in P.filter_terms(f)]
        must += [
            m.FieldCondition(key=key, range=m.Range(gte=low, lte=high))
            for key, low, high in P.filter_ranges(f)
        ]
        return m.Filter(must=must) if must else None

    def optimize(self) -> None:
        """The server optimizes on its own schedule."""

    def warm(self) -> int:
        """The server's memory is its own, and stays warm across our restarts."""
        return 0

    def close(self) -> None:
        if self._owns_client:
            self._client.close()
