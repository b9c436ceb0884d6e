"""End to end in a real browser: Debian's chromium, driven by Playwright, against the real API
(uvicorn) and the real `streamlit run`, both on 127.0.0.1.

One journey, in order: sign in, pick a template, fill its form, get a cited answer, open the
source viewer, give feedback, find it in Review and Insights, upload a file and watch it become
ready. A screenshot of each page is saved under test-output/browser/ (kept for people to look at).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.access import Role
from core.settings import Settings
from tests.browser.conftest import SHOTS, browser_page, choose, field
from tests.conftest import SAMPLES
from tests.integration.api_server import Server, serve, upload

pytestmark = [pytest.mark.integration, pytest.mark.browser]


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    home = tmp_path_factory.mktemp("e2e") / "home"
    settings = Settings(home=home, embedder="hashing", workers=2, reranker="none")
    with serve(settings) as running:
        admin = running.client(running.admin)
        created = admin.post("/v1/collections", json={"name": "acme-support", "team": "support"})
        assert created.status_code == 201, created.text
        upload(
            admin,
            "acme-support",
            SAMPLES / "t-series-user-manual.pdf",
            SAMPLES / "troubleshooting-guide.html",
            SAMPLES / "known-issues.txt",
        )
        yield running


def test_sign_in_ask_check_the_source_give_feedback_review_insights_and_upload(
    api: Server, web: str, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    SHOTS.mkdir(parents=True, exist_ok=True)
    for stale in SHOTS.glob("*.*"):
        stale.unlink()
    key = api.key(Role.KNOWLEDGE_MANAGER, "support")
    with browser_page() as page:
        try:
            page.goto(web)
            # Sign in: a wrong key is refused with the API's reason, the right one opens Ask.
            field(page, "API key").fill("sb_000000000000_wrong")
            page.get_by_role("button", name="Sign in").click()
            expect(page.get_by_text("Sign-in failed: unknown or revoked API key")).to_be_visible()
            page.screenshot(path=SHOTS / "1-sign-in.png")
            field(page, "API key").fill(key)
            page.get_by_role("button", name="Sign in").click()
            expect(page.get_by_role("heading", name="Ask")).to_be_visible()

            # Pick a template and fill its form.
            choose(page, "Question", "How do I do a task on a product?")
            choose(page, "Product *", "T200")
            choose(page, "Task *", "factory reset the thermostat")
            page.get_by_text("certified installer").click()
            page.get_by_role("button", name="Ask", exact=True).click()

            # A cited answer; its first chip opens the source viewer.
            expect(page.get_by_text("Sources", exact=True)).to_be_visible()
            chip = page.get_by_role("button", name=re.compile(r"^\[1\] "))
            expect(chip).to_be_visible()
            page.screenshot(path=SHOTS / "2-ask-answer.png", full_page=True)
            chip.click()
            expect(page.get_by_text("Cited passage")).to_be_visible()
            expect(page.get_by_role("button", name="Download original")).to_be_visible()
            viewer = page.locator(".st-key-source-viewer")
            expect(viewer.get_by_role("heading", name=re.compile(r"^\[1\] "))).to_be_visible()
            expect(viewer.get_by_role("img")).to_be_visible()  # the cited page of the PDF
            page.screenshot(path=SHOTS / "3-source-viewer.png", full_page=True)

            # Feedback: not helpful, with a reason and a flag.
            page.get_by_text("Not helpful", exact=True).click()
            choose(page, "Reason (if not helpful)", "incomplete")
            page.get_by_text("Flag for review").click()
            field(page, "Comment (optional)").fill("misses the pairing step")
            page.get_by_role("button", name="Send feedback").click()
            expect(page.get_by_text("Thanks: your feedback was recorded.")).to_be_visible()

            # Review: the flagged answer is in the queue; the reviewer marks it right.
            page.get_by_role("link", name="Review").click()
            expect(page.get_by_role("heading", name="Review")).to_be_visible()
            expect(page.get_by_text("misses the pairing step")).to_be_visible()
            page.screenshot(path=SHOTS / "4-review.png", full_page=True)
            page.get_by_role("button", name="Save review").first.click()
            expect(page.get_by_text("Review saved.")).to_be_visible()

            # Insights: the question and its feedback are counted.
            page.get_by_role("link", name="Insights").click()
            expect(page.get_by_role("heading", name="Insights")).to_be_visible()
            questions = page.locator('[data-testid="stMetric"]').filter(has_text="Questions")
            expect(questions.locator('[data-testid="stMetricValue"]')).to_have_text("1")
            expect(page.locator('[data-testid="stVegaLiteChart"]').first).to_be_visible()
            page.screenshot(path=SHOTS / "5-insights.png", full_page=True)

            # Library: upload a file and watch it become ready.
            page.get_by_role("link", name="Library").click()
            expect(page.get_by_role("heading", name="Library")).to_be_visible()
            page.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(
                SAMPLES / "faq.md"
            )
            page.get_by_role("button", name="Upload files", exact=True).click()
            expect(page.get_by_text("faq.md is ready.").first).to_be_visible()  # twice while re-drawn
            page.screenshot(path=SHOTS / "6-library.png", full_page=True)
        except Exception:
            page.screenshot(path=SHOTS / "failure.png", full_page=True)
            (SHOTS / "failure.html").write_text(page.content())
            raise
    docs = api.client(api.admin).get("/v1/documents", params={"collection": "acme-support"}).json()
    assert {d["source_name"]: d["status"] for d in docs}["faq.md"] == "ready"
