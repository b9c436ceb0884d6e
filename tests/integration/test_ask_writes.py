"""An answer's writes (its credits, its row, its audit entry) are one write to the catalog, and
all three have committed by the time the answer comes back."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

pytestmark = pytest.mark.integration


def test_an_answer_is_one_write_committed_before_it_returns(
    agent_api: tuple[TestClient, Any, dict[str, str]],
) -> None:
    client, services, headers = agent_api
    group = services.catalog.db.group
    before = group.writes
    asked = client.post(
        "/v1/ask", json={"question": "What is E-104?", "collections": ["kb"]}, headers=headers
    )
    writes = group.writes - before
    assert asked.status_code == 200, asked.text
    answer_id = asked.json()["answer_id"]
    assert services.answers.get(answer_id).question == "What is E-104?"
    (entry,) = [e for e in services.audit.entries(action="question") if e.actor == "agent"]
    assert entry.detail["answer_id"] == answer_id
    assert services.quotas.usage("user", "agent")["credits_used"] == 1
    assert services.quotas.usage("team", "support")["credits_used"] == 1
    # The rate limits' counters when the question came in, then the answer's three together.
    assert writes == 2
