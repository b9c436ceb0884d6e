"""Operating one node: what a CLI question costs standalone and through a running server, and
what the first question after a restart costs with ``/readyz`` semantics.

    python -m bench.operating [--runs 3] [--out bench/results/operating.json]

Everything runs as real processes on a temp data folder with the real embedder (MiniLM): the
CLI as ``python -m sourcebook.cli``, the server as ``sourcebook serve``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples" / "acme-support"
QUESTIONS = (
    "How do I reset the thermostat?",
    "What happens when the Wi-Fi connection drops?",
    "What does error E-102 mean?",
    "How long does setup mode stay open?",
)


def _provenance() -> dict[str, Any]:
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout
    flags: list[str] = []
    model = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name") and not model:
            model = line.split(":", 1)[1].strip()
        if line.startswith("flags") and not flags:
            flags = [f for f in line.split(":", 1)[1].split() if f.startswith(("avx", "sse4", "fma", "amx"))]
    return {
        "commit": commit.strip(),
        "python": platform.python_version(),
        "cpu": model,
        "cpu_count": os.cpu_count(),
        "cpu_flags": flags,
        "load_average_at_start": os.getloadavg(),
    }


def _cli(env: dict[str, str], *args: str) -> float:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "sourcebook.cli", *args], env=env, cwd=ROOT, capture_output=True
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr.decode())
    return time.perf_counter() - started


def _serve(env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    with log.open("a") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "sourcebook.cli", "serve", "--port", str(port)],
            env=env,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def _until(url: str, process: subprocess.Popen[bytes], timeout_s: float = 600) -> float:
    started = time.perf_counter()
    while time.perf_counter() - started < timeout_s:
        if process.poll() is not None:
            raise RuntimeError("the server exited")
        try:
            if httpx.get(url, timeout=5).status_code == 200:
                return time.perf_counter() - started
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{url} did not answer")


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGINT)
    process.wait(timeout=120)


def _ask(url: str, key: str, question: str) -> tuple[float, float]:
    """(wall seconds, the server's own latency_ms) of one POST /v1/ask."""
    started = time.perf_counter()
    response = httpx.post(
        url + "/v1/ask",
        json={"question": question, "collections": ["acme"]},
        headers={"Authorization": f"Bearer {key}"},
        timeout=300,
    )
    response.raise_for_status()
    return time.perf_counter() - started, float(response.json()["latency_ms"])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "operating.json")
    args = parser.parse_args()
    result: dict[str, Any] = {"provenance": _provenance()}
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        env = {
            **os.environ,
            "SOURCEBOOK_HOME": str(home),
            "SOURCEBOOK_EMBEDDER": "minilm",
            "SOURCEBOOK_WORKERS": "1",
            "SOURCEBOOK_ANSWER_CACHE_TTL_S": "0",  # every question answered, none cached
            "PYTHONPATH": str(ROOT),
        }
        result["settings"] = {
            k: v for k, v in env.items() if k.startswith("SOURCEBOOK_") and k != "SOURCEBOOK_HOME"
        }
        docs = [SAMPLES / n for n in ("faq.md", "known-issues.txt", "troubleshooting-guide.html")]
        _cli(env, "ingest", *map(str, docs), "--collection", "acme", "--team", "support")

        standalone = [_cli(env, "ask", q, "--collection", "acme") for q in QUESTIONS[: args.runs]]
        port = 8700 + os.getpid() % 200
        url = f"http://127.0.0.1:{port}"
        server = _serve(env, port, Path(tmp) / "serve.log")
        try:
            to_ready = _until(url + "/readyz", server)
            through = [_cli(env, "ask", q, "--collection", "acme") for q in QUESTIONS[: args.runs]]
        finally:
            _stop(server)
        result["cli_ask_s"] = {
            "standalone": standalone,
            "through_server": through,
            "ratio_median": sorted(standalone)[len(standalone) // 2] / sorted(through)[len(through) // 2],
        }

        # A restart: the first question as soon as the server listens (what /readyz used to allow,
        # since it said ready then), and the first question once /readyz says ready.
        key = (home / "admin-key.txt").read_text().strip()
        restarts: dict[str, Any] = {}
        for when in ("at_healthz", "at_readyz"):
            server = _serve(env, port, Path(tmp) / "serve.log")
            try:
                healthz = _until(url + "/healthz", server)
                ready = _until(url + "/readyz", server) + healthz if when == "at_readyz" else None
                first = _ask(url, key, QUESTIONS[0])
                second = _ask(url, key, QUESTIONS[1])
            finally:
                _stop(server)
            restarts[when] = {
                "healthz_after_s": healthz,
                "readyz_after_s": ready,
                "first_question_wall_s": first[0],
                "first_question_latency_ms": first[1],
                "second_question_wall_s": second[0],
                "second_question_latency_ms": second[1],
            }
        result["restart"] = restarts
        result["serve_first_ready_s"] = to_ready
    result["provenance"]["load_average_at_end"] = os.getloadavg()
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
