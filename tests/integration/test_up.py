"""`sourcebook up` (what `make run` runs): ingest, a demo key, the API and the web app together,
and Ctrl-C stops both."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT, SAMPLES
from tests.integration.api_server import _free_port

pytestmark = pytest.mark.integration


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def test_up_serves_api_and_app_with_a_demo_key_and_ctrl_c_stops_both(tmp_path: Path) -> None:
    samples = tmp_path / "samples"
    samples.mkdir()
    (samples / "faq.md").write_bytes((SAMPLES / "faq.md").read_bytes())
    api_port, ui_port = _free_port(), _free_port()
    env = {
        **os.environ,
        "SOURCEBOOK_HOME": str(tmp_path / "home"),
        "SOURCEBOOK_EMBEDDER": "hashing",
        "HOME": str(tmp_path),
    }
    argv = [
        str(ROOT / ".venv" / "bin" / "sourcebook"), "up", "--samples", str(samples),
        "--port", str(api_port), "--ui-port", str(ui_port),
    ]  # fmt: skip
    if not Path(argv[0]).exists():
        pytest.skip("needs the sourcebook command in .venv (make install)")
    out = (tmp_path / "up.log").open("w+")
    process = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 180
        while "Demo API key" not in (tmp_path / "up.log").read_text():
            assert process.poll() is None, (tmp_path / "up.log").read_text()
            assert time.monotonic() < deadline, (tmp_path / "up.log").read_text()
            time.sleep(0.5)
        time.sleep(0.5)  # the key is printed on the line after
        log = (tmp_path / "up.log").read_text()
        key = re.search(r"^(sb_\S+)$", log, flags=re.M)
        assert key, log
        assert f"http://127.0.0.1:{ui_port}" in log
        assert _answers(f"http://127.0.0.1:{ui_port}/_stcore/health")
        collections = httpx.get(
            f"http://127.0.0.1:{api_port}/v1/collections",
            headers={"Authorization": f"Bearer {key.group(1)}"},
        )
        assert collections.status_code == 200
        assert [(c["name"], c["document_count"]) for c in collections.json()] == [("acme-support", 1)]

        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
        out.close()
    assert not _answers(f"http://127.0.0.1:{api_port}/healthz")
    assert not _answers(f"http://127.0.0.1:{ui_port}/_stcore/health")
