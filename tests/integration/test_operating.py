"""Operating one node: a real ``sourcebook serve`` process on a temp data folder, and the CLI run as
a subprocess beside it on the same folder (keys, catalog commands, questions, ingestion), the
readiness of a restarted server, document stages and the audit of uploads cut short."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT, SAMPLES
from tests.integration.api_server import _free_port

pytestmark = pytest.mark.integration


@dataclass
class Node:
    home: Path
    env: dict[str, str]
    url: str = ""
    process: subprocess.Popen[bytes] | None = None
    admin: str = ""

    def cli(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "sourcebook.cli", *args],
            env=self.env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def start(self, *, wait_ready: bool = True) -> None:
        port = _free_port()
        self.url = f"http://127.0.0.1:{port}"
        log = (self.home.parent / "serve.log").open("a")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "sourcebook.cli", "serve", "--port", str(port)],
            env=self.env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + 240
        while not self._answers("/readyz" if wait_ready else "/healthz"):
            assert self.process.poll() is None, self.log()
            assert time.monotonic() < deadline, self.log()
            time.sleep(0.05)
        self.admin = (self.home / "admin-key.txt").read_text().strip()

    def _answers(self, path: str) -> bool:
        try:
            return httpx.get(self.url + path, timeout=5).status_code == 200
        except httpx.TransportError:
            return False

    def stop(self, sig: int = signal.SIGINT) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def log(self) -> str:
        return (self.home.parent / "serve.log").read_text()

    def client(self, key: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {key or self.admin}"}
        return httpx.Client(base_url=self.url, headers=headers, timeout=120)

    def audit(self) -> list[dict[str, object]]:
        with self.client() as client:
            response = client.get("/v1/audit")
        assert response.status_code == 200, response.text
        return [json.loads(line) for line in response.text.splitlines()]


def _node(tmp_path: Path, **env: str) -> Node:
    home = tmp_path / "home"
    variables = {
        **os.environ,
        "SOURCEBOOK_HOME": str(home),
        "SOURCEBOOK_EMBEDDER": "hashing",
        "SOURCEBOOK_WORKERS": "1",
        "PYTHONPATH": str(ROOT),
        **env,
    }
    return Node(home, variables)


@pytest.fixture
def node(tmp_path: Path) -> Iterator[Node]:
    running = _node(tmp_path)
    running.start()
    try:
        yield running
    finally:
        running.stop()


def test_catalog_commands_work_while_serving_without_opening_the_store(node: Node) -> None:
    # A server started some other way leaves no card: these commands then open the catalog
    # themselves, and must not open the vector store the server holds.
    card = node.home / "server.json"
    card.unlink(missing_ok=True)
    created = node.cli("keys", "create", "--team", "support", "--role", "agent", "--user", "ana")
    assert created.returncode == 0, created.stderr
    secret = created.stdout.strip().splitlines()[-1]
    assert secret.startswith("sb_")
    for command in (["collections"], ["audit", "verify"], ["keys", "list"]):
        done = node.cli(*command)
        assert done.returncode == 0, (command, done.stderr)
        assert "open in another process" not in done.stderr
    listed = node.cli("keys", "list")
    assert "ana" in listed.stdout
    key_id = secret.split("_")[1]
    assert node.cli("keys", "revoke", key_id).returncode == 0
    with node.client(secret) as client:  # the server's cache may hold it up to 30 s: not asked yet
        assert client.get("/v1/me").status_code == 401


def test_keys_through_the_server_and_its_admin_routes(node: Node) -> None:
    with node.client() as admin:
        made = admin.post("/v1/keys", json={"role": "knowledge_manager", "teams": ["support"], "user": "kim"})
        assert made.status_code == 201, made.text
        kim = made.json()
        assert kim["secret"].startswith(f"sb_{kim['key_id']}_") and kim["teams"] == ["support"]
        listed = admin.get("/v1/keys").json()
        assert {"key_id", "user", "role", "teams", "last_used_at"} <= set(listed[0])
        assert all("secret" not in k and "key_hash" not in k for k in listed)
        assert kim["key_id"] in {k["key_id"] for k in listed}
        with node.client(kim["secret"]) as as_kim:
            assert as_kim.get("/v1/me").status_code == 200
            assert as_kim.get("/v1/keys").status_code == 403  # knowledge managers manage no keys
            assert as_kim.post("/v1/keys", json={"role": "admin"}).status_code == 403
            # Revoked through the CLI while serving: it goes through the server, so at once.
            revoked = node.cli("keys", "revoke", kim["key_id"])
            assert revoked.returncode == 0, revoked.stderr
            assert as_kim.get("/v1/me").status_code == 401
        gone = admin.delete("/v1/keys/nope")
        assert gone.status_code == 404 and "nope" in gone.json()["detail"]
        bad = admin.post("/v1/keys", json={"role": "agent"})
        assert bad.status_code == 400 and "needs at least one team" in bad.json()["detail"]
        revoked_ids = {
            k["key_id"] for k in admin.get("/v1/keys?include_revoked=true").json() if k["revoked_at"]
        }
        assert kim["key_id"] in revoked_ids
    entries = [(e["action"], e["target"], e["actor"]) for e in node.audit()]
    assert ("key.create", "kim", "admin") in entries
    assert ("key.revoke", "kim", f"cli:{_user()}") in entries


def _user() -> str:
    import getpass

    return getpass.getuser()


def test_cli_ingest_search_ask_delete_go_through_the_running_server(node: Node, tmp_path: Path) -> None:
    card = node.home / "server.json"
    assert stat.S_IMODE(card.stat().st_mode) == 0o600
    assert json.loads(card.read_text())["url"] == node.url
    folder = tmp_path / "docs"
    folder.mkdir()
    for name in ("faq.md", "known-issues.txt"):
        (folder / name).write_bytes((SAMPLES / name).read_bytes())
    (folder / "empty.txt").write_bytes(b"")

    ingested = node.cli("ingest", str(folder), "--collection", "acme", "--team", "support")
    assert ingested.returncode == 0, ingested.stderr
    assert "2 ingested, 0 unchanged, 1 failed" in ingested.stdout
    assert "file is empty" in ingested.stdout
    again = node.cli("ingest", str(folder), "--collection", "acme")
    assert "0 ingested, 3 unchanged, 0 failed" in again.stdout, again.stdout + again.stderr

    found = node.cli("search", "reset the thermostat", "--collection", "acme", "--json")
    assert found.returncode == 0, found.stderr
    assert json.loads(found.stdout)[0]["source_name"] in {"faq.md", "known-issues.txt"}
    asked = node.cli("ask", "How do I reset the thermostat?", "--collection", "acme", "--json")
    assert asked.returncode == 0, asked.stderr
    answer = json.loads(asked.stdout)
    assert answer["citations"] and answer["answer_id"]
    missing = node.cli("ask", "anything", "--collection", "nope")
    assert missing.returncode == 1 and "no collection named 'nope'" in missing.stderr

    with node.client() as admin:
        docs = admin.get("/v1/documents", params={"collection": "acme"}).json()
        faq = next(d for d in docs if d["source_name"] == "faq.md")
        deleted = node.cli("delete", faq["id"][:10])
        assert deleted.returncode == 0, deleted.stderr
        assert admin.get(f"/v1/documents/{faq['id']}").status_code == 404
    # The server wrote it all, and the trail names the operator for each.
    actions = [(e["action"], e["actor"]) for e in node.audit()]
    me = f"cli:{_user()}"
    assert {("upload", me), ("search", me), ("question", me), ("delete", me)} <= set(actions)
    assert "open in another process" not in node.log()


def test_a_card_left_by_a_killed_server_is_ignored(node: Node, tmp_path: Path) -> None:
    node.stop(signal.SIGKILL)
    assert (node.home / "server.json").exists()  # no clean stop: the card stays behind
    (tmp_path / "a.txt").write_text("The hotline opens at 8:00.\n")
    done = node.cli("ingest", str(tmp_path / "a.txt"), "--collection", "kb")
    assert done.returncode == 0, done.stderr
    assert "1 ingested" in done.stdout
    old_token = json.loads((node.home / "server.json").read_text())["token"]
    node.start()
    with httpx.Client(base_url=node.url, headers={"Authorization": f"Bearer {old_token}"}) as stale:
        assert stale.get("/v1/me").status_code == 401  # a token dies with its server
    assert json.loads((node.home / "server.json").read_text())["token"] != old_token
    node.stop()
    assert not (node.home / "server.json").exists()


def test_a_document_being_parsed_shows_processing_and_its_stage(node: Node) -> None:
    scanned = SAMPLES / "warranty-policy-letter-scanned.pdf"  # OCR: seconds in the worker
    with node.client() as admin:
        assert admin.post("/v1/collections", json={"name": "kb", "team": "support"}).status_code == 201
        sent = admin.post(
            "/v1/documents",
            data={"collection": "kb"},
            files=[("files", (scanned.name, scanned.read_bytes()))],
        )
        assert sent.status_code == 202, sent.text
        doc_id = sent.json()["results"][0]["document_id"]
        seen: list[tuple[str, str | None]] = []
        deadline = time.monotonic() + 240
        while not seen or seen[-1][0] not in {"ready", "failed"}:
            assert time.monotonic() < deadline, seen
            doc = admin.get(f"/v1/documents/{doc_id}").json()
            if not seen or seen[-1] != (doc["status"], doc["stage"]):
                seen.append((doc["status"], doc["stage"]))
            time.sleep(0.05)
    assert seen[-1][0] == "ready", seen
    stages = [stage for status, stage in seen if status == "processing"]
    assert stages and set(stages) <= {"parsing", "chunking", "embedding", "indexing"}, seen
    assert not [s for s in seen if s[0] == "queued" and s[1] not in {None, "queued"}], seen


def test_an_upload_cut_by_a_killed_server_is_audited_for_every_document_taken_in(
    node: Node, tmp_path: Path
) -> None:
    with node.client() as admin:
        assert admin.post("/v1/collections", json={"name": "kb", "team": "support"}).status_code == 201
    files = [
        ("files", (f"note-{i:03}.txt", f"Note {i}: the hotline number is {1000 + i}.\n".encode()))
        for i in range(100)
    ]
    catalog = node.home / "catalog.db"
    sender = subprocess.Popen(
        [sys.executable, "-c", _SEND, node.url, node.admin, json.dumps([f[1][0] for f in files])],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while _documents(catalog) < 3:  # the server has taken some in: kill it mid-request
            assert time.monotonic() < deadline and sender.poll() is None
            time.sleep(0.01)
        node.stop(signal.SIGKILL)
    finally:
        sender.kill()
        sender.wait()
    taken = _documents(catalog)
    node.start()
    audited = {
        str(e["detail"]["document_id"])  # type: ignore[index]
        for e in node.audit()
        if e["action"] == "upload"
    }
    with sqlite3.connect(catalog) as db:
        ids = {row[0] for row in db.execute("SELECT id FROM documents")}
    assert len(ids) >= taken >= 3
    assert ids <= audited, f"{len(ids - audited)} of {len(ids)} documents have no upload entry"
    assert node.cli("audit", "verify").returncode == 0


_SEND = """
import json, sys, httpx
url, key, names = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
files = [("files", (n, f"Note {i}: the hotline number is {1000 + i}.\\n".encode())) for i, n in enumerate(names)]
httpx.post(url + "/v1/documents", data={"collection": "kb"}, files=files,
           headers={"Authorization": "Bearer " + key}, timeout=300)
