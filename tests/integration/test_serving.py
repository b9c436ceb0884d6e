"""What a client meets on the wire of a real `sourcebook serve` process: the request head is
capped, and an unexpected error is a JSON 500 with an error id on a connection that stays open."""

from __future__ import annotations

import json
import re
import socket
import stat
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import SAMPLES
from tests.integration.api_server import upload
from tests.integration.server_process import ServerProcess, server_process

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with server_process(tmp_path_factory.mktemp("serve")) as running:
        yield running


@pytest.fixture(scope="module")
def faulty(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with server_process(tmp_path_factory.mktemp("faulty"), ("tests.integration.faulty_api",)) as running:
        yield running


def _read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 response (status, headers, body) read off a socket; b"" body if it closed."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"the server closed the connection after {data[:200]!r}")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:])}
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return status, headers, body


def _request(path: str, port: int, **headers: str) -> bytes:
    lines = [f"GET {path} HTTP/1.1", f"Host: 127.0.0.1:{port}"]
    lines += [f"{name.replace('_', '-')}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def test_a_request_head_over_the_cap_gets_431_and_no_handler(served: ServerProcess) -> None:
    with socket.create_connection(("127.0.0.1", served.port), timeout=30) as sock:
        sock.sendall(_request("/v1/me", served.port, Authorization="Bearer " + "x" * 8_000))
        status, _, _ = _read_response(sock)
        assert status == 401  # an ordinary head still reaches the handler

    with socket.create_connection(("127.0.0.1", served.port), timeout=30) as sock:
        sock.sendall(_request("/v1/me", served.port, Authorization="Bearer " + "x" * 1_000_000))
        status, headers, body = _read_response(sock)
    assert status == 431
    assert headers["connection"] == "close"
    assert b"request line and headers exceed 32768 bytes" in body


def test_an_unexpected_error_is_a_json_500_with_an_error_id_on_a_kept_connection(
    faulty: ServerProcess,
) -> None:
    with socket.create_connection(("127.0.0.1", faulty.port), timeout=30) as sock:
        sock.sendall(_request("/v1/fault", faulty.port))
        status, headers, body = _read_response(sock)
        assert status == 500
        assert headers["content-type"] == "application/problem+json"
        problem = json.loads(body)
        assert re.fullmatch(r"[0-9a-f]{16}", problem["error_id"])
        assert (
            problem["detail"] == f"an unexpected error occurred; it has been logged as {problem['error_id']}"
        )
        assert "a bug no handler knows" not in body.decode()  # no internals

        sock.sendall(_request("/healthz", faulty.port))  # the same connection, still open
        status, _, _ = _read_response(sock)
        assert status == 200
    log = faulty.log_text()
    assert f"unexpected error {problem['error_id']} on GET /v1/fault" in log
    assert "RuntimeError: a bug no handler knows" in log


def test_the_data_folder_is_private_whatever_the_operators_umask(served: ServerProcess) -> None:
    """The server runs under umask 022; what it writes must still be 0700 folders, 0600 files."""
    with httpx.Client(base_url=served.url, headers={"Authorization": f"Bearer {served.admin}"}) as admin:
        assert admin.post("/v1/collections", json={"name": "kb", "team": "support"}).status_code == 201
        upload(admin, "kb", SAMPLES / "faq.md")
        assert admin.post("/v1/ask", json={"question": "How do I reset the thermostat?"}).status_code == 200
    modes = {
        str(path.relative_to(served.home)): stat.S_IMODE(path.stat().st_mode)
        for path in [served.home, *served.home.rglob("*")]
    }
    assert {"catalog.db", "admin-key.txt", "originals", "qdrant"} <= set(modes)
    assert any(name.startswith("qdrant/") and (served.home / name).is_file() for name in modes)
    folders = {name: mode for name, mode in modes.items() if (served.home / name).is_dir()}
    files = {name: mode for name, mode in modes.items() if name not in folders}
    assert {name: oct(mode) for name, mode in folders.items() if mode != 0o700} == {}
    assert {name: oct(mode) for name, mode in files.items() if mode & 0o077} == {}
