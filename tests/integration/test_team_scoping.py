"""Templates, collection names, golden sets and /metrics stay inside their team: two teams
(support, finance) against one real API server (uvicorn), each cross-team attempt made as a
hostile knowledge manager or agent of the other team would make it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from core.access import Role
from core.settings import Settings
from tests.integration.api_server import Server, serve, upload

pytestmark = pytest.mark.integration

CLOSE = "month-end-close"  # finance's own template
NOTES = {
    "support": b"# Support notes\n\nA T200 that shows E-104 clears the error after two restarts.\n",
    "finance": b"# Close checklist\n\nThe month-end close locks the ledger on the third working day.\n",
}


def _template(template_id: str, **changes: Any) -> dict[str, Any]:
    body = {
        "id": template_id,
        "title": "Month-end close",
        "fields": [{"name": "step", "label": "Step", "kind": "select", "options": ["lock", "report"]}],
        "question": "When does the month-end close {{ step }} the ledger?",
    }
    return body | changes


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("teams")
    settings = Settings(home=root / "home", embedder="hashing", workers=1, rate_limit_user_per_minute=0)
    with serve(settings) as running:
        admin = running.client(running.admin)
        for team, text in NOTES.items():
            created = admin.post("/v1/collections", json={"name": f"{team}-kb", "team": team})
            assert created.status_code == 201, created.text
            note = root / f"{team}-notes.md"
            note.write_bytes(text)
            upload(admin, f"{team}-kb", note)
        yield running


@pytest.fixture(scope="module")
def keys(server: Server) -> dict[str, httpx.Client]:
    """A knowledge manager and an agent of each team."""
    return {
        f"{team}-{label}": server.client(server.key(role, team))
        for team in ("support", "finance")
        for label, role in (("manager", Role.KNOWLEDGE_MANAGER), ("agent", Role.AGENT))
    }


@pytest.fixture(scope="module")
def close(keys: dict[str, httpx.Client]) -> dict[str, Any]:
    """Finance's template; a finance manager in one team needs not name the team."""
    created = keys["finance-manager"].post("/v1/templates", json=_template(CLOSE, collections=["finance-kb"]))
    assert created.status_code == 201, created.text
    found: dict[str, Any] = created.json()
    assert (found["team"], found["version"]) == ("finance", 1)
    return found


