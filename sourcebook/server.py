"""How the HTTP API is served: uvicorn on its h11 protocol, with the request head capped.

uvicorn's default protocol (httptools) reads a request head of any size: a 16 MB
``Authorization`` header was read whole, then answered 401. h11 stops buffering a head at
``h11_max_incomplete_event_size`` (``SOURCEBOOK_MAX_HEADER_BYTES``); the client gets 431 and the
connection closes. Every way of serving (``sourcebook serve``, ``up``, the tests' servers) goes
through ``config`` so that none runs without the cap.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from core.settings import Settings


class CappedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, answering 431 (not 400 "Invalid HTTP request") to a head over the cap."""

    def send_400_response(self, msg: str) -> None:
        cap = self.config.h11_max_incomplete_event_size or 0
        buffered, _ = self.conn.trailing_data
        if cap and len(buffered) > cap:
            self._send_431(cap)
            return
        super().send_400_response(msg)

    def _send_431(self, cap: int) -> None:
        import h11

        body = f"Request header fields too large: the request line and headers exceed {cap} bytes".encode()
        headers = [
            (b"content-type", b"text/plain; charset=utf-8"),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
        ]
        for event in (
            h11.Response(status_code=431, headers=headers, reason=b"Request Header Fields Too Large"),
            h11.Data(data=body),
            h11.EndOfMessage(),
        ):
            self.transport.write(self.conn.send(event) or b"")
        self.transport.close()


def config(
    app: Callable[..., Any], settings: Settings, host: str, port: int, log_level: str = "info"
) -> uvicorn.Config:
    """The uvicorn configuration every server of the API runs with."""
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        http=CappedH11Protocol,
        h11_max_incomplete_event_size=settings.max_header_bytes,
    )


def run(app: Callable[..., Any], settings: Settings, host: str, port: int) -> None:
    uvicorn.Server(config(app, settings, host, port)).run()
