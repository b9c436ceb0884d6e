"""Qdrant Edge: the Qdrant engine embedded in this process, on disk (the single-node default).

One process may open a shard; in the single-node default that is the API (or the CLI), which
is also the only writer.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from core.domain import Chunk, Document, Passage, SentenceVectors
from core.errors import BackendUnavailable
from core.protocols import SearchFilter, SearchRequest, Vectors
from retrieval.stores import payload as P

FLUSH_INTERVAL_S = 5.0


class EdgeVectorStore:
    def __init__(self, path: Path, dimension: int) -> None:
        import qdrant_edge as q

        self._q = q
        self._write = threading.Lock()
        self._flushed_at = time.monotonic()
        dense = {P.DENSE: q.EdgeVectorParams(size=dimension, distance=q.Distance.Cosine)}
        # Each chunk's sentence vectors: read back with its point, never searched (no HNSW graph),
        # on disk, in float16 (half the bytes; a cosine moves in its third decimal).
        sentences = q.EdgeVectorParams(
            size=dimension,
            distance=q.Distance.Cosine,
            on_disk=True,
            multivector_config=q.MultiVectorConfig(q.MultiVectorComparator.MaxSim),
            datatype=q.VectorStorageDatatype.Float16,
            hnsw_config=q.HnswIndexConfig(m=0, ef_construct=100, full_scan_threshold=10_000),
        )
        sparse = {P.SPARSE: q.EdgeSparseVectorParams(modifier=q.Modifier.Idf)}
        config = q.EdgeConfig(vectors=dense | {P.SENTENCES: sentences}, sparse_vectors=sparse)
        self.sentences = True  # False: a shard made before sentence vectors were stored
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            if any(path.iterdir()):
                try:
                    self._shard = q.EdgeShard.load(str(path), config)
                except Exception as exc:
                    if "ncompatible" not in str(exc):
                        raise
                    # A shard cannot gain a named vector: it searches as before, and its passages
                    # come without sentence vectors (`sourcebook rebuild-index` makes a new one).
                    old = q.EdgeConfig(vectors=dense, sparse_vectors=sparse)
                    self._shard = q.EdgeShard.load(str(path), old)
                    self.sentences = False
            else:
                self._shard = q.EdgeShard.create(str(path), config)
                for name in P.KEYWORD_FIELDS:
                    self._shard.update(
                        q.UpdateOperation.create_field_index(name, q.PayloadSchemaType.Keyword)
                    )
                for name in P.INTEGER_FIELDS:
                    self._shard.update(
                        q.UpdateOperation.create_field_index(name, q.PayloadSchemaType.Integer)
                    )
        except Exception as exc:
            if "WouldBlock" in str(exc):
                raise BackendUnavailable(
                    f"the vector store at {path} is open in another process (stop it first)"
                ) from exc
            raise BackendUnavailable(f"cannot open the vector store at {path}: {exc}") from exc

    def upsert(
        self,
        document: Document,
        chunks: Sequence[Chunk],
        vectors: Vectors,
        sentences: Sequence[SentenceVectors] | None = None,
    ) -> None:
        q = self._q
        kept: Sequence[SentenceVectors | None] = (
            sentences if self.sentences and sentences is not None else [None] * len(chunks)
        )
        points = []
        for chunk, vector, own in zip(chunks, vectors, kept, strict=True):
            indices, values = P.sparse_document(chunk.embedding_text)
            named: dict[str, Any] = {P.DENSE: vector.tolist(), P.SPARSE: q.SparseVector(indices, values)}
            if own is not None and len(own.vectors):
                named[P.SENTENCES] = own.vectors.tolist()
            else:
                own = None
            points.append(q.Point(chunk.id, named, P.chunk_payload(document, chunk, own)))
        with self._write:
            for start in range(0, len(points), 512):
                self._shard.update(q.UpdateOperation.upsert_points(points[start : start + 512]))
            self._flush_now_and_then()

    def delete_document(self, document_id: str) -> None:
        q = self._q
        condition = q.Filter(must=[q.FieldCondition(key="document_id", match=q.MatchValue(document_id))])
        with self._write:
            self._shard.update(q.UpdateOperation.delete_points_by_filter(condition))
            self._flush_now_and_then()

    def delete_chunks_from(self, document_id: str, first_index: int) -> None:
        q = self._q
        condition = q.Filter(
            must=[
                q.FieldCondition(key="document_id", match=q.MatchValue(document_id)),
                q.FieldCondition(key="chunk_index", range=q.RangeFloat(gte=float(first_index))),
            ]
        )
        with self._write:
            self._shard.update(q.UpdateOperation.delete_points_by_filter(condition))
            self._flush_now_and_then()

    def _flush_now_and_then(self) -> None:
        """Persist segments at most every few seconds, not on every write.

        Each update is in the shard's write-ahead log before ``update`` returns, and a process
        killed before the next flush replays it on load (checked with ``kill -9``), so a flush per
        document bought nothing but an fsync: it was 60% of the writer's time in bench.ingest_compare.
        """
        now = time.monotonic()
        if now - self._flushed_at >= FLUSH_INTERVAL_S:
            self._shard.flush()
            self._flushed_at = now

    def count(self, *, document_id: str | None = None, collection: str | None = None) -> int:
        q = self._q
        must = []
        if document_id is not None:
            must.append(q.FieldCondition(key="document_id", match=q.MatchValue(document_id)))
        if collection is not None:
            must.append(q.FieldCondition(key="collection", match=q.MatchValue(collection)))
        return int(
            self._shard.count(q.CountRequest(exact=True, filter=q.Filter(must=must) if must else None))
        )

    def search(self, request: SearchRequest) -> list[Passage]:
        q = self._q
        condition = self._filter(request.filter)
        with_vector = [P.SENTENCES] if self.sentences and request.with_sentences else False
        dense = sparse = None
        if request.mode in {"dense", "hybrid"}:
            if request.vector is None:
                raise ValueError("dense search needs a query vector")
            dense = q.Query.Nearest(list(request.vector), using=P.DENSE)
        if request.mode in {"sparse", "hybrid"}:
            indices, values = P.sparse_query(request.text)
            if not indices and request.mode == "sparse":
                return []
            sparse = q.Query.Nearest(q.SparseVector(indices, values), using=P.SPARSE) if indices else None
        if request.mode == "hybrid" and dense is not None and sparse is not None:
            prefetches = [
                q.Prefetch(limit=request.candidates, query=dense, filter=condition),
                q.Prefetch(limit=request.candidates, query=sparse, filter=condition),
            ]
            query = q.QueryRequest(
                limit=request.limit,
                prefetches=prefetches,
                query=q.Fusion.Rrf(k=60) if request.fusion == "rrf" else q.Fusion.Dbsf(),
                filter=condition,
                with_payload=True,
                with_vector=with_vector,
            )
        else:
            query = q.QueryRequest(
                limit=request.limit,
                query=dense or sparse,
                filter=condition,
                with_payload=True,
                with_vector=with_vector,
            )
        return [
            P.passage(point.id, point.score, point.payload or {}, point.vector)
            for point in self._shard.query(query)
        ]

    def attach_sentences(self, passages: Sequence[Passage]) -> list[Passage]:
        if not self.sentences or not passages:
            return list(passages)
        points = self._shard.retrieve(
            [p.chunk_id for p in passages], self._q.PayloadSelector.Include(["sentence_spans"]), [P.SENTENCES]
        )
        return P.with_sentences(
            passages, {str(p.id): P.sentence_vectors(p.payload or {}, p.vector) for p in points}
        )

    def _filter(self, f: SearchFilter) -> Any:
        q = self._q
        must = [q.FieldCondition(key=key, match=q.MatchAny(values)) for key, values in P.filter_terms(f)]
        must += [
            q.FieldCondition(key=key, range=q.RangeFloat(gte=low, lte=high))
            for key, low, high in P.filter_ranges(f)
        ]
        return q.Filter(must=must) if must else None

    def document_ids(self) -> set[str]:
        """Every document with a point here (a full scan: for rebuilds, not requests)."""
        return {str((point.payload or {})["document_id"]) for point in self._every_point()}

    def _every_point(self) -> Iterator[Any]:
        """Every point, with its document id only, page by page."""
        q = self._q
        offset = None
        while True:
            points, offset = self._shard.scroll(
                q.ScrollRequest(offset=offset, limit=2048, with_payload=["document_id"], with_vector=False)
            )
            yield from points
            if offset is None:
                return

    def optimize(self) -> None:
        with self._write:
            self._shard.optimize()

    def warm(self) -> int:
        """The payload storage is mapped from disk, and a page is mapped into this process the
        first time a search reads a point on it. On these machines that first touch costs tens
        of microseconds a page: a question on 100k chunks spent 7-12 ms in the store until the
        points it read had been read once, 3-4 ms after. Reading one small field of every point
        touches every payload page (3 s for 100k points here); the pages are the file's, shared
        with the page cache, not this process's heap. The sentence vectors (five times the bytes)
        are left cold: a search reads them for its head only."""
        return sum(1 for _ in self._every_point())

    def close(self) -> None:
        with self._write:
            self._shard.flush()
            self._shard.close()