"""


def _documents(catalog: Path) -> int:
    try:
        with sqlite3.connect(catalog, timeout=1) as db:
            count: int = db.execute("SELECT count(*) FROM documents").fetchone()[0]
            return count
    except sqlite3.OperationalError:
        return 0


def test_after_a_restart_readyz_waits_for_the_models_and_the_first_question_is_not_cold(
    tmp_path: Path,
) -> None:
    node = _node(tmp_path, SOURCEBOOK_EMBEDDER="minilm")  # the real model: seconds to load
    (tmp_path / "faq.md").write_bytes((SAMPLES / "faq.md").read_bytes())
    try:
        node.start()
        assert node.cli("ingest", str(tmp_path / "faq.md"), "--collection", "acme").returncode == 0
        node.stop()
        node.start(wait_ready=False)  # back as soon as /healthz answers
        seen = []
        while True:
            response = httpx.get(node.url + "/readyz", timeout=30)
            seen.append((response.status_code, response.json().get("detail", "")))
            if response.status_code == 200:
                break
            time.sleep(0.05)
        assert seen[0] == (503, "not ready: loading the models"), seen
        with node.client() as admin:
            latencies = []
            for question in ("How do I reset the thermostat?", "What happens when the Wi-Fi drops?"):
                answered = admin.post("/v1/ask", json={"question": question, "collections": ["acme"]})
                assert answered.status_code == 200, answered.text
                latencies.append(answered.json()["latency_ms"])
        print(f"first question after ready: {latencies[0]:.0f} ms, second: {latencies[1]:.0f} ms")
        # Cold, the first question loaded the model (about 10 s on this machine).
        assert latencies[0] < 3000 + 2 * latencies[1], latencies
    finally:
        node.stop()
