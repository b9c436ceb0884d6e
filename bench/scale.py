"""One node at scale: a 1,000,000-chunk collection on Qdrant Edge.

    nice -n 10 python -m bench.scale [--chunks 1000000] [--teams 10] [--queries 200]
                                     [--home /tmp/sourcebook-scale]

Builds the collection of ``bench/collection.py`` (the SciFact abstracts with their MiniLM vectors
plus noisy copies; copy ``c`` belongs to team ``c % teams``) and reports the build time (upsert)
and the optimise time (HNSW), the disk it takes, then opens it in a fresh process, as the API
would, and searches it the product's way (``Searcher``: hybrid dense + BM25 fused in the engine,
near-duplicates collapsed; the question already embedded, as the API hands it on) with 1 and 8
client threads, over the whole collection and filtered to one team. RSS is that process's
resident memory after the searches (and its peak). Targets: search p95 < 100 ms, RSS < 6 GB.
Writes bench/results/scale.json (``scale-<chunks>.json`` for another size).
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
from typing import Any

import numpy as np

from bench.collection import DATA, build, in_threads, queries
from bench.provenance import provenance, write_result


def disk_mb(path: Path) -> float:
    return round(sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20, 1)


def rss_mb(field: str = "VmRSS") -> float:
    """This process's resident memory (``VmHWM``: its peak), MB. Not ``ru_maxrss``, which Linux
    carries over an exec: a child of the building process would report the builder's peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


def measure(home: Path, vectors: Path, texts: list[str], team: str) -> dict[str, Any]:
    """In a process of its own: open the store, search, report latencies and memory."""
    from core.protocols import Query, SearchFilter
    from ingest.embed import HashingEmbedder
    from retrieval.search import Searcher
    from retrieval.stores.edge import EdgeVectorStore

    started = time.perf_counter()
    store = EdgeVectorStore(home / "qdrant" / "minilm", 384)
    open_s = time.perf_counter() - started
    searcher = Searcher(store, HashingEmbedder())  # the vectors come with the queries
    asked = [Query(t, v) for t, v in zip(texts, np.load(vectors), strict=True)]
    rows = []
    for label, search_filter in (
        ("all teams", SearchFilter()),
        (f"team {team}", SearchFilter(teams=(team,))),
    ):
        for clients in (1, 8):
            rows.append({"filter": label} | _timed(searcher, asked, search_filter, clients))
            print(json.dumps(rows[-1]), flush=True)
    count = store.count()
    store.close()
    return {
        "open_s": round(open_s, 1),
        "points": count,
        "rss_mb": rss_mb(),
        "peak_rss_mb": rss_mb("VmHWM"),
        "rows": rows,
    }


def _timed(searcher: Any, asked: list[Any], search_filter: Any, clients: int) -> dict[str, Any]:
    latencies: list[float] = []
    lock = threading.Lock()
    todo = iter(asked)

    def work() -> None:
        while True:
            with lock:
                query = next(todo, None)
            if query is None:
                return
            t = time.perf_counter()
            searcher.search(query, search_filter, limit=10, rerank=False)
            with lock:
                latencies.append(time.perf_counter() - t)

    wall = in_threads(clients, work)
    q = statistics.quantiles(latencies, n=100)
    return {
        "clients": clients,
        "searches": len(latencies),
        "p50_ms": round(q[49] * 1000, 1),
        "p95_ms": round(q[94] * 1000, 1),
        "searches_per_s": round(len(latencies) / wall, 1),
        "load_average_1min": round(os.getloadavg()[0], 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--chunks", type=int, default=1_000_000)
    parser.add_argument("--teams", type=int, default=10)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--home", type=Path, default=Path("/tmp/sourcebook-scale"))
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)  # the child process
    args = parser.parse_args()
    texts = queries("train")[: args.queries]
    vectors = args.home / "queries-minilm.npy"
    if args.measure:
        print("RESULT " + json.dumps(measure(args.home, vectors, texts, "team-0")), flush=True)
        return 0
    if not DATA.exists():
        print(f"skipped: {DATA} is not on this machine")
        return 0
    made = provenance({})
    args.home.mkdir(parents=True, exist_ok=True)
    teams = [f"team-{n}" for n in range(args.teams)]
    started = time.perf_counter()
    timings = build(args.home, args.chunks, teams)
    build_s = round(time.perf_counter() - started, 1)
    if not vectors.exists():
        from ingest.embed import MiniLMEmbedder

        np.save(vectors, MiniLMEmbedder().embed(texts))
    child = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.scale",
            "--measure",
            "--home",
            str(args.home),
            "--queries",
            str(args.queries),
        ],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    print(child.stdout, child.stderr[-2000:], flush=True)
    lines = [line for line in child.stdout.splitlines() if line.startswith("RESULT ")]
    if child.returncode or not lines:
        return 1
    measured = json.loads(lines[-1].removeprefix("RESULT "))
    result = {
        "chunks": args.chunks,
        "build": timings | {"total_s": build_s, "reused": not timings},
        "disk_mb": disk_mb(args.home / "qdrant"),
    } | measured
    write_result(
        "scale" if args.chunks == 1_000_000 else f"scale-{args.chunks}",
        result,
        settings=vars(args),
        started=made,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
