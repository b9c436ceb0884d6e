from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from core.access import Role
from core.settings import Settings
from sourcebook.wiring import create_api


@pytest.fixture
def agent_api(settings: Settings) -> Iterator[tuple[TestClient, Any, dict[str, str]]]:
    """The API in process, ready, with a collection "kb" of team support and an agent's headers."""
    with TestClient(create_api(settings)) as client:
        services = client.app.state.services  # type: ignore[attr-defined]
        services.catalog.ensure_collection("kb", team="support")
        key = services.keys.issue("agent", Role.AGENT, ("support",)).secret
        while client.get("/readyz").status_code != 200:
            time.sleep(0.05)
        yield client, services, {"Authorization": f"Bearer {key}"}
