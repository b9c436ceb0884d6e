"""What every result under bench/results/ records about how it was made.

The commit (and whether the tree had uncommitted changes), the time, the settings the bench ran
with, and the machine: CPU model, cores, the CPU's flags (bf16 and AVX-512 decide which paths
the model takes), the load average when the result was written (the machines are shared), the
Python and the versions of the packages that do the work. A result whose commit is older than
the code it describes is stale: ``make bench`` makes them all again.

    write_result("latency", {"rows": rows}, settings={"points": 100_000})
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
ROOT = RESULTS.parents[1]
PACKAGES = ("torch", "sentence-transformers", "qdrant-edge-py", "qdrant-client", "sqlalchemy", "fastapi")


def _git(*args: str) -> str:
    try:
        done = subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return done.stdout.strip()


def _cpu() -> dict[str, Any]:
    model, flags = "", list[str]()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and not model:
                model = value.strip()
            elif key.strip() == "flags" and not flags:
                flags = value.split()
    except OSError:
        pass
    return {
        "model": model or platform.processor(),
        "cpus": os.cpu_count(),
        "bf16": any(f in flags for f in ("avx512_bf16", "amx_bf16")),
        "flags": " ".join(sorted(flags)),
    }


def _installed(package: str) -> str | None:
    try:
        return version(package)
    except PackageNotFoundError:
        return None


def provenance(settings: dict[str, Any]) -> dict[str, Any]:
    return {
        "commit": _git("rev-parse", "HEAD"),
        "uncommitted_changes": bool(_git("status", "--porcelain", "--untracked-files=no")),
        "made_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "settings": settings,
        "machine": _cpu() | {"load_average_1_5_15": [round(x, 2) for x in os.getloadavg()]},
        "python": platform.python_version(),
        "packages": {p: v for p in PACKAGES if (v := _installed(p)) is not None},
    }


def write_result(
    name: str, result: dict[str, Any], *, settings: dict[str, Any], started: dict[str, Any] | None = None
) -> Path:
    """Write ``bench/results/<name>.json``: the result under its provenance. ``started``: the
    provenance taken when a long bench began (the commit it ran), completed with the settings."""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    made = provenance(settings) if started is None else started | {"settings": settings}
    path.write_text(json.dumps({"provenance": made} | result, indent=2, default=str) + "\n")
    print(f"wrote {path}")
    return path


def markdown_provenance(settings: dict[str, Any]) -> str:
    """The same record for a Markdown result: a fenced JSON block to put at its top."""
    made = provenance(settings)
    return "Made with:\n\n```json\n" + json.dumps(made, indent=2, default=str) + "\n```\n"
