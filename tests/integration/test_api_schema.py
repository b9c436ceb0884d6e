"""Property-based requests generated from the app's own OpenAPI (schemathesis): never a 500.

Every operation of the schema is called with requests that fit it (positive) and requests that
break it (negative), authenticated with a real admin key so that they reach the handlers, with
rate limits off so that they are not answered 429 first, on PostgreSQL (stricter about text
than SQLite). Path parameters are generated, and for reads they are also the ids of a real
document, answer, review item, template and job, so the handlers behind the 404 run too. The
seed is fixed; ``SOURCEBOOK_FUZZ_EXAMPLES`` (default 25 per operation and mode) runs it deeper.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, seed, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from core.access import Role
from core.settings import Settings
from tests.conftest import SAMPLES
from tests.integration.api_server import Server, serve, upload

pytestmark = [pytest.mark.integration, pytest.mark.slow]

EXAMPLES = int(os.environ.get("SOURCEBOOK_FUZZ_EXAMPLES", "25"))
SEED = 20261130


@pytest.fixture
def fuzz_server(tmp_path: Path, postgres_url: str) -> Iterator[tuple[Server, dict[str, str]]]:
    settings = Settings(
        home=tmp_path / "home",
        database_url=postgres_url,
        embedder="hashing",
        workers=1,
        reranker="none",
        rate_limit_user_per_minute=0,
        rate_limit_team_per_minute=0,
    )
    with serve(settings) as running:
        admin = running.client(running.admin)
        for name, team in (("kb", "support"), ("ledger", "finance")):
            assert admin.post("/v1/collections", json={"name": name, "team": team}).status_code == 201
        (result,) = upload(admin, "kb", SAMPLES / "faq.md")
        agent = running.client(running.key(Role.AGENT, "support"))
        answer = agent.post("/v1/ask", json={"question": "How long is the warranty?"}).json()
        agent.post(f"/v1/answers/{answer['answer_id']}/feedback", json={"helpful": False, "flag": True})
        item = admin.get("/v1/review").json()[0]
        template = admin.get("/v1/templates").json()[0]
        real = {
            "document_id": str(result["document_id"]),
            "job_id": str(result["job_id"]),
            "answer_id": answer["answer_id"],
            "item_id": item["id"],
            "template_id": template["id"],
            "name": "kb",
            "page": "1",
        }
        yield running, real


def test_no_generated_request_gets_a_server_error(fuzz_server: tuple[Server, dict[str, str]]) -> None:
    server, real = fuzz_server
    schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json")
    headers = {"Authorization": f"Bearer {server.admin}"}
    session = requests.Session()  # one keep-alive connection: a 500 must not drop it either
    cases: Counter[str] = Counter()
    errors: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]

    def check(case: schemathesis.Case) -> None:
        cases[case.operation.label] += 1
        try:
            response = case.call(base_url=server.url, headers=headers, session=session, timeout=60)
        except requests.ConnectionError as exc:  # the server dropped the connection
            errors.append(f"{case.operation.label} {case.path_parameters} {case.query}: {exc}")
            return
        if response.status_code >= 500:
            body = str(case.body)[:200] if case.body is not None else ""
            errors.append(
                f"{response.status_code} {case.method} {case.formatted_path} {case.query} {body}: "
                f"{response.text[:200]}"
            )

    for operation in operations:
        names = {parameter.name for parameter in operation.path_parameters}
        fixed: list[dict[str, Any] | None] = [None]
        if names and names <= set(real) and operation.method.upper() in {"GET", "POST", "PUT", "PATCH"}:
            fixed.append({name: real[name] for name in names})
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            for path_parameters in fixed:
                strategy = operation.as_strategy(generation_mode=mode, path_parameters=path_parameters)
                run = seed(SEED)(
                    settings(
                        max_examples=EXAMPLES,
                        deadline=None,
                        suppress_health_check=list(HealthCheck),
                        database=None,
                    )(given(case=strategy)(check))
                )
                try:
                    run()
                except Unsatisfiable:
                    assert mode is GenerationMode.NEGATIVE  # nothing to break in an operation without input
    session.close()
    print(
        f"\nfuzzed {sum(cases.values())} requests over {len(cases)} operations; {len(errors)} server errors"
    )
    assert len(operations) >= 35, "the schema lost operations"
    assert set(cases) == {operation.label for operation in operations}, "an operation was never called"
    assert errors == [], "\n".join(errors[:50])
