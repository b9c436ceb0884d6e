"""The server's card in the data folder: private whatever the umask, ignored once its process is
gone, removed only by the server that wrote it; and the warm-up that /readyz waits for."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

from api.readiness import WarmUp
from sourcebook import serving
from sourcebook.serving import RunningServer


def test_the_card_is_owner_only_even_under_a_permissive_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        card = serving.publish(tmp_path, RunningServer("http://127.0.0.1:1", os.getpid(), "sbop_x"))
    finally:
        os.umask(old)
    assert stat.S_IMODE(card.stat().st_mode) == 0o600
    assert serving.find(tmp_path) == RunningServer("http://127.0.0.1:1", os.getpid(), "sbop_x")
    assert [p.name for p in tmp_path.iterdir()] == ["server.json"]  # no draft left behind


def test_a_card_whose_process_is_gone_is_ignored(tmp_path: Path) -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    serving.publish(tmp_path, RunningServer("http://127.0.0.1:1", gone.pid, "sbop_x"))
    assert serving.find(tmp_path) is None
    (tmp_path / "server.json").write_text("{not json")
    assert serving.find(tmp_path) is None


def test_only_the_server_that_wrote_the_card_removes_it(tmp_path: Path) -> None:
    serving.publish(tmp_path, RunningServer("http://127.0.0.1:1", os.getpid(), "sbop_new"))
    serving.withdraw(tmp_path, "sbop_old")
    assert (tmp_path / "server.json").exists()
    serving.withdraw(tmp_path, "sbop_new")
    assert not (tmp_path / "server.json").exists()


def test_local_urls_for_wildcard_binds() -> None:
    assert serving.local_url("0.0.0.0", 8000) == "http://127.0.0.1:8000"
    assert serving.local_url("::", 8000) == "http://[::1]:8000"
    assert serving.local_url("10.0.0.5", 80) == "http://10.0.0.5:80"


def test_warm_up_is_retried_until_it_succeeds_and_reports_the_last_error() -> None:
    attempts: list[int] = []
    release = threading.Event()

    def warm() -> None:
        attempts.append(1)
        if len(attempts) < 3:
            raise RuntimeError("the store is not up yet")
        release.wait(5)

    warm_up = WarmUp(warm, retry_s=0.01)
    warm_up.start()
    while len(attempts) < 3:
        threading.Event().wait(0.01)
    assert not warm_up.ready and warm_up.error == "RuntimeError: the store is not up yet"
    release.set()
    warm_up._thread.join(5)
    assert warm_up.ready and warm_up.error is None and len(attempts) == 3


def test_what_the_warm_up_leaves_is_kept_out_of_full_collections() -> None:
    import gc

    held: list[object] = []
    warm_up = WarmUp(lambda: held.extend({"vector": [float(i)]} for i in range(10_000)), retry_s=0.01)
    gc.unfreeze()
    try:
        warm_up.start()
        warm_up._thread.join(5)
        assert warm_up.ready
        assert gc.get_freeze_count() >= len(held)  # a full collection no longer walks them
    finally:
        gc.unfreeze()
