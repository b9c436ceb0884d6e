"""Every shipped question template, asked in a real browser against the real MiniLM embedder.

The journey test uses the hashing double to stay fast; this one proves what support agents see on
the sample collection: each template's form, filled the way an agent would, gets a cited answer
(a source chip), not a refusal. Screenshots land in test-output/browser/templates/.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from core.access import Role
from core.settings import Settings
from tests.browser.conftest import SHOTS, browser_page, choose, field
from tests.conftest import SAMPLES
from tests.integration.api_server import Server, serve, upload

pytestmark = [pytest.mark.integration, pytest.mark.browser, pytest.mark.slow]

# (template id, its title, {field label: option}); unlisted fields keep the form's defaults.
ASKS = [
    ("troubleshoot-error-code", "Troubleshoot an error code", {"Product *": "T100", "Error code *": "E-102"}),
    (
        "how-to-task",
        "How do I do a task on a product?",
        {"Product *": "T300 Pro", "Task *": "factory reset the thermostat"},
    ),
    ("policy-topic", "What does the policy say?", {"Topic *": "the restocking fee for opened products"}),
    ("compare-plans", "Compare two models, plans or releases", {"First *": "T100", "Second *": "T300 Pro"}),
]


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    home = tmp_path_factory.mktemp("templates-e2e") / "home"
    with serve(Settings(home=home, embedder="minilm", workers=2)) as running:
        admin = running.client(running.admin)
        created = admin.post("/v1/collections", json={"name": "acme-support", "team": "support"})
        assert created.status_code == 201, created.text
        upload(admin, "acme-support", *sorted(SAMPLES.iterdir()))
        yield running


def test_each_shipped_template_gets_a_cited_answer_with_the_real_embedder(api: Server, web: str) -> None:
    from playwright.sync_api import expect

    shots = SHOTS / "templates"
    shots.mkdir(parents=True, exist_ok=True)
    key = api.key(Role.AGENT, "support")
    with browser_page() as page:
        try:
            page.goto(web)
            field(page, "API key").fill(key)
            page.get_by_role("button", name="Sign in").click()
            expect(page.get_by_role("heading", name="Ask")).to_be_visible()
            for n, (template_id, title, values) in enumerate(ASKS, start=1):
                choose(page, "Question", title)
                # Fields share labels across templates ("Product *"): fill the new form only once
                # Streamlit has redrawn the page (it marks elements of the last run as stale).
                expect(page.locator(f'[class*="st-key-tpl-{template_id}-"]').first).to_be_visible()
                expect(page.locator('[data-stale="true"]')).to_have_count(0)
                for label, option in values.items():
                    choose(page, label, option)
                page.get_by_role("button", name="Ask", exact=True).click()
                # The caption names the template once its answer has arrived (the last one stays till then).
                expect(page.get_by_text(re.compile(rf"template {template_id} v"))).to_be_visible()
                expect(page.get_by_text("Sources", exact=True)).to_be_visible()
                expect(page.get_by_role("button", name=re.compile(r"^\[1\] ")).first).to_be_visible()
                page.screenshot(path=shots / f"{n}-{template_id}.png", full_page=True)
        except Exception:
            page.screenshot(path=shots / "failure.png", full_page=True)
            (shots / "failure.html").write_text(page.content())
            raise
