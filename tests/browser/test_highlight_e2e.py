"""A cited passage highlighted on its page, in a real browser (Debian's chromium, Playwright)
against the real API and `streamlit run`: once from a text PDF (the T-series manual), once from
the scanned warranty letter (OCR word boxes). Screenshots go to test-output/browser/."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from core.access import Role
from core.settings import Settings
from tests.browser.conftest import SHOTS, browser_page, choose, field
from tests.conftest import SAMPLES
from tests.integration.api_server import Server, serve, upload

pytestmark = [pytest.mark.integration, pytest.mark.browser]

CASES = {
    "manual": ("t-series-user-manual.pdf", "How do I factory reset the thermostat?"),
    "letter": ("warranty-policy-letter-scanned.pdf", "How long is the warranty on a thermostat?"),
}


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    home = tmp_path_factory.mktemp("highlight-e2e") / "home"
    settings = Settings(home=home, embedder="hashing", workers=2, reranker="none")
    with serve(settings) as running:
        admin = running.client(running.admin)
        for name, (source, _) in CASES.items():  # one team each: each agent sees one document
            created = admin.post("/v1/collections", json={"name": name, "team": name})
            assert created.status_code == 201, created.text
            upload(admin, name, SAMPLES / source)
        yield running


def _yellow_share(png: bytes) -> float:
    import io

    import numpy as np
    from PIL import Image

    rgb = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.int16)
    return float(((rgb[..., 0] - rgb[..., 2] > 50) & (rgb[..., 1] - rgb[..., 2] > 30)).mean())


@pytest.mark.parametrize("case", list(CASES))
def test_a_cited_passage_is_highlighted_on_its_page(api: Server, web: str, case: str) -> None:
    from playwright.sync_api import expect

    source, question = CASES[case]
    key = api.key(Role.AGENT, case)
    SHOTS.mkdir(parents=True, exist_ok=True)
    with browser_page() as page:
        try:
            page.goto(web)
            field(page, "API key").fill(key)
            page.get_by_role("button", name="Sign in").click()
            expect(page.get_by_role("heading", name="Ask")).to_be_visible()
            choose(page, "Question", "Ask in my own words")
            page.get_by_label("Your question").fill(question)
            page.get_by_role("button", name="Ask", exact=True).click()

            chip = page.get_by_role("button", name=re.compile(r"^\[1\] .*" + re.escape(source)))
            expect(chip).to_be_visible()
            chip.click()
            viewer = page.locator(".st-key-source-viewer")
            expect(viewer.get_by_text("highlighted on the page")).to_be_visible()
            image = viewer.get_by_role("img").first
            expect(image).to_be_visible()
            image.scroll_into_view_if_needed()
            page.screenshot(path=SHOTS / f"highlight-{case}.png", full_page=True)
            viewer.screenshot(path=SHOTS / f"highlight-{case}-viewer.png")
            src = image.get_attribute("src") or ""
            shown = httpx.get(web + src if src.startswith("/") else src, timeout=30).content
        except Exception:
            page.screenshot(path=SHOTS / f"highlight-{case}-failure.png", full_page=True)
            (SHOTS / f"highlight-{case}-failure.html").write_text(page.content())
            raise
    # The image the agent sees is the page scrolled to the passage, with the passage marked on it.
    assert _yellow_share(shown) > 0.01
