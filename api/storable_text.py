"""Text the catalog and the vector store cannot hold is refused at the door, on every route.

JSON may carry ``\\u0000`` and unpaired surrogates (``\\ud800``): PostgreSQL refuses NUL in a
text value, and no store can encode a lone surrogate as UTF-8, so either, anywhere in a request,
was a 500 wherever the value reached a query (a question, a feedback comment, a document id in
a filter or a path). They are refused here as invalid input with where they were found.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import unquote

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import problem

REASON = "text must not contain NUL characters (U+0000) or unpaired surrogates (U+D800 to U+DFFF)"


# json.loads joins a valid surrogate pair into one character: a surrogate left is unpaired.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _bad(text: str) -> bool:
    return _UNSTORABLE.search(text) is not None


def _find(value: Any, where: list[str | int]) -> list[str | int] | None:
    if isinstance(value, str):
        return where if _bad(value) else None
    if isinstance(value, dict):
        for key, item in value.items():
            if _bad(key):
                return [*where, key]
            found = _find(item, [*where, key])
            if found:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = _find(item, [*where, index])
            if found:
                return found
    return None


def _in_url(scope: Scope) -> list[str | int] | None:
    if "\x00" in scope["path"]:
        return ["path"]
    if "\x00" in unquote(scope.get("query_string", b"").decode("latin-1")):
        return ["query"]
    return None


def _is_json(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if name == b"content-type":
            kind: bytes = value.split(b";", 1)[0].strip().lower()
            return kind == b"application/json" or kind.endswith(b"+json")
    return False


class StorableText:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        where = _in_url(scope)
        if where is None and _is_json(scope):
            body, receive = await _buffered(receive)
            try:
                where = _find(json.loads(body), ["body"]) if body else None
            except ValueError:
                where = None  # not JSON: the route's own validation says so
        if where is not None:
            errors = [{"loc": [str(part) for part in where], "msg": REASON}]
            await problem(422, "Invalid request", REASON, errors=errors)(scope, receive, send)
            return
        await self.app(scope, receive, send)


async def _buffered(receive: Receive) -> tuple[bytes, Receive]:
    """The whole request body, and a ``receive`` that hands it to the app again."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return body, replay
