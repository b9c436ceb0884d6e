"""A request body declared larger than the upload limit is refused before a byte of it is read."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from api.errors import problem

ENVELOPE = 1024 * 1024  # room for the multipart envelope around the file


class UploadLimit:
    """413 for a ``Content-Length`` over ``limit`` bytes (the upload limit plus ``ENVELOPE``).
    Plain ASGI, like ``api.metrics.RequestMetrics``, for the same reason."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            length = next((value for name, value in scope["headers"] if name == b"content-length"), b"")
            if length.isdigit() and int(length) > self.limit:
                mb = (self.limit - ENVELOPE) / (1024 * 1024)
                await problem(413, "Content too large", f"exceeds the {mb:g} MB upload limit")(
                    scope, receive, send
                )
                return
        await self.app(scope, receive, send)
