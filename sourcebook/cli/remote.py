"""The CLI through a running server: when ``sourcebook serve`` holds this data folder (its card,
``sourcebook/serving.py``), commands that need the vector store or the models become API calls
made with the server's local operator token, so the server stays the store's one writer and a
question costs what an API call costs instead of a model load."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

import httpx
import typer

from core.settings import Settings
from sourcebook import serving
from sourcebook.cli.context import err

READY_TIMEOUT_S = 300.0


class Remote:
    def __init__(self, server: serving.RunningServer) -> None:
        self.server = server
        self.http = httpx.Client(
            base_url=server.url,
            headers={"Authorization": f"Bearer {server.token}"},
            timeout=httpx.Timeout(600.0, connect=5.0),
        )

    def ready(self, timeout_s: float = READY_TIMEOUT_S) -> bool:
        """Wait while the server warms up; False if nothing listens there (a stale card)."""
        deadline = time.monotonic() + timeout_s
        said = False
        while True:
            try:
                response = self.http.get("/readyz")
            except httpx.TransportError:
                return False
            if response.status_code == 200:
                return True
            if time.monotonic() > deadline:
                fail(response)
            if not said:
                err.print(f"[dim]waiting for the server at {self.server.url} to be ready…[/]")
                said = True
            time.sleep(0.25)

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """The JSON of a successful call; an error response is the command's error."""
        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            err.print(f"[red]error:[/] the server at {self.server.url} stopped answering: {exc}")
            raise typer.Exit(1) from exc
        if response.status_code >= 400:
            fail(response)
        if response.status_code == 204 or not response.content:
            return None
        return response.json()

    def close(self) -> None:
        self.http.close()


def fail(response: httpx.Response) -> NoReturn:
    """Print a problem+json response as the local commands print an error, and exit 1."""
    try:
        detail = response.json().get("detail", response.text)
    except ValueError:
        detail = response.text
    if not isinstance(detail, str):
        detail = str(detail)
    err.print(f"[red]error:[/] {detail}")
    raise typer.Exit(1)


@contextmanager
def running_server() -> Iterator[Remote | None]:
    """The server running on this data folder, ready for requests; None when none runs."""
    found = serving.find(Settings().home)
    if found is None:
        yield None
        return
    remote = Remote(found)
    try:
        yield remote if remote.ready() else None
    finally:
        remote.close()
