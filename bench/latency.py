"""Latency of the query service under concurrent clients, over a 100k-chunk collection.

    python -m bench.latency [--points 100000] [--requests 200] [--home /tmp/sourcebook-latency]

The collection: the 5,183 SciFact abstracts embedded with all-MiniLM-L6-v2, plus noisy copies
of their vectors (Gaussian noise, sigma 0.08, renormalised) up to ``--points``: real text for
BM25 and embedding-shaped vectors for the dense index, as in
shared/research/qdrant-edge-real-embeddings.md. The shard is optimised (HNSW) once, as after a
bulk ingest. Then ``sourcebook serve`` runs in its own process and 1, 8 and 32 client threads
send SciFact train queries to /v1/search and /v1/ask. Writes bench/results/latency.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parents[2] / "shared" / "eval-data" / "beir-scifact"
RESULTS = Path(__file__).resolve().parent / "results"


def build(home: Path, points: int) -> None:
    from core.catalog import Catalog
    from core.domain import Chunk, Document, DocumentStatus
    from ingest.embed import MiniLMEmbedder
    from retrieval.stores.edge import EdgeVectorStore

    catalog = Catalog.connect(f"sqlite:///{(home / 'catalog.db').resolve()}")
    catalog.ensure_collection("scifact", team="research")
    store = EdgeVectorStore(home / "qdrant" / "minilm", 384)
    if store.count() >= points:
        store.close()
        return
    docs = [json.loads(line) for line in (DATA / "corpus.jsonl").read_text().splitlines()]
    cache = home / "scifact-minilm.npy"
    if cache.exists():
        base = np.load(cache)
    else:
        print(f"embedding {len(docs)} abstracts (minutes, once)…", flush=True)
        base = MiniLMEmbedder().embed([f"{d['title']}\n\n{d['text']}" for d in docs])
        np.save(cache, base)
    import qdrant_edge as q

    from retrieval.stores import payload as P

    rng = np.random.default_rng(0)
    copies = -(-points // len(docs))
    for copy in range(copies):
        vectors = base if copy == 0 else base + rng.normal(0, 0.08, base.shape).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        batch = []
        for i, d in enumerate(docs[: points - copy * len(docs)]):
            doc = Document(
                f"{d['_id']}-{copy}",
                "scifact",
                f"{d['_id']}.txt",
                "text/plain",
                "",
                0,
                DocumentStatus.READY,
                team="research",
            )
            chunk = Chunk(doc.id, 0, d["text"], (1,), (d["title"],), 0, len(d["text"]))
            indices, values = P.sparse_document(chunk.embedding_text)
            named = {P.DENSE: vectors[i].tolist(), P.SPARSE: q.SparseVector(indices, values)}
            batch.append(q.Point(chunk.id, named, P.chunk_payload(doc, chunk)))
        for start in range(0, len(batch), 2000):
            store._shard.update(q.UpdateOperation.upsert_points(batch[start : start + 2000]))
        print(f"  {min((copy + 1) * len(docs), points)} points", flush=True)
    store._shard.flush()
    started = time.perf_counter()
    store.optimize()
    print(f"optimize: {time.perf_counter() - started:.0f} s", flush=True)
    store.close()
    catalog.close()


def run_clients(
    url: str, key: str, path: str, queries: list[str], clients: int, total: int
) -> dict[str, float]:
    import httpx

    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    counter = iter(range(total))

    def work() -> None:
        nonlocal errors
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=60) as client:
            while True:
                with lock:
                    n = next(counter, None)
                if n is None:
                    return
                body = (
                    {"query": queries[n % len(queries)], "limit": 10}
                    if path == "/v1/search"
                    else {"question": queries[n % len(queries)]}
                )
                started = time.perf_counter()
                response = client.post(path, json=body)
                elapsed = time.perf_counter() - started
                with lock:
                    latencies.append(elapsed)
                    errors += response.status_code != 200

    started = time.perf_counter()
    threads = [threading.Thread(target=work) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    q = statistics.quantiles(latencies, n=100)
    return {
        "clients": clients,
        "requests": len(latencies),
        "errors": errors,
        "p50_ms": q[49] * 1000,
        "p95_ms": q[94] * 1000,
        "p99_ms": q[98] * 1000,
        "throughput_rps": len(latencies) / wall,
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--home", type=Path, default=Path("/tmp/sourcebook-latency"))
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    if not DATA.exists():
        print(f"skipped: {DATA} is not on this machine")
        return 0
    args.home.mkdir(parents=True, exist_ok=True)
    build(args.home, args.points)
    queries = [
        json.loads(line)["text"] for line in (DATA / "train" / "queries.jsonl").read_text().splitlines()
    ]
    env = os.environ | {"SOURCEBOOK_HOME": str(args.home), "SOURCEBOOK_EMBEDDER": "minilm"}
    server = subprocess.Popen(
        [sys.executable, "-m", "sourcebook.cli", "serve", "--port", str(args.port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{args.port}"
    try:
        import httpx

        for _ in range(600):
            try:
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        key = (args.home / "admin-key.txt").read_text().strip()
        dev = [json.loads(line)["text"] for line in (DATA / "dev" / "queries.jsonl").read_text().splitlines()]
        run_clients(url, key, "/v1/ask", dev, 2, 20)  # warm up: model load, first queries
        rows = []
        runs = [(path, clients) for path in ("/v1/search", "/v1/ask") for clients in (1, 8, 32)]
        per_run = min(args.requests, len(queries) // len(runs))  # every run asks questions not seen before
        for n, (path, clients) in enumerate(runs):
            fresh = queries[n * per_run : (n + 1) * per_run]
            row = {"endpoint": path} | run_clients(url, key, path, fresh, clients, per_run)
            rows.append(row)
            print(
                f"{path:11} clients {clients:>2}: p50 {row['p50_ms']:7.1f} ms  p95 {row['p95_ms']:7.1f} ms  "
                f"p99 {row['p99_ms']:7.1f} ms  {row['throughput_rps']:6.1f} req/s  errors {row['errors']}",
                flush=True,
            )
    finally:
        server.terminate()
        server.wait(timeout=30)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "latency.json").write_text(json.dumps({"points": args.points, "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
