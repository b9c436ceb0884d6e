"""POST /v1/documents/{id}/retry: a curator processes a failed document again from its original."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from core.access import Role
from core.settings import Settings
from tests.conftest import SAMPLES
from tests.integration.api_server import serve, upload

pytestmark = pytest.mark.integration


def _wait(client: httpx.Client, job_id: str) -> dict[str, object]:
    deadline = time.monotonic() + 120
    while True:
        job: dict[str, object] = client.get(f"/v1/jobs/{job_id}").json()
        if job["state"] in {"succeeded", "failed"}:
            return job
        assert time.monotonic() < deadline, job
        time.sleep(0.1)


def test_only_failed_documents_are_retried_by_curators(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home", embedder="hashing", workers=1, reranker="none")
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n")
    with serve(settings) as server:
        admin = server.client(server.admin)
        assert admin.post("/v1/collections", json={"name": "kb", "team": "support"}).status_code == 201
        upload(admin, "kb", broken, SAMPLES / "faq.md")
        docs = {d["source_name"]: d for d in admin.get("/v1/documents", params={"collection": "kb"}).json()}
        failed, ready = docs["broken.pdf"], docs["faq.md"]
        assert failed["status"] == "failed" and ready["status"] == "ready"

        agent = server.client(server.key(Role.AGENT, "support"))
        denied = agent.post(f"/v1/documents/{failed['id']}/retry")
        assert (denied.status_code, denied.json()["detail"]) == (403, "the agent role may not upload")

        curator = server.client(server.key(Role.KNOWLEDGE_MANAGER, "support"))
        again = curator.post(f"/v1/documents/{ready['id']}/retry")
        assert (again.status_code, again.json()["detail"]) == (
            409,
            "only a failed document can be retried; this one is ready",
        )

        retried = curator.post(f"/v1/documents/{failed['id']}/retry")
        assert retried.status_code == 202, retried.text
        body = retried.json()
        assert (body["outcome"], body["document_id"]) == ("queued", failed["id"])
        job = _wait(curator, body["job_id"])
        assert job["state"] == "failed" and job["attempts"] == 1
        assert (
            curator.get(f"/v1/documents/{failed['id']}").json()["failure_reason"] == failed["failure_reason"]
        )
