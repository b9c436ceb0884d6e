"""Latency of the query service as its users get it, under 1, 8 and 32 concurrent clients.

    python -m bench.latency [--points 100000] [--requests 130] [--home /tmp/sourcebook-latency]
                            [--clients 1,8,32] [--old-code /path/to/another/checkout]

The collection (``bench/collection.py``): 100k chunks, the SciFact abstracts with their MiniLM
vectors plus noisy copies, optimised (HNSW) as after a bulk ingest. ``sourcebook serve`` runs in
its own process with the sentence reranker and the extractive composer on, as configured for
users; the clients ask as an agent of the collection's team (so every search is filtered by
team, as users' are) with a key of its own whose user and team an operator exempted from the
rate limit (``sourcebook keys limit``), so no request is refused for the bench's own volume.

Every run asks questions no earlier run asked (SciFact's train claims, split between the runs),
so neither the answer cache nor the embedding cache answers for the model. A request that does
not come back 200 (a 429, a 500, a reset connection, a timeout) is an error: counted, never
timed into the percentiles. ``--old-code`` runs the same bench against the server of another
checkout on the same collection, side by side, for a before/after under the same load. Before
each side's server starts, the store's files are read into the page cache.
Writes bench/results/latency.json.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.collection import COLLECTION, DATA, build, in_threads, queries
from bench.provenance import ROOT, provenance, write_result

USER, TEAM = "bench-latency", "research"
SERVER_ENV = {"SOURCEBOOK_GENERATOR": "extractive"}


def issue_key(home: Path) -> str:
    """An agent of the team, exempted (user and team) from the rate limit by an operator."""
    from core.access import Role
    from core.catalog import Catalog
    from core.catalog.audit import AuditTrail
    from core.catalog.keys import KeyRing
    from core.catalog.limits import RateLimits

    catalog = Catalog.connect(f"sqlite:///{(home / 'catalog.db').resolve()}")
    try:
        audit = AuditTrail(catalog.db)
        limits = RateLimits(catalog.db, audit)
        limits.set("user", USER, 0, actor="bench")
        limits.set("team", TEAM, 0, actor="bench")
        return KeyRing(catalog.db, audit).issue(USER, Role.AGENT, (TEAM,), actor="bench").secret
    finally:
        catalog.close()


def old_home(home: Path, old_code: Path) -> tuple[Path, str]:
    """A home for the other checkout: the same vector store, a catalog of its own (its migrations
    may differ), the collection and a key made by its own code. Its rate limits are lifted by its
    settings (it may predate per-user limits)."""
    other = home.parent / f"{home.name}-old"
    (other / "qdrant").mkdir(parents=True, exist_ok=True)
    for store in (home / "qdrant").iterdir():
        link = other / "qdrant" / store.name
        if not link.exists():
            link.symlink_to(store.resolve())
    script = (
        "import sys; from pathlib import Path; from core.access import Role; from core.catalog import Catalog;"
        "from core.catalog.audit import AuditTrail; from core.catalog.keys import KeyRing;"
        f"c = Catalog.connect('sqlite:///{other / 'catalog.db'}'); c.ensure_collection('{COLLECTION}', team='{TEAM}');"
        f"print(KeyRing(c.db, AuditTrail(c.db)).issue('{USER}', Role.AGENT, ('{TEAM}',)).secret)"
    )
    env = os.environ | {"PYTHONPATH": str(old_code)}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, cwd=old_code, capture_output=True, text=True
    )
    if done.returncode:
        raise SystemExit(done.stderr)
    return other, done.stdout.strip().splitlines()[-1]


def read_into_page_cache(store: Path) -> int:
    """Read every file of the vector store once, so neither side starts on a cold cache: on these
    machines pages drop out of the cache within minutes (seen with fincore), and a search that
    faults them back in from disk does so with the interpreter held. Bytes read."""
    read = 0
    for path in sorted(p for p in store.rglob("*") if p.is_file()):
        with path.open("rb") as f:
            while chunk := f.read(1 << 22):
                read += len(chunk)
    return read


@contextmanager
def server(home: Path, port: int, code: Path, extra_env: dict[str, str]) -> Iterator[str]:
    import httpx

    env = os.environ | SERVER_ENV | extra_env | {"SOURCEBOOK_HOME": str(home), "PYTHONPATH": str(code)}
    log = (home / "server.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "sourcebook.cli", "serve", "--port", str(port)],
        env=env,
        cwd=code,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(1200):
            if process.poll() is not None:
                raise SystemExit(f"the server stopped: see {home / 'server.log'}")
            try:
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=60)
        log.close()


def run_clients(url: str, key: str, path: str, questions: list[str], clients: int) -> dict[str, Any]:
    """Each question once, spread over ``clients`` threads; latencies of the 200s only."""
    import httpx

    latencies: list[float] = []
    errors: dict[str, int] = {}
    lock = threading.Lock()
    todo = iter(questions)

    def work() -> None:
        client = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=120)
        while True:
            with lock:
                question = next(todo, None)
            if question is None:
                break
            body = (
                {"query": question, "limit": 10, "collections": [COLLECTION]}
                if path == "/v1/search"
                else {"question": question, "collections": [COLLECTION]}
            )
            started = time.perf_counter()
            try:
                response = client.post(path, json=body)
                failure = None if response.status_code == 200 else f"HTTP {response.status_code}"
            except httpx.HTTPError as exc:
                failure = type(exc).__name__  # a reset or a timeout: an error, and a new connection
                client.close()
                client = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=120)
            elapsed = time.perf_counter() - started
            with lock:
                if failure is None:
                    latencies.append(elapsed)
                else:
                    errors[failure] = errors.get(failure, 0) + 1
        client.close()

    load_before = os.getloadavg()[0]
    wall = in_threads(clients, work)
    q = statistics.quantiles(latencies, n=100) if len(latencies) >= 2 else [float("nan")] * 99
    return {
        "endpoint": path,
        "clients": clients,
        "requests": len(questions),
        "ok": len(latencies),
        "errors": sum(errors.values()),
        "error_kinds": errors,
        "p50_ms": round(q[49] * 1000, 1),
        "p95_ms": round(q[94] * 1000, 1),
        "p99_ms": round(q[98] * 1000, 1),
        "throughput_rps": round(len(latencies) / wall, 1),
        "load_average_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)],
    }


def measure(
    url: str, key: str, runs: list[tuple[str, int]], fresh: list[list[str]], code: str
) -> list[dict[str, Any]]:
    run_clients(url, key, "/v1/ask", queries("dev")[:10], 2)  # warm up: model, spaCy, first queries
    rows = []
    for (path, clients), asked in zip(runs, fresh, strict=True):
        row = {"code": code} | run_clients(url, key, path, asked, clients)
        rows.append(row)
        print(
            f"{code:4} {path:11} clients {clients:>2}: p50 {row['p50_ms']:7.1f} ms  p95 {row['p95_ms']:7.1f} ms  "
            f"p99 {row['p99_ms']:7.1f} ms  {row['throughput_rps']:6.1f} req/s  errors {row['errors']}  "
            f"load {row['load_average_1min'][1]}",
            flush=True,
        )
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=130, help="per run (each run asks fresh questions)")
    parser.add_argument("--clients", default="1,8,32")
    parser.add_argument("--endpoints", default="/v1/search,/v1/ask")
    parser.add_argument("--home", type=Path, default=Path("/tmp/sourcebook-latency"))
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--old-code", type=Path, default=None, help="another checkout to compare with")
    parser.add_argument(
        "--embedder",
        choices=["minilm", "hashing"],
        default="minilm",
        help="hashing: no model, to measure the service around it (catalog, store, HTTP)",
    )
    parser.add_argument("--reranker", choices=["sentence", "none"], default="sentence")
    args = parser.parse_args()
    if not DATA.exists():
        print(f"skipped: {DATA} is not on this machine")
        return 0
    started = provenance({})  # the code the servers run is the code at the start
    args.home.mkdir(parents=True, exist_ok=True)
    build(args.home, args.points, embedder=args.embedder)
    runs = [(p, int(c)) for p in args.endpoints.split(",") for c in args.clients.split(",")]
    train = queries("train")
    per_run = min(args.requests, len(train) // len(runs))
    fresh = [train[n * per_run : (n + 1) * per_run] for n in range(len(runs))]
    rows = []
    models = {"SOURCEBOOK_EMBEDDER": args.embedder, "SOURCEBOOK_RERANKER": args.reranker}
    sides: list[tuple[str, Path, Path, str, dict[str, str]]] = [
        ("new", ROOT, args.home, issue_key(args.home), models)
    ]
    if args.old_code is not None:
        home, key = old_home(args.home, args.old_code.resolve())
        lifted = models | {
            "SOURCEBOOK_RATE_LIMIT_USER_PER_MINUTE": "0",
            "SOURCEBOOK_RATE_LIMIT_TEAM_PER_MINUTE": "0",
        }
        sides.append(("old", args.old_code.resolve(), home, key, lifted))
    for name, code, home, key, env in sides:
        read_into_page_cache(args.home / "qdrant")
        # Each side its own answer cache: a fresh server per side; questions differ per run.
        with server(home, args.port, code, env) as url:
            rows += measure(url, key, runs, fresh, name)
    settings = vars(args) | {
        "per_run": per_run,
        "server_env": SERVER_ENV | models,
        "user": USER,
        "team": TEAM,
    }
    if args.old_code is not None:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=args.old_code, capture_output=True, text=True)
        settings["old_code_commit"] = head.stdout.strip()
        shutil.rmtree(args.home.parent / f"{args.home.name}-old", ignore_errors=True)
    name = "latency" if args.embedder == "minilm" else f"latency-{args.embedder}"
    write_result(name, {"points": args.points, "rows": rows}, settings=settings, started=started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
