"""Qdrant server through ``qdrant-client`` (the cluster setup; also its local mode in tests)."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from core.domain import Chunk, Document, Passage
from core.errors import BackendUnavailable
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
        try:
            self._ensure_collection(dimension)
        except Exception as exc:
            raise BackendUnavailable(f"Qdrant at {location} is unavailable: {exc}") from exc

    def _ensure_collection(self, dimension: int) -> None:
        m = self._m
        if self._client.collection_exists(self.collection):
            return
        self._client.create_collection(
            self.collection,
            vectors_config={P.DENSE: m.VectorParams(size=dimension, distance=m.Distance.COSINE)},
            sparse_vectors_config={P.SPARSE: m.SparseVectorParams(modifier=m.Modifier.IDF)},
            shard_number=self._shards,
            replication_factor=self._replicas,
        )
        if self._local:
            return  # local mode ignores payload indexes (and warns about them)
        for name in P.KEYWORD_FIELDS:
            self._client.create_payload_index(self.collection, name, m.PayloadSchemaType.KEYWORD)
        for name in P.INTEGER_FIELDS:
            self._client.create_payload_index(self.collection, name, m.PayloadSchemaType.INTEGER)
        for name in P.FLOAT_FIELDS:
            self._client.create_payload_index(self.collection, name, m.PayloadSchemaType.FLOAT)

    def upsert(self, document: Document, chunks: Sequence[Chunk], vectors: Vectors) -> None:
        m = self._m
        points = []
        for chunk, vector in zip(chunks, vectors, strict=True):
            indices, values = P.sparse_document(chunk.embedding_text)
            points.append(
                m.PointStruct(
                    id=chunk.id,
                    vector={
                        P.DENSE: vector.tolist(),
                        P.SPARSE: m.SparseVector(indices=indices, values=values),
                    },
                    payload=P.chunk_payload(document, chunk),
                )
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
        result = self._client.count(
            self.collection, count_filter=m.Filter(must=must) if must else None, exact=True
        )
        return int(result.count)

    def search(self, request: SearchRequest) -> list[Passage]:
        m = self._m
        condition = self._filter(request.filter)
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
            )
        elif request.mode == "sparse":
            response = self._client.query_points(
                self.collection,
                query=sparse_vector,
                using=P.SPARSE,
                query_filter=condition,
                limit=request.limit,
                with_payload=True,
            )
        else:
            response = self._client.query_points(
                self.collection,
                query=dense_vector,
                using=P.DENSE,
                query_filter=condition,
                limit=request.limit,
                with_payload=True,
            )
        return [P.passage(point.id, point.score, point.payload or {}) for point in response.points]

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

    def close(self) -> None:
        self._client.close()
