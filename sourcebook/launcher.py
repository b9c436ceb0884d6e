"""Run the API and the web app as one: start both, wait until they answer, stop both together.

``sourcebook up`` uses it; the API process is ``sourcebook serve`` (the composition root's app,
served as ``sourcebook.server`` configures it, announced to the CLI by ``serving.py``), ready
once ``/readyz`` says its models are loaded. When either process exits, or on Ctrl-C, the other
is stopped too (SIGTERM, then SIGKILL after a grace period), so no half of the pair is left
running.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

UI_APP = Path(__file__).resolve().parents[1] / "ui" / "app.py"


@dataclass(frozen=True, slots=True)
class Service:
    name: str
    argv: tuple[str, ...]
    ready_url: str


def api_service(host: str, port: int) -> Service:
    """``sourcebook serve``, ready once ``/readyz`` says its models are loaded."""
    argv = (sys.executable, "-m", "sourcebook.cli", "serve", "--host", host, "--port", str(port))
    return Service("api", argv, f"http://{host}:{port}/readyz")


def ui_service(host: str, port: int) -> Service:
    argv = (
        sys.executable, "-m", "streamlit", "run", str(UI_APP),
        "--server.address", host, "--server.port", str(port), "--server.headless", "true",
        "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
        "--client.toolbarMode", "viewer",
    )  # fmt: skip
    return Service("ui", argv, f"http://{host}:{port}/_stcore/health")


def wait_ready(url: str, process: subprocess.Popen[bytes], timeout_s: float) -> None:
    """Poll ``url`` until it answers 200; fail early if the process died."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"exited with status {process.returncode} before answering {url}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.25)
    raise RuntimeError(f"did not answer {url} within {timeout_s:.0f} s")


def stop(processes: Sequence[subprocess.Popen[bytes]], grace_s: float = 10.0) -> None:
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    for process in processes:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def run_together(
    services: Sequence[Service],
    env: Mapping[str, str],
    on_ready: Callable[[], None],
    ready_timeout_s: float = 180.0,
) -> int:
    """Start each service in order (each one ready before the next), then wait; 0 after Ctrl-C."""
    running: list[subprocess.Popen[bytes]] = []
    try:
        for service in services:
            process = subprocess.Popen(service.argv, env={**os.environ, **env})
            running.append(process)
            try:
                wait_ready(service.ready_url, process, ready_timeout_s)
            except RuntimeError as exc:
                print(f"{service.name}: {exc}", file=sys.stderr)
                return 1
        on_ready()
        while True:
            for service, process in zip(services, running, strict=True):
                if process.poll() is not None:
                    print(
                        f"{service.name} stopped (status {process.returncode}); stopping the rest",
                        file=sys.stderr,
                    )
                    return process.returncode or 1
            time.sleep(0.5)
    except KeyboardInterrupt:
        return 0
    finally:
        stop(running)
