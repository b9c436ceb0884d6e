"""What the browser tests share: `streamlit run` against a test's API, and page helpers.

A test module defines an `api` fixture (a running API with its data); `web` starts the app on it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT
from tests.integration.api_server import Server, _free_port

CHROMIUM = Path("/usr/bin/chromium")
SHOTS = ROOT / "test-output" / "browser"
TIMEOUT_MS = 60_000


@pytest.fixture(scope="module")
def web(api: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`streamlit run ui/app.py` as people run it, pointed at the API."""
    port = _free_port()
    env = {
        **os.environ,
        "SOURCEBOOK_API_URL": api.url,
        "HOME": str(tmp_path_factory.mktemp("streamlit-home")),  # no ~/.streamlit of the machine's
    }
    argv = [
        sys.executable, "-m", "streamlit", "run", str(ROOT / "ui" / "app.py"),
        "--server.address", "127.0.0.1", "--server.port", str(port), "--server.headless", "true",
        "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
        "--client.toolbarMode", "viewer",
    ]  # fmt: skip
    log = (tmp_path_factory.mktemp("streamlit-log") / "streamlit.log").open("wb")
    process = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, f"streamlit exited with {process.returncode}"
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, "streamlit did not start within 60 s"
            time.sleep(0.25)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=20)
        log.close()


def field(page: object, label: str) -> Any:
    """A text input by its label (get_by_label would also match the field's help button)."""
    from playwright.sync_api import Page

    assert isinstance(page, Page)
    return page.locator(f'input[aria-label="{label}"]')


def choose(page: object, label: str, option: str) -> None:
    """Pick an option of a Streamlit selectbox by its label."""
    from playwright.sync_api import Page, expect

    assert isinstance(page, Page)
    page.get_by_role("combobox", name=label, exact=True).click()
    page.get_by_role("option", name=option, exact=True).click()
    expect(page.get_by_role("combobox", name=label, exact=True)).to_have_value(option)


@contextmanager
def browser_page() -> Iterator[Any]:
    """A page of Debian's chromium (skips without it), with the tests' timeouts; closed after."""
    if not CHROMIUM.exists():
        pytest.skip("needs Debian's chromium at /usr/bin/chromium (make system-deps installs it)")
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(TIMEOUT_MS)
            expect.set_options(timeout=TIMEOUT_MS)
            yield page
        finally:
            browser.close()