def _detail(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, str(response.json().get("detail"))


def test_another_teams_template_is_not_listed_read_asked_changed_or_retired(
    keys: dict[str, httpx.Client], close: dict[str, Any]
) -> None:
    manager, agent = keys["support-manager"], keys["support-agent"]
    missing = (404, f"no template {CLOSE!r}")
    for client in (manager, agent):
        for params in ({}, {"include_retired": "true"}):
            listed = client.get("/v1/templates", params=params)
            assert listed.status_code == 200 and CLOSE not in {t["id"] for t in listed.json()}
        assert _detail(client.get(f"/v1/templates/{CLOSE}")) == missing
        assert _detail(client.get(f"/v1/templates/{CLOSE}", params={"version": 1})) == missing
        assert (
            _detail(client.post(f"/v1/templates/{CLOSE}/render", json={"values": {"step": "lock"}}))
            == missing
        )
        asked = client.post("/v1/ask", json={"template": {"id": CLOSE, "values": {"step": "lock"}}})
        assert _detail(asked) == missing
        pinned = client.post("/v1/answers", json={"template": {"id": CLOSE, "version": 1, "values": {}}})
        assert _detail(pinned) == missing
    # the same answer as for an id nobody has: the id is not confirmed
    assert _detail(manager.get("/v1/templates/no-such-template")) == (404, "no template 'no-such-template'")
    changed = manager.put(f"/v1/templates/{CLOSE}", json=_template(CLOSE, title="Hijacked"))
    assert _detail(changed) == missing
    assert _detail(manager.delete(f"/v1/templates/{CLOSE}")) == missing
    finance = keys["finance-agent"].get(f"/v1/templates/{CLOSE}").json()
    assert (finance["title"], finance["version"], finance["retired"]) == ("Month-end close", 1, False)
    offered = keys["finance-agent"].post(
        "/v1/ask", json={"template": {"id": CLOSE, "values": {"step": "lock"}}}
    )
    assert offered.status_code == 200 and offered.json()["template"] == {"id": CLOSE, "version": 1}


def test_a_template_is_made_only_for_ones_own_team_and_its_collections(
    server: Server, keys: dict[str, httpx.Client], close: dict[str, Any]
) -> None:
    manager = keys["support-manager"]
    foreign = manager.post("/v1/templates", json=_template("planted", team="finance"))
    assert _detail(foreign) == (403, "not a member of team 'finance'")
    hidden = manager.post("/v1/templates", json=_template("peek", collections=["finance-kb"]))
    nowhere = manager.post("/v1/templates", json=_template("peek", collections=["no-such-kb"]))
    assert hidden.status_code == nowhere.status_code == 422
    assert hidden.json()["errors"] == [
        {"loc": ["collections"], "msg": "names no collection 'finance-kb' you can see"}
    ]
    assert nowhere.json()["errors"] == [
        {"loc": ["collections"], "msg": "names no collection 'no-such-kb' you can see"}
    ]
    # a taken id gets the same words whichever team holds it
    ours = manager.post("/v1/templates", json=_template("support-own", collections=["support-kb"]))
    assert ours.status_code == 201 and ours.json()["team"] == "support"
    theirs = _detail(manager.post("/v1/templates", json=_template(CLOSE)))
    again = _detail(manager.post("/v1/templates", json=_template("support-own")))
    assert theirs == (409, again[1].replace("'support-own'", repr(CLOSE))) and theirs[0] == 409
    assert "finance" not in theirs[1]
    moved = manager.put("/v1/templates/support-own", json=ours.json() | {"team": "finance"})
    assert moved.status_code == 422 and moved.json()["errors"][0]["loc"] == ["team"]
    both = server.client(server.key(Role.KNOWLEDGE_MANAGER, "support", "finance"))
    unnamed = both.post("/v1/templates", json=_template("either"))
    assert unnamed.status_code == 422 and unnamed.json()["errors"] == [
        {"loc": ["team"], "msg": "is required: you are a member of several teams or none (finance, support)"}
    ]
    mixed = both.post("/v1/templates", json=_template("either", team="support", collections=["finance-kb"]))
    assert mixed.json()["errors"] == [
        {"loc": ["collections"], "msg": "names collection 'finance-kb', which is not in team 'support'"}
    ]
    assert both.post("/v1/templates", json=_template("either", team="support")).json()["team"] == "support"
    assert CLOSE not in {t["id"] for t in keys["support-agent"].get("/v1/templates").json()}
    assert "support-own" in {t["id"] for t in keys["support-agent"].get("/v1/templates").json()}
    assert "support-own" not in {t["id"] for t in keys["finance-manager"].get("/v1/templates").json()}


def test_global_templates_are_offered_to_every_team_and_changed_by_admins_only(
    server: Server, keys: dict[str, httpx.Client]
) -> None:
    for team in ("support", "finance"):
        offered = {t["id"]: t for t in keys[f"{team}-agent"].get("/v1/templates").json()}
        assert offered["policy-topic"]["team"] is None  # the shipped set is global
    manager = keys["support-manager"]
    shipped = manager.get("/v1/templates/policy-topic").json()
    refused = (403, "template 'policy-topic' is global: only admins change or retire it")
    assert _detail(manager.put("/v1/templates/policy-topic", json=shipped | {"title": "Ours now"})) == refused
    assert _detail(manager.delete("/v1/templates/policy-topic")) == refused
    admin = server.client(server.admin)
    made = admin.post("/v1/templates", json=_template("ledger-lookup", collections=["finance-kb"]))
    assert made.status_code == 201 and made.json()["team"] is None
    # global, but it names a collection support cannot see: not offered to support
    assert "ledger-lookup" in {t["id"] for t in keys["finance-agent"].get("/v1/templates").json()}
    for client in (keys["support-agent"], manager):
        assert "ledger-lookup" not in {t["id"] for t in client.get("/v1/templates").json()}
        assert _detail(client.get("/v1/templates/ledger-lookup")) == (404, "no template 'ledger-lookup'")
    changed = admin.put("/v1/templates/ledger-lookup", json=made.json() | {"title": "Ledger lookup"})
    assert (changed.json()["version"], changed.json()["team"]) == (2, None)
    assert admin.delete("/v1/templates/ledger-lookup").status_code == 204


def test_a_collection_name_taken_by_another_team_is_refused_without_naming_it(
    keys: dict[str, httpx.Client],
) -> None:
    manager = keys["support-manager"]
    theirs = manager.post("/v1/collections", json={"name": "finance-kb", "team": "support"})
    ours = manager.post("/v1/collections", json={"name": "support-kb", "team": "support"})
    assert _detail(theirs) == (409, "the collection name 'finance-kb' is taken: choose another name")
    assert _detail(ours) == (409, "the collection name 'support-kb' is taken: choose another name")
    assert {c["name"] for c in manager.get("/v1/collections").json()} == {"support-kb"}
    finance = keys["finance-manager"].get("/v1/collections/finance-kb").json()
    assert (finance["team"], finance["pii_policy"]) == ("finance", "allow")  # untouched


def _golden_case(agent: httpx.Client, manager: httpx.Client, question: str, golden_set: str) -> str:
    asked = agent.post("/v1/ask", json={"question": question}).json()
    vote = {"helpful": False, "flag": True}
    assert agent.post(f"/v1/answers/{asked['answer_id']}/feedback", json=vote).status_code == 201
    [item] = [i for i in manager.get("/v1/review").json() if i["answer_id"] == asked["answer_id"]]
    assert manager.post(f"/v1/review/{item['id']}", json={"verdict": "right"}).status_code == 200
    promoted = manager.post(f"/v1/review/{item['id']}/promote", json={"golden_set": golden_set})
    assert promoted.status_code == 200, promoted.text
    case_id: str = promoted.json()["case_id"]
    return case_id


def test_golden_set_names_are_each_teams_own(server: Server, keys: dict[str, httpx.Client]) -> None:
    support = _golden_case(
        keys["support-agent"], keys["support-manager"], "What clears E-104?", "regressions"
    )
    finance = _golden_case(
        keys["finance-agent"], keys["finance-manager"], "When is the ledger locked?", "regressions"
    )
    _golden_case(keys["finance-agent"], keys["finance-manager"], "When does the close start?", "close-audit")
    assert keys["support-manager"].get("/v1/golden").json() == ["regressions"]
    assert keys["finance-manager"].get("/v1/golden").json() == ["close-audit", "regressions"]
    for team, case in (("support", support), ("finance", finance)):
        lines = keys[f"{team}-manager"].get("/v1/golden/regressions").text.splitlines()
        assert [case in line for line in lines] == [True]  # its own case only
    assert _detail(keys["support-manager"].get("/v1/golden/close-audit")) == (
        404,
        "no golden set named 'close-audit'",
    )
    named = keys["support-manager"].get("/v1/golden/regressions", params={"team": "finance"})
    assert _detail(named) == (404, "no golden set named 'regressions'")
    admin = server.client(server.admin)
    assert admin.get("/v1/golden").json() == ["close-audit", "regressions"]
    only = admin.get("/v1/golden/regressions", params={"team": "finance"}).text.splitlines()
    assert len(only) == 1 and finance in only[0]


def test_metrics_carry_no_template_ids_unless_an_operator_opts_in(
    server: Server, keys: dict[str, httpx.Client], close: dict[str, Any]
) -> None:
    asked = keys["finance-agent"].post(
        "/v1/ask", json={"template": {"id": CLOSE, "values": {"step": "report"}}}
    )
    assert asked.status_code == 200
    metrics = server.client().get("/metrics").text
    assert "sourcebook_answers_total{source=" in metrics
    assert CLOSE not in metrics and "template=" not in metrics
    for path in ("/healthz", "/readyz"):
        assert CLOSE not in server.client().get(path).text


def test_a_template_whose_collection_is_gone_is_offered_only_to_those_who_can_mend_it(
    keys: dict[str, httpx.Client],
) -> None:
    manager, agent = keys["support-manager"], keys["support-agent"]
    assert (
        manager.post("/v1/collections", json={"name": "support-scratch", "team": "support"}).status_code
        == 201
    )
    made = manager.post("/v1/templates", json=_template("scratch-lookup", collections=["support-scratch"]))
    assert made.status_code == 201, made.text
    assert "scratch-lookup" in {t["id"] for t in agent.get("/v1/templates").json()}
    assert manager.delete("/v1/collections/support-scratch").status_code == 204
    assert "scratch-lookup" not in {t["id"] for t in agent.get("/v1/templates").json()}
    assert _detail(agent.get("/v1/templates/scratch-lookup")) == (404, "no template 'scratch-lookup'")
    assert "scratch-lookup" in {t["id"] for t in manager.get("/v1/templates").json()}
    mended = manager.put("/v1/templates/scratch-lookup", json=made.json() | {"collections": ["support-kb"]})
    assert mended.status_code == 200 and mended.json()["version"] == 2
    assert "scratch-lookup" in {t["id"] for t in agent.get("/v1/templates").json()}


def test_templates_golden_sets_and_collection_names_stay_in_their_team_on_postgresql(
    postgres_url: str, tmp_path: Path
) -> None:
    settings = Settings(home=tmp_path / "home", database_url=postgres_url, embedder="hashing", workers=1)
    with serve(settings) as running:
        admin = running.client(running.admin)
        for team in ("support", "finance"):
            assert admin.post("/v1/collections", json={"name": f"{team}-kb", "team": team}).status_code == 201
        finance = running.client(running.key(Role.KNOWLEDGE_MANAGER, "finance"))
        support = running.client(running.key(Role.KNOWLEDGE_MANAGER, "support"))
        made = finance.post("/v1/templates", json=_template(CLOSE, collections=["finance-kb"]))
        assert made.status_code == 201 and made.json()["team"] == "finance"
        listed = {t["id"]: t["team"] for t in support.get("/v1/templates").json()}
        assert CLOSE not in listed and listed["policy-topic"] is None
        assert _detail(support.delete(f"/v1/templates/{CLOSE}")) == (404, f"no template {CLOSE!r}")
        taken = support.post("/v1/collections", json={"name": "finance-kb", "team": "support"})
        assert _detail(taken) == (409, "the collection name 'finance-kb' is taken: choose another name")
        agent = running.client(running.key(Role.AGENT, "finance"))
        asked = agent.post("/v1/ask", json={"template": {"id": CLOSE, "values": {"step": "lock"}}}).json()
        agent.post(f"/v1/answers/{asked['answer_id']}/feedback", json={"helpful": False, "flag": True})
        [item] = finance.get("/v1/review").json()
        assert finance.post(f"/v1/review/{item['id']}", json={"verdict": "right"}).status_code == 200
        promoted = finance.post(f"/v1/review/{item['id']}/promote", json={"golden_set": "close-audit"})
        assert promoted.status_code == 200, promoted.text
        assert (finance.get("/v1/golden").json(), support.get("/v1/golden").json()) == (["close-audit"], [])
