"""POST /v1/collections/{name}/reindex over real HTTP."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from core.access import Role
from core.settings import Settings
from tests.conftest import SAMPLES
from tests.integration.api_server import serve, upload

pytestmark = pytest.mark.integration


def test_reindex_queues_ready_documents_for_managers_only(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home", embedder="hashing", workers=1, reranker="none")
    with serve(settings) as server:
        admin = server.client(server.admin)
        assert admin.post("/v1/collections", json={"name": "kb", "team": "support"}).status_code == 201
        upload(admin, "kb", SAMPLES / "faq.md", SAMPLES / "known-issues.txt")

        agent = server.client(server.key(Role.AGENT, "support"))
        denied = agent.post("/v1/collections/kb/reindex")
        assert (denied.status_code, denied.json()["detail"]) == (
            403,
            "the agent role may not manage collections",
        )
        missing = admin.post("/v1/collections/nope/reindex")
        assert missing.status_code == 404

        manager = server.client(server.key(Role.KNOWLEDGE_MANAGER, "support"))
        response = manager.post("/v1/collections/kb/reindex")
        assert response.status_code == 202
        assert response.json() == {"collection": "kb", "queued": 2}
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            docs = admin.get("/v1/documents", params={"collection": "kb"}).json()
            if all(d["status"] == "ready" and d["stage"] == "done" for d in docs):
                break
            time.sleep(0.5)
        assert [(d["status"], d["stage"]) for d in docs] == [("ready", "done")] * 2
