"""The API in a server process of its own, started the way `sourcebook serve` starts it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import ROOT
from tests.integration.api_server import _free_port


@dataclass(frozen=True)
class ServerProcess:
    url: str
    port: int
    home: Path
    log: Path
    process: subprocess.Popen[bytes]

    @property
    def admin(self) -> str:
        return (self.home / "admin-key.txt").read_text().strip()

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


@contextmanager
def server_process(
    tmp_path: Path,
    module: Sequence[str] = ("sourcebook.cli", "serve"),
    *,
    umask: int = 0o022,
    env: dict[str, str] | None = None,
) -> Iterator[ServerProcess]:
    """``python -m <module> --host 127.0.0.1 --port P`` on a fresh data folder, under an operator's
    ``umask``; stopped with SIGTERM (then killed) when the block ends."""
    port = _free_port()
    home = tmp_path / "home"
    log = tmp_path / "server.log"
    environment = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "SOURCEBOOK_HOME": str(home),
        "SOURCEBOOK_EMBEDDER": "hashing",
        "SOURCEBOOK_WORKERS": "1",
        **(env or {}),
    }
    argv = [sys.executable, "-m", *module, "--host", "127.0.0.1", "--port", str(port)]
    with log.open("wb") as out:
        process = subprocess.Popen(
            argv, env=environment, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, umask=umask
        )
    running = ServerProcess(f"http://127.0.0.1:{port}", port, home, log, process)
    try:
        _wait_ready(running)
        yield running
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_ready(server: ServerProcess, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"the server exited ({server.process.returncode}):\n{server.log_text()}")
        try:
            with urllib.request.urlopen(f"{server.url}/readyz", timeout=2) as response:
                if response.status == 200 and (server.home / "admin-key.txt").exists():
                    return
        except OSError:
            pass
        time.sleep(0.25)
    raise RuntimeError(f"the server did not become ready:\n{server.log_text()}")
