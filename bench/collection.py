"""A large SciFact collection for the latency and scale benches, built straight into Qdrant Edge.

The 5,183 SciFact abstracts embedded with all-MiniLM-L6-v2, with their sentences' vectors pooled
from the same pass as an ingest stores them (once, cached as a .npz beside the store), plus noisy
copies of both (Gaussian noise, sigma 0.08, renormalised) up to
``points``: real text for BM25 and embedding-shaped vectors for the dense index, as in
shared/research/qdrant-edge-real-embeddings.md. Copy ``c`` belongs to team ``teams[c % len(teams)]``,
so a search filtered to one of n teams sees 1/n of the points. The catalog knows the collection
and its teams, as an ingest would leave it.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parents[2] / "shared" / "eval-data" / "beir-scifact"
COLLECTION = "scifact"


def in_threads(clients: int, work: Callable[[], None]) -> float:
    """Run ``work`` on ``clients`` threads at once (each takes its items from a shared queue);
    the wall seconds until the last one is done."""
    started = time.perf_counter()
    threads = [threading.Thread(target=work) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started


def queries(split: str) -> list[str]:
    return [json.loads(line)["text"] for line in (DATA / split / "queries.jsonl").read_text().splitlines()]


def build(
    home: Path, points: int, teams: Sequence[str] = ("research",), embedder: str = "minilm"
) -> dict[str, float]:
    """Fill ``home`` (a Sourcebook home: catalog.db, qdrant/<embedder>) with ``points`` chunks and
    optimise the shard (HNSW), as after a bulk ingest; the seconds each step took. The hashing
    embedder (no model) isolates the cost of everything around the model."""
    from core.catalog import Catalog
    from core.domain import Chunk, Document, DocumentStatus, SentenceVectors
    from ingest.embed import create_embedder
    from ingest.pipeline import embed_chunks
    from ingest.precision import choose_precision
    from retrieval.records import sentence_spans
    from retrieval.stores import payload as P
    from retrieval.stores.edge import EdgeVectorStore

    catalog = Catalog.connect(f"sqlite:///{(home / 'catalog.db').resolve()}")
    for team in teams:
        catalog.ensure_collection(COLLECTION if len(teams) == 1 else f"{COLLECTION}-{team}", team=team)
    store = EdgeVectorStore(home / "qdrant" / embedder, 384)
    timings: dict[str, float] = {}
    if store.count() >= points:
        store.close()
        catalog.close()
        return timings
    docs = [json.loads(line) for line in (DATA / "corpus.jsonl").read_text().splitlines()]
    chunks = [Chunk("x", 0, d["text"], (1,), (d["title"],), 0, len(d["text"])) for d in docs]
    cache = home / f"scifact-{embedder}-sentences.npz"
    if cache.exists():
        stored = np.load(cache)
        base, rows, bounds = stored["chunks"], stored["sentences"], stored["bounds"]
    else:
        print(f"embedding {len(docs)} abstracts and their sentences (minutes, once)…", flush=True)
        started = time.perf_counter()
        base, pooled = embed_chunks(
            create_embedder(embedder, choose_precision("auto").dtype), chunks, sentence_spans
        )
        assert pooled is not None
        rows = np.concatenate([s.vectors for s in pooled])
        bounds = np.cumsum([0, *(len(s.vectors) for s in pooled)])
        np.savez(cache, chunks=base, sentences=rows, bounds=bounds)
        timings["embed_s"] = round(time.perf_counter() - started, 1)
    spans = [tuple(sentence_spans(c)) for c in chunks]
    import qdrant_edge as q

    # The sparse vector of an abstract is the same in every copy: computed once.
    sparse = []
    for chunk in chunks:
        indices, values = P.sparse_document(chunk.embedding_text)
        sparse.append(q.SparseVector(indices, values))
    rng = np.random.default_rng(0)
    copies = -(-points // len(docs))
    started = time.perf_counter()
    for copy in range(copies):
        team = teams[copy % len(teams)]
        collection = COLLECTION if len(teams) == 1 else f"{COLLECTION}-{team}"
        vectors = base if copy == 0 else base + rng.normal(0, 0.08, base.shape).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        sentences = rows if copy == 0 else rows + rng.normal(0, 0.08, rows.shape).astype(np.float32)
        sentences /= np.linalg.norm(sentences, axis=1, keepdims=True)
        batch = []
        for i, d in enumerate(docs[: points - copy * len(docs)]):
            doc = Document(
                f"{d['_id']}-{copy}",
                collection,
                f"{d['_id']}.txt",
                "text/plain",
                "",
                0,
                DocumentStatus.READY,
                team=team,
            )
            chunk = Chunk(doc.id, 0, d["text"], (1,), (d["title"],), 0, len(d["text"]))
            own = SentenceVectors(spans[i], sentences[bounds[i] : bounds[i + 1]])
            named = {P.DENSE: vectors[i].tolist(), P.SPARSE: sparse[i], P.SENTENCES: own.vectors.tolist()}
            batch.append(q.Point(chunk.id, named, P.chunk_payload(doc, chunk, own)))
        for start in range(0, len(batch), 2000):
            store._shard.update(q.UpdateOperation.upsert_points(batch[start : start + 2000]))
        if copy % 10 == 0 or copy == copies - 1:
            print(f"  {min((copy + 1) * len(docs), points)} points", flush=True)
    store._shard.flush()
    timings["upsert_s"] = round(time.perf_counter() - started, 1)
    started = time.perf_counter()
    store.optimize()
    timings["optimize_s"] = round(time.perf_counter() - started, 1)
    print(f"upsert {timings['upsert_s']:.0f} s, optimize {timings['optimize_s']:.0f} s", flush=True)
    store.close()
    catalog.close()
    return timings
