"""Helpers for API tests: an app on a real uvicorn server, keys, uploads that wait for their jobs."""

from __future__ import annotations

import faulthandler
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import uvicorn

from core.access import Role
from core.catalog.keys import KeyRing
from core.settings import Settings
from sourcebook.server import config as server_config
from sourcebook.wiring import create_api


@dataclass
class Server:
    url: str
    settings: Settings
    admin: str
    clients: list[httpx.Client] = field(default_factory=list)

    def client(self, key: str | None = None) -> httpx.Client:
        """A client for the server's lifetime (closed when the server stops)."""
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        client = httpx.Client(base_url=self.url, headers=headers, timeout=60)
        self.clients.append(client)
        return client

    def key(self, role: Role, *teams: str) -> str:
        from core.catalog import Catalog
        from core.catalog.audit import AuditTrail

        catalog = Catalog.connect(self.settings.catalog_url, migrate=False)
        try:
            return (
                KeyRing(catalog.db, AuditTrail(catalog.db))
                .issue(f"{role.value}-{'-'.join(teams)}", role, teams)
                .secret
            )
        finally:
            catalog.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def serve(settings: Settings) -> Iterator[Server]:
    port = _free_port()
    config = server_config(create_api(settings), settings, "127.0.0.1", port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the API did not start")
        time.sleep(0.05)
    while httpx.get(f"http://127.0.0.1:{port}/readyz").status_code != 200:  # models loaded
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the API did not get ready")
        time.sleep(0.05)
    admin = (settings.home / "admin-key.txt").read_text().strip()
    running = Server(f"http://127.0.0.1:{port}", settings, admin)
    try:
        yield running
    finally:
        for client in running.clients:  # also when the test failed: no unclosed sockets
            client.close()
        server.should_exit = True
        thread.join(timeout=30)


def upload(client: httpx.Client, collection: str, *paths: Path) -> list[dict[str, object]]:
    """Upload files and wait until every job has finished."""
    files = [("files", (p.name, p.read_bytes())) for p in paths]
    response = client.post("/v1/documents", data={"collection": collection}, files=files)
    assert response.status_code == 202, response.text
    results: list[dict[str, object]] = response.json()["results"]
    for result in results:
        job_id = result["job_id"]
        if not job_id:
            continue
        deadline = time.monotonic() + 300
        while True:
            job = client.get(f"/v1/jobs/{job_id}").json()
            if job["state"] in {"succeeded", "failed"}:
                break
            if time.monotonic() > deadline:
                faulthandler.dump_traceback(all_threads=True)  # where the server is stuck, in the log
                raise AssertionError(f"job {job_id} did not finish: {job}")
            time.sleep(0.1)
    return results
