"""Question templates, feedback, review, human overrides, golden sets and insights, through the
real API (uvicorn) on SQLite, and the override's catalog path once on PostgreSQL."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from core.access import Role
from core.settings import Settings
from tests.conftest import SAMPLES
from tests.integration.api_server import Server, serve, upload

pytestmark = pytest.mark.integration

RESET_VALUES = {"product": "T200", "task": "factory reset the thermostat"}
RESET = {"id": "how-to-task", "values": RESET_VALUES}
TAGGED = b"# T200 notes\n\nOn the T200 error E-104 clears after the thermostat restarts twice.\n"
GOLDEN_KEYS = {
    "id",
    "collection",
    "question",
    "template",
    "answerable",
    "expected_answer",
    "expected_sources",
    "origin",
    "notes",
    "expected_facts",
    "category",
}


def _fill(server: Server) -> None:
    admin = server.client(server.admin)
    for name, team in (("support-kb", "support"), ("legal-kb", "legal")):
        assert admin.post("/v1/collections", json={"name": name, "team": team}).status_code == 201
    upload(admin, "support-kb", SAMPLES / "faq.md", SAMPLES / "troubleshooting-guide.html")
    upload(admin, "legal-kb", SAMPLES / "faq.md")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    home = tmp_path_factory.mktemp("review") / "home"
    settings = Settings(
        home=home, embedder="hashing", workers=1, rate_limit_user_per_minute=0, metrics_tenant_labels=True
    )
    with serve(settings) as running:
        _fill(running)
        yield running


@pytest.fixture(scope="module")
def agent(server: Server) -> httpx.Client:
    return server.client(server.key(Role.AGENT, "support"))


@pytest.fixture(scope="module")
def manager(server: Server) -> httpx.Client:
    return server.client(server.key(Role.KNOWLEDGE_MANAGER, "support"))


def _upload_tagged(client: httpx.Client, collection: str, path: Path, tag: str) -> None:
    files = [("files", (path.name, path.read_bytes()))]
    posted = client.post("/v1/documents", data={"collection": collection, "tags": [tag]}, files=files)
    job = posted.json()["results"][0]["job_id"]
    deadline = time.monotonic() + 120
    while client.get(f"/v1/jobs/{job}").json()["state"] not in {"succeeded", "failed"}:
        assert time.monotonic() < deadline, "the tagged upload did not finish"
        time.sleep(0.1)


def _done_event(client: httpx.Client, body: dict[str, Any]) -> dict[str, Any]:
    """The data of the last server-sent event (``done``) of a streamed answer."""
    event, data = "", ""
    with client.stream("POST", "/v1/answers", json=body) as response:
        for line in response.iter_lines():
            if line.startswith("event: "):
                event = line.removeprefix("event: ")
            elif line.startswith("data: "):
                data = line.removeprefix("data: ")
    assert event == "done"
    found: dict[str, Any] = json.loads(data)
    return found


def _template(**changes: Any) -> dict[str, Any]:
    body = {
        "id": "warranty-length",
        "title": "Warranty length",
        "audience": ["support"],
        "fields": [
            {"name": "product", "label": "Product", "kind": "select", "options": ["T100", "T300 Pro"]}
        ],
        "question": "How long is the warranty on the {{ product }}?",
        "answer": {"length": "short", "style": "prose"},
    }
    return body | changes


def test_me_says_who_the_key_belongs_to(server: Server, agent: httpx.Client, manager: httpx.Client) -> None:
    assert agent.get("/v1/me").json() == {
        "user": "agent-support",
        "teams": ["support"],
        "role": "agent",
        "can_manage": False,
        "can_upload": False,
        "can_review": False,
    }
    assert manager.get("/v1/me").json()["can_manage"] is True
    assert server.client().get("/v1/me").status_code == 401


def test_templates_are_versioned_and_only_managers_change_them(
    server: Server, agent: httpx.Client, manager: httpx.Client
) -> None:
    shipped = {t["id"] for t in agent.get("/v1/templates").json()}
    assert {"troubleshoot-error-code", "policy-topic", "how-to-task", "compare-plans"} <= shipped
    denied = agent.post("/v1/templates", json=_template())
    assert (denied.status_code, denied.json()["detail"]) == (403, "the agent role may not manage templates")
    created = manager.post("/v1/templates", json=_template())
    assert created.status_code == 201, created.text
    assert (created.json()["version"], created.json()["updated_by"]) == (1, "knowledge_manager-support")
    changed = manager.put(
        "/v1/templates/warranty-length", json=created.json() | {"title": "Warranty, per model"}
    )
    assert changed.status_code == 200 and changed.json()["version"] == 2
    assert (
        manager.get("/v1/templates/warranty-length", params={"version": 1}).json()["title"]
        == "Warranty length"
    )
    assert agent.get("/v1/templates/warranty-length").json()["title"] == "Warranty, per model"
    legal = server.client(server.key(Role.AGENT, "legal"))
    assert "warranty-length" not in {t["id"] for t in legal.get("/v1/templates").json()}  # not its audience
    assert legal.get("/v1/templates/warranty-length").status_code == 404
    assert manager.delete("/v1/templates/warranty-length").status_code == 204
    assert "warranty-length" not in {t["id"] for t in agent.get("/v1/templates").json()}
    retired = manager.get("/v1/templates", params={"include_retired": True}).json()
    assert [t["retired"] for t in retired if t["id"] == "warranty-length"] == [True]
    gone = agent.post("/v1/ask", json={"template": {"id": "warranty-length", "values": {"product": "T100"}}})
    assert (gone.status_code, gone.json()["detail"]) == (404, "template 'warranty-length' is retired")
    audit = server.client(server.admin).get("/v1/audit").text.splitlines()
    changes = [
        json.loads(line)["action"] for line in audit if '"template.' in line and "warranty-length" in line
    ]
    assert changes == ["template.create", "template.update", "template.retire"]


def test_bad_templates_and_values_get_422_with_a_message_per_problem(manager: httpx.Client) -> None:
    bad = _template(
        id="bad-one",
        fields=[{"name": "product", "kind": "dropdown"}, {"name": "plan", "kind": "select"}],
        question="{{ prodcut }} {{ product.__class__ }}",
    )
    response = manager.post("/v1/templates", json=bad)
    assert response.status_code == 422 and response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"] == [
        {
            "loc": ["fields[0] 'product'"],
            "msg": "unknown field kind 'dropdown'; use one of select, multiselect, radio, text, number, date",
        },
        {"loc": ["fields[1] 'plan'"], "msg": "a select field needs options to choose from"},
        {
            "loc": ["question"],
            "msg": "attribute access ('.__class__') is not allowed in a template; only loop.index and the like",
        },
        {
            "loc": ["question"],
            "msg": "refers to 'prodcut', which is not a field of this template (fields: plan, product)",
        },
    ]
    assert response.json()["detail"].startswith("the template has 4 problems: fields[0] 'product': unknown")
    syntax = manager.post("/v1/templates", json=_template(id="bad-two", question="{% if product %}"))
    assert syntax.status_code == 422 and "Jinja syntax error on line 1" in syntax.json()["detail"]
    assert manager.post("/v1/templates", json=_template(id="ours-to-rename")).status_code == 201
    renamed = manager.put("/v1/templates/ours-to-rename", json=_template(id="other"))
    assert renamed.json()["errors"] == [
        {"loc": ["id"], "msg": "must be 'ours-to-rename' (the template in the path) or left out"}
    ]
    values = manager.post(
        "/v1/templates/troubleshoot-error-code/render", json={"values": {"product": "T900", "colour": "red"}}
    )
    assert values.status_code == 422
    assert [(e["loc"], e["msg"]) for e in values.json()["errors"]] == [
        (["values", "colour"], values.json()["errors"][0]["msg"]),
        (["values", "product"], "Product: 'T900' is not one of the options (T100, T200, T300 Pro)"),
        (["values", "error_code"], "Error code is required"),
    ]
    assert manager.post("/v1/ask", json={"question": "x", "template": RESET}).status_code == 422


def test_a_template_answer_records_its_id_version_and_derived_filters(
    server: Server, agent: httpx.Client, tmp_path: Path
) -> None:
    rendered = agent.post(
        "/v1/templates/troubleshoot-error-code/render",
        json={"values": {"product": "T200", "error_code": "E-104", "only_product_documents": "yes"}},
    ).json()
    assert (
        rendered["question"] == "What does error E-104 mean on the T200, what causes it and how do I fix it?"
    )
    assert rendered["filters"] == {"tags": ["T200"]} and rendered["template"]["version"] == 1
    note = tmp_path / "t200-notes.md"
    note.write_bytes(TAGGED)
    admin = server.client(server.admin)
    _upload_tagged(admin, "support-kb", note, "T200")
    body = {
        "template": {
            "id": "troubleshoot-error-code",
            "values": {"product": "T200", "error_code": "E-104", "only_product_documents": "yes"},
        }
    }
    answer = agent.post("/v1/ask", json=body).json()
    assert answer["template"] == {"id": "troubleshoot-error-code", "version": 1}
    assert answer["question"] == rendered["question"] and answer["answer_id"]
    assert {p["source_name"] for p in answer["passages"]} == {"t200-notes.md"}  # the product's tag
    everywhere = dict(body["template"]["values"]) | {"only_product_documents": "no"}
    unfiltered = agent.post(
        "/v1/answers", json={"template": body["template"] | {"values": everywhere}}
    ).json()
    assert len({p["source_name"] for p in unfiltered["passages"]}) > 1  # no tag filter: every document
    entries = [json.loads(line) for line in admin.get("/v1/audit").text.splitlines()]
    asked = next(e for e in entries if e["detail"] and e["detail"].get("answer_id") == answer["answer_id"])
    assert asked["detail"]["template"][:2] == ["troubleshoot-error-code", 1]
    assert asked["detail"]["filters"]["tags"] == ["T200"]


def test_feedback_review_and_approval_serve_the_reviewed_answer_to_the_team_only(
    server: Server, agent: httpx.Client, manager: httpx.Client
) -> None:
    body = {"template": RESET, "collections": ["support-kb"]}
    first = agent.post("/v1/answers", json=body).json()
    assert first["reviewed"] is None
    feedback = agent.post(
        f"/v1/answers/{first['answer_id']}/feedback",
        json={"helpful": False, "reason": "wrong", "flag": False, "comment": "it is 10 seconds"},
    )
    assert feedback.status_code == 201
    legal_agent = server.client(server.key(Role.AGENT, "legal"))
    stranger = legal_agent.post(f"/v1/answers/{first['answer_id']}/feedback", json={"helpful": True})
    assert (stranger.status_code, stranger.json()["detail"]) == (
        404,
        f"no answer with id {first['answer_id']!r}",
    )
    assert agent.get("/v1/review").status_code == 403
    legal_manager = server.client(server.key(Role.KNOWLEDGE_MANAGER, "legal"))
    assert legal_manager.get("/v1/review").json() == []
    [item] = [i for i in manager.get("/v1/review").json() if i["answer_id"] == first["answer_id"]]
    assert (item["reason"], item["comment"], item["template"]) == (
        "wrong",
        "it is 10 seconds",
        {"id": "how-to-task", "version": 1},
    )
    assert item["values"]["product"] == "T200" and item["state"] == "open"

    faq = next(d for d in manager.get("/v1/documents").json() if d["source_name"] == "faq.md")
    missing = manager.post(f"/v1/review/{item['id']}", json={"verdict": "wrong", "approve": True})
    assert missing.status_code == 422
    assert missing.json()["errors"] == [
        {"loc": ["correct_answer"], "msg": "an answer marked wrong needs the correct answer to be approved"}
    ]
    correction = "Press and hold the dial for 10 seconds, then choose Factory reset."
    reviewed = manager.post(
        f"/v1/review/{item['id']}",
        json={
            "verdict": "wrong",
            "correct_answer": correction,
            "correct_sources": [{"document_id": faq["id"], "pages": [1]}],
            "approve": True,
        },
    )
    assert reviewed.status_code == 200 and reviewed.json()["state"] == "closed"
    assert item["id"] not in {i["id"] for i in manager.get("/v1/review").json()}
    assert item["id"] in {i["id"] for i in manager.get("/v1/review", params={"state": "closed"}).json()}

    again = agent.post("/v1/answers", json=body).json()
    assert again["answer"] == f"{correction} [1]"
    assert again["reviewed"]["by"] == "knowledge_manager-support" and again["reviewed"]["verdict"] == "wrong"
    assert datetime.fromisoformat(again["reviewed"]["at"]) > datetime.now(UTC) - timedelta(minutes=5)
    assert (
        again["citations"][0]["document_id"] == faq["id"]
        and again["provenance"]["generator"] == "human review"
    )
    streamed = _done_event(agent, body | {"stream": True})
    assert streamed["answer_id"] and streamed["answer_id"] != again["answer_id"]
    assert (
        streamed["reviewed"]["by"] == "knowledge_manager-support"
        and streamed["question"] == again["question"]
    )
    assert streamed["template"] == {"id": "how-to-task", "version": 1} and streamed["latency_ms"] >= 0
    metrics = server.client().get("/metrics").text  # template labels: the operator opted in
    assert 'sourcebook_answers_total{source="reviewed",template="how-to-task"} 2.0' in metrics
    colleague = server.client(server.key(Role.AGENT, "support", "tier2"))
    assert colleague.post("/v1/answers", json=body).json()["reviewed"] is None  # a different access scope
    other_team = legal_agent.post("/v1/answers", json={"template": RESET}).json()
    assert other_team["reviewed"] is None and correction not in other_team["answer"]
    other_values = agent.post(
        "/v1/answers",
        json=body
        | {
            "template": {
                "id": "how-to-task",
                "values": {"product": "T100", "task": "factory reset the thermostat"},
            }
        },
    ).json()
    assert other_values["reviewed"] is None

    promoted = manager.post(f"/v1/review/{item['id']}/promote", json={"golden_set": "support-regressions"})
    assert promoted.status_code == 200
    assert manager.get("/v1/golden").json() == ["support-regressions"]
    export = manager.get("/v1/golden/support-regressions")
    assert export.headers["content-type"].startswith("application/x-ndjson")
    [case] = [json.loads(line) for line in export.text.splitlines()]
    assert set(case) == GOLDEN_KEYS and case["id"] == promoted.json()["case_id"]
    assert case["collection"] == "support-kb" and case["origin"] == "review" and case["answerable"] is True
    assert case["expected_answer"] == correction
    assert case["expected_facts"] == [] and case["category"] == "uncategorised"  # a person labels it later
    assert case["expected_sources"] == [{"source_name": "faq.md", "document_id": faq["id"], "pages": [1]}]
    assert case["template"] == {
        "id": "how-to-task",
        "version": 1,
        "values": RESET_VALUES | {"role": "customer"},
    }
    assert case["question"] == "How do I factory reset the thermostat on the T200?"
    assert legal_manager.get("/v1/golden/support-regressions").status_code == 404


def test_an_item_is_reviewed_before_it_is_promoted(agent: httpx.Client, manager: httpx.Client) -> None:
    asked = agent.post("/v1/ask", json={"question": "Which voice assistants work with Northwind?"}).json()
    agent.post(f"/v1/answers/{asked['answer_id']}/feedback", json={"helpful": True, "flag": True})
    [item] = [i for i in manager.get("/v1/review").json() if i["answer_id"] == asked["answer_id"]]
    early = manager.post(f"/v1/review/{item['id']}/promote", json={"golden_set": "x"})
    assert (early.status_code, early.json()["detail"]) == (
        409,
        "review this item (right or wrong) before promoting it",
    )
    assert (
        manager.post(f"/v1/review/{item['id']}", json={"verdict": "right", "approve": True}).status_code
        == 200
    )
    again = agent.post("/v1/ask", json={"question": "which voice assistants work with Northwind"}).json()
    assert again["reviewed"]["verdict"] == "right" and again["answer"] == asked["answer"]
    hidden = manager.post(
        f"/v1/review/{item['id']}/promote", json={"golden_set": "x", "collection": "legal-kb"}
    )
    assert (hidden.status_code, hidden.json()["detail"]) == (404, "no collection named 'legal-kb'")
    named = manager.post(
        f"/v1/review/{item['id']}/promote", json={"golden_set": "x", "collection": "support-kb"}
    )
    [case] = [json.loads(line) for line in manager.get("/v1/golden/x").text.splitlines()]
    assert case["id"] == named.json()["case_id"] and case["collection"] == "support-kb"
    assert case["answerable"] is not asked["refused"] and case["template"] is None
    assert all(p >= 1 for source in case["expected_sources"] for p in source["pages"])


def test_insights_count_a_small_known_set(server: Server) -> None:
    admin = server.client(server.admin)
    assert admin.post("/v1/collections", json={"name": "ops-kb", "team": "ops"}).status_code == 201
    upload(admin, "ops-kb", SAMPLES / "faq.md")
    ann = server.client(server.key(Role.AGENT, "ops"))
    bob = server.client(server.key(Role.ENGINEER, "ops"))
    questions = [
        (ann, {"question": "How many thermostats can one account hold?"}),
        (ann, {"template": {"id": "policy-topic", "values": {"topic": "how long a refund takes"}}}),
        (bob, {"question": "What colour is the moon over Bristol in winter?"}),
    ]
    answers = [client.post("/v1/ask", json=body).json() for client, body in questions]
    for (client, _), answer, helpful in zip(questions, answers, (True, False, None), strict=True):
        if helpful is not None:
            vote = {"helpful": helpful, "flag": not helpful}
            assert client.post(f"/v1/answers/{answer['answer_id']}/feedback", json=vote).status_code == 201
    today = datetime.now(UTC).date().isoformat()
    found = admin.get("/v1/insights", params={"team": "ops", "since": today, "until": today}).json()
    latencies = sorted(a["latency_ms"] for a in answers)
    refused = sum(a["refused"] for a in answers)
    escalated = sum(a["refused"] or n == 1 for n, a in enumerate(answers))
    assert found["totals"] == {
        "questions": 3,
        "active_users": 2,
        "helpful_rate": 0.5,
        "refusal_rate": round(refused / 3, 4),
        "escalation_rate": round(escalated / 3, 4),
        "p50_ms": latencies[1],
        "p95_ms": latencies[2],
    }
    [day] = found["days"]
    assert (day["date"], day["questions"], day["helpful"], day["unhelpful"]) == (today, 3, 1, 1)
    assert found["templates"] == [
        {"id": "policy-topic", "title": "What does the policy say?", "questions": 1, "helpful_rate": 0.0}
    ]
    usage = {(u.get("team") or u.get("user")): u for u in found["usage"]}
    assert usage["ops"]["requests"] == 3 and usage["agent-ops"]["requests"] == 2
    assert usage["agent-ops"]["credits"] >= 2
    assert ann.get("/v1/insights", params={"team": "support"}).status_code == 403
    mine = ann.get("/v1/insights", params={"since": today}).json()
    assert mine["totals"]["questions"] == 2  # an agent sees their own questions
    assert bob.get("/v1/insights").json()["totals"]["questions"] == 3  # an engineer sees the team's
    wrong = admin.get("/v1/insights", params={"since": today, "until": "2020-01-01"})
    assert wrong.status_code == 400 and wrong.json()["detail"].startswith("since (")


def test_a_reviewed_answer_is_served_on_postgresql(postgres_url: str, tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home", database_url=postgres_url, embedder="hashing", workers=1)
    with serve(settings) as running:
        admin = running.client(running.admin)
        assert admin.post("/v1/collections", json={"name": "kb", "team": "support"}).status_code == 201
        agent = running.client(running.key(Role.AGENT, "support"))
        body = {"template": {"id": "policy-topic", "values": {"topic": "how long a refund takes"}}}
        first = agent.post("/v1/ask", json=body).json()
        assert first["template"]["version"] == 1
        agent.post(
            f"/v1/answers/{first['answer_id']}/feedback", json={"helpful": False, "reason": "incomplete"}
        )
        [item] = admin.get("/v1/review").json()
        admin.post(
            f"/v1/review/{item['id']}",
            json={"verdict": "wrong", "correct_answer": "7 business days.", "approve": True},
        )
        assert agent.post("/v1/ask", json=body).json()["answer"] == "7 business days."
        today = datetime.now(UTC).date().isoformat()
        totals = admin.get("/v1/insights", params={"since": today}).json()["totals"]
        assert (totals["questions"], totals["helpful_rate"]) == (2, 0.0)
