"""Writes on the request path are grouped (one commit for many requests), yet a crash loses
nothing that was answered: a real server process is killed with SIGKILL while clients keep it
busy, and the audit trail still verifies and holds every request that got its answer."""

from __future__ import annotations

import os
import signal
import threading
from collections import Counter
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from core.catalog import Catalog
from core.catalog.audit import AuditTrail
from core.catalog.models import AnswerRow
from tests.integration.server_process import server_process

pytestmark = pytest.mark.integration


def test_kill_9_mid_batch_keeps_the_chain_and_every_answered_request(tmp_path: Path) -> None:
    env = {
        "SOURCEBOOK_RATE_LIMIT_USER_PER_MINUTE": "0",
        "SOURCEBOOK_ANSWER_CACHE_TTL_S": "0",  # every ask searches, answers and logs
    }
    with server_process(tmp_path, env=env) as served:
        url, server, home = served.url, served.process, served.home
        key = served.admin

        answered: Counter[str] = Counter()
        sent: Counter[str] = Counter()
        lock = threading.Lock()
        stop = threading.Event()

        def client(n: int) -> None:
            with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as c:
                i = 0
                while not stop.is_set():
                    i += 1
                    path, body = (
                        ("/v1/search", {"query": f"reset the router {n} {i}"})
                        if i % 2
                        else ("/v1/ask", {"question": f"how do I reset router {n} {i}?"})
                    )
                    with lock:
                        sent[path] += 1
                    try:
                        response = c.post(path, json=body)
                    except httpx.HTTPError:
                        return  # the server is gone
                    assert response.status_code == 200, response.text
                    with lock:
                        answered[path] += 1
                        if sum(answered.values()) >= 150 and not stop.is_set():
                            # At once, from the thread that just got an answer: the write behind
                            # it had better be committed already.
                            os.kill(server.pid, signal.SIGKILL)
                            stop.set()

        threads = [threading.Thread(target=client, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert stop.is_set(), (tmp_path / "server.log").read_text()
        server.wait(timeout=30)

    catalog = Catalog.connect(f"sqlite:///{home / 'catalog.db'}", migrate=False)
    try:
        trail = AuditTrail(catalog.db)
        verified = trail.verify()
        assert verified.ok, verified
        logged = Counter(e.action for e in trail.entries())
        with catalog.db.session() as s:
            answers = s.scalar(select(func.count()).select_from(AnswerRow))
    finally:
        catalog.close()
    # Every request that got its answer is on record; none that was never sent is.
    assert answered["/v1/search"] <= logged["search"] <= sent["/v1/search"]
    assert answered["/v1/ask"] <= logged["question"] <= sent["/v1/ask"]
    assert answered["/v1/ask"] <= (answers or 0) <= sent["/v1/ask"]
    assert answered["/v1/search"] + answered["/v1/ask"] >= 150
