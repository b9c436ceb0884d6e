"""The answer cache: a repeated question is answered without searching or generating again.

The key covers everything that could make the answer differ: the question (normalised) or the
template with its version and values, the filters, the caller's access scope (so an answer never
crosses teams), a fingerprint of the collections' current documents (so it never survives an
upload, a change or a delete) and the generator with its version. Entries live in memory on a
single node and in Redis in the cluster, where every API replica shares them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import threading
import time
from collections import OrderedDict
from typing import Any, Protocol

from core.domain import Answer, Citation, Passage

_SPACE = re.compile(r"\s+")


def normalise(question: str) -> str:
    """Case, spacing and trailing punctuation do not make a different question."""
    return _SPACE.sub(" ", question).strip().rstrip("?!. ").casefold()


def cache_key(
    *,
    question: str,
    template: tuple[str, int, dict[str, Any]] | None,
    filters: dict[str, Any],
    scope: tuple[str, ...] | None,
    fingerprint: str,
    generator: str,
) -> str:
    parts = {
        "question": None if template else normalise(question),
        "template": list(template) if template else None,
        "filters": filters,
        "scope": sorted(scope) if scope is not None else "*",
        "fingerprint": fingerprint,
        "generator": generator,
    }
    encoded = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return "answer:" + hashlib.sha256(encoded.encode()).hexdigest()


def encode_answer(answer: Answer) -> str:
    return json.dumps(dataclasses.asdict(answer))


def decode_answer(raw: str | bytes) -> Answer:
    data = json.loads(raw)
    citations = tuple(Citation(**(c | {"pages": tuple(c["pages"])})) for c in data["citations"])
    passages = tuple(
        Passage(
            **(
                p
                | {
                    "pages": tuple(p["pages"]),
                    "section_path": tuple(p["section_path"]),
                    "table_header": tuple(p.get("table_header", ())),
                }
            )
        )
        for p in data["passages"]
    )
    provenance = tuple((str(k), str(v)) for k, v in data["provenance"])
    rebuilt = {
        "citations": citations,
        "passages": passages,
        "notes": tuple(data["notes"]),
        "provenance": provenance,
    }
    return Answer(**(data | rebuilt))


class CacheBackend(Protocol):
    def get(self, key: str) -> str | bytes | None: ...

    def set(self, key: str, value: str, ttl_s: int) -> None: ...


class MemoryBackend:
    """A bounded LRU with expiry, for the single-node default."""

    def __init__(self, max_entries: int = 2048) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[str, tuple[float, str]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> str | None:
        with self._lock:
            found = self._entries.get(key)
            if found is None:
                return None
            expires, value = found
            if expires < time.monotonic():
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return value

    def set(self, key: str, value: str, ttl_s: int) -> None:
        with self._lock:
            self._entries[key] = (time.monotonic() + ttl_s, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)


class RedisBackend:
    def __init__(self, client: Any) -> None:
        self.client = client

    def get(self, key: str) -> bytes | None:
        value: bytes | None = self.client.get(key)
        return value

    def set(self, key: str, value: str, ttl_s: int) -> None:
        self.client.set(key, value, ex=ttl_s)


class AnswerCache:
    def __init__(self, backend: CacheBackend, ttl_s: int = 3600) -> None:
        self.backend = backend
        self.ttl_s = ttl_s
        self.hits = 0
        self.misses = 0

    def get(self, key: str) -> Answer | None:
        raw = self.backend.get(key)
        if raw is None:
            self.misses += 1
            return None
        self.hits += 1
        return decode_answer(raw)

    def put(self, key: str, answer: Answer) -> None:
        self.backend.set(key, encode_answer(answer), self.ttl_s)

    @property
    def hit_rate(self) -> float:
        total = self.hits + self.misses
        return self.hits / total if total else 0.0
