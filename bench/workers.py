"""Ingestion throughput of Celery workers: 1 against 2 worker processes, and where the time goes.

    python -m bench.workers [--copies 5] [--embedder minilm]

The corpus is the sample collection (PDFs with and without a text layer, a scan, an image, DOCX,
PPTX, XLSX, HTML, Markdown, e-mail, text) ingested into ``--copies`` collections, so each copy is
a distinct document with the same work. Real ``celery worker`` processes on Redis (db 9) and
PostgreSQL, one child each, one torch thread each.

No Qdrant server runs here: each worker process writes to its own qdrant-client local store (one
process may open one), standing in for the shared server. Stage times come from the workers'
logs: parsing (text layer and OCR), chunking, embedding, indexing (vector store and catalog).
Writes bench/results/workers.json.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from bench.provenance import write_result
from core.domain import DocumentStatus
from tests.integration.cluster import Cluster, Producer, postgres_database

SAMPLES = Path(__file__).resolve().parents[1] / "samples" / "acme-support"
RESULTS = Path(__file__).resolve().parent / "results"
BROKER = "redis://127.0.0.1:6379/9"
LINE = re.compile(
    r"ingested (?P<name>.+?) \((?P<media>[^,]+), (?P<chunks>\d+) chunks, (?P<ocr>\d+) OCR pages\) (?P<stages>.*)$"
)


def run(processes: int, copies: int, embedder: str, scratch: Path) -> dict[str, Any]:
    import redis

    client = redis.Redis.from_url(BROKER)
    client.flushdb()
    files = sorted(p for p in SAMPLES.iterdir() if p.is_file())
    with postgres_database("sb_workers_bench") as url:
        home = scratch / f"p{processes}"
        home.mkdir()
        cluster = Cluster(home, url, BROKER, extra={"SOURCEBOOK_EMBEDDER": embedder})
        cluster.extra |= {"SOURCEBOOK_DOCUMENT_TIMEOUT_S": "300", "SOURCEBOOK_VISIBILITY_TIMEOUT_S": "600"}
        cluster.extra |= {"SOURCEBOOK_CHUNK_TOKENS": "220", "SOURCEBOOK_CHUNK_OVERLAP": "32"}
        producer = Producer.open(cluster.settings())
        try:
            for copy in range(copies):
                producer.catalog.ensure_collection(f"copy-{copy}")
            for n in range(processes):
                cluster.extra["SOURCEBOOK_QDRANT_URL"] = str(home / f"store-{n}")
                cluster.start_worker()
            _wait_for_children(cluster, processes)
            load_before = os.getloadavg()[0]
            started = time.perf_counter()
            for copy in range(copies):
                for path in files:
                    producer.intake.add_path(f"copy-{copy}", path)
            assert producer.executor.wait(timeout=3600)
            wall = time.perf_counter() - started
            documents = producer.catalog.documents()
            ready = sum(d.status is DocumentStatus.READY for d in documents)
            failed = [
                (d.source_name, d.failure_reason) for d in documents if d.status is DocumentStatus.FAILED
            ]
        finally:
            cluster.stop_workers()
            producer.close()
            client.flushdb()
    stages = _stages(home)
    return {
        "worker_processes": processes,
        "documents": len(documents),
        "ready": ready,
        "failed": failed,
        "wall_s": round(wall, 1),
        "docs_per_min": round(60 * len(documents) / wall, 1),
        "load_average_1min": {"before": round(load_before, 2), "after": round(os.getloadavg()[0], 2)},
        "stage_seconds": stages,
    }


def _wait_for_children(cluster: Cluster, processes: int, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cluster.logs().count("worker child") >= processes:
            return
        time.sleep(0.5)
    raise RuntimeError(f"workers did not start:\n{cluster.logs()}")


def _stages(home: Path) -> dict[str, Any]:
    """Seconds per stage, summed over documents, with parsing split by whether pages were OCR'd."""
    totals: dict[str, float] = defaultdict(float)
    by_media: dict[str, float] = defaultdict(float)
    ocr_pages = 0
    for log in home.glob("worker-*.log"):
        for line in log.read_text(errors="replace").splitlines():
            found = LINE.search(line)
            if not found:
                continue
            ocr = int(found["ocr"])
            ocr_pages += ocr
            seconds = dict(
                (stage, float(value.rstrip("s")))
                for stage, value in (item.split("=") for item in found["stages"].split())
            )
            for stage, value in seconds.items():
                name = "parsing with OCR" if stage == "parsing" and ocr else stage
                totals[name] += value
            by_media[found["media"]] += sum(seconds.values())
    total = sum(totals.values())
    return {
        "seconds": {k: round(v, 1) for k, v in sorted(totals.items(), key=lambda kv: -kv[1])},
        "share": {k: f"{100 * v / total:.0f}%" for k, v in sorted(totals.items(), key=lambda kv: -kv[1])},
        "ocr_pages": ocr_pages,
        "seconds_by_media_type": {k: round(v, 1) for k, v in sorted(by_media.items(), key=lambda kv: -kv[1])},
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--copies", type=int, default=5)
    parser.add_argument("--embedder", default="minilm", choices=["minilm", "hashing"])
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory(prefix="sb-bench-workers-") as scratch:
        for processes in (1, 2):
            result = run(processes, args.copies, args.embedder, Path(scratch))
            print(json.dumps(result, indent=2), flush=True)
            results.append(result)
    speedup = results[1]["docs_per_min"] / results[0]["docs_per_min"]
    report = {"embedder": args.embedder, "copies": args.copies, "runs": results, "speedup": round(speedup, 2)}
    write_result("workers", report, settings=vars(args))
    print(f"2 processes: x{speedup:.2f} the throughput of 1")


if __name__ == "__main__":
    main()
