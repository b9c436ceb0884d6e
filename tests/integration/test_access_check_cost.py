"""A question's access check reads its collections' teams, never the node's counts of documents
and chunks (which scan every chunk row: at a million chunks, more than the search itself)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event

pytestmark = pytest.mark.integration


def test_search_and_ask_read_no_chunk_rows(agent_api: tuple[TestClient, Any, dict[str, str]]) -> None:
    client, services, headers = agent_api
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement.lower())

    engine = services.catalog.db.engine
    event.listen(engine, "before_cursor_execute", seen)
    try:
        searched = client.post("/v1/search", json={"query": "E-104", "collections": ["kb"]}, headers=headers)
        asked = client.post(
            "/v1/ask", json={"question": "What is E-104?", "collections": ["kb"]}, headers=headers
        )
        hidden = client.post(
            "/v1/search", json={"query": "x", "collections": ["finance-kb"]}, headers=headers
        )
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert (searched.status_code, asked.status_code, hidden.status_code) == (200, 200, 404)
    assert hidden.json()["detail"] == "no collection named 'finance-kb'"
    assert any("collections" in s for s in statements)  # the check did read the catalog
    assert not [s for s in statements if "chunks" in s]
