"""One node, one writer: ``sourcebook serve`` announces itself in the data folder, and the CLI goes
through it instead of opening the vector store the server holds.

While it serves, the server keeps a card at ``$SOURCEBOOK_HOME/server.json`` (created 0600, so only
the data folder's owner reads it): its local URL, its process id and a local operator token. The
token is 32 random bytes that live only in the server's memory and in the card; the API accepts it
as an admin named after the owner (``cli:<user>``) for the server's lifetime, and never stores it.
Whoever can read the card can already read the catalog and every original in the folder, so it
grants nothing new; it dies with the process (a card left by a killed server opens nothing), and a
clean stop removes the card. With the vector store on a Qdrant server there is no single writer,
but the card is written all the same: CLI questions then cost what an API call costs.
"""

from __future__ import annotations

import contextlib
import getpass
import json
import os
import secrets
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from core.settings import Settings

CARD = "server.json"


@dataclass(frozen=True, slots=True)
class RunningServer:
    url: str
    pid: int
    token: str


def operator_name() -> str:
    """Who runs the CLI (and the server), as the audit trail names them."""
    return f"cli:{getpass.getuser()}"


def new_token() -> str:
    return f"sbop_{secrets.token_urlsafe(32)}"


def publish(home: Path, server: RunningServer) -> Path:
    """Write the card atomically, readable by the owner only whatever the umask."""
    card = home / CARD
    draft = home / f".{CARD}.{os.getpid()}"
    with contextlib.suppress(FileNotFoundError):
        draft.unlink()
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(asdict(server), handle)
    os.replace(draft, card)
    return card


def withdraw(home: Path, token: str) -> None:
    """Remove the card if it is still this server's (a newer server may have replaced it)."""
    found = _read(home / CARD)
    if found is not None and secrets.compare_digest(found.token, token):
        with contextlib.suppress(FileNotFoundError):
            (home / CARD).unlink()


def find(home: Path) -> RunningServer | None:
    """The server running on this data folder, if its card names a live process."""
    found = _read(home / CARD)
    if found is None or not _alive(found.pid):
        return None
    return found


def _read(card: Path) -> RunningServer | None:
    try:
        data = json.loads(card.read_text())
        return RunningServer(str(data["url"]), int(data["pid"]), str(data["token"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive, though not ours to signal
    return True


def local_url(host: str, port: int) -> str:
    """The URL a process on this machine reaches a server bound to ``host`` at."""
    if host in {"", "0.0.0.0"}:
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def serve(settings: Settings, host: str, port: int, *, log_level: str = "info") -> None:
    """Run the API until stopped, with its card in the data folder while it accepts connections."""
    import uvicorn

    from api.deps import LocalOperator
    from sourcebook import server as serving_config
    from sourcebook.wiring import create_api

    token = new_token()
    app = create_api(settings, LocalOperator(token, operator_name()))
    server = uvicorn.Server(serving_config.config(app, settings, host, port, log_level))

    def announce() -> None:
        while not server.started:
            if server.should_exit or not main.is_alive():
                return
            time.sleep(0.05)
        bound = port or server.servers[0].sockets[0].getsockname()[1]
        publish(settings.home, RunningServer(local_url(host, bound), os.getpid(), token))

    main = threading.current_thread()
    threading.Thread(target=announce, name="announce-server", daemon=True).start()
    try:
        server.run()
    finally:
        withdraw(settings.home, token)
