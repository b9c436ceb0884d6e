"""Property-based requests generated from the app's own OpenAPI (schemathesis): never a 500."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from core.settings import Settings
from tests.conftest import SAMPLES
from tests.integration.api_server import Server, serve, upload

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    home = tmp_path_factory.mktemp("fuzz") / "home"
    with serve(Settings(home=home, embedder="hashing", workers=1, reranker="none")) as running:
        admin = running.client(running.admin)
        admin.post("/v1/collections", json={"name": "kb", "team": "support"})
        upload(admin, "kb", SAMPLES / "faq.md")
        yield running


def test_no_generated_request_gets_a_server_error(fuzz_server: Server) -> None:
    schema = schemathesis.openapi.from_url(f"{fuzz_server.url}/openapi.json")
    headers = {"Authorization": f"Bearer {fuzz_server.admin}"}
    checked = 0
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def no_server_error(case: schemathesis.Case) -> None:
            response = case.call(base_url=fuzz_server.url, headers=headers)
            assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.text[:300]}"

        no_server_error()
        checked += 1
    assert checked >= 12, "the schema lost operations"
