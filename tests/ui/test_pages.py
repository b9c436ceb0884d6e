"""Page logic of the Streamlit app (AppTest), with the API faked at the HTTP edge (tests/ui/fake_api.py)."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest
from streamlit.util import calc_hash

from tests.conftest import ROOT
from tests.ui.fake_api import AGENT_KEY, CITATION, MANAGER_KEY, TEMPLATE, FakeApi

APP = str(ROOT / "ui" / "app.py")


def _app(api: FakeApi, key: str | None = AGENT_KEY) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=30)
    at.session_state["http_transport"] = api.transport()
    at.run()
    if key is not None:
        at.text_input(key="sign-in-key").input(key)
        at.button[0].click().run()
        assert not at.exception, at.exception
    return at


def _open(at: AppTest, url_path: str) -> None:
    """Go to a page of the app's st.navigation. AppTest.switch_page takes page files only, and
    these pages are functions, so set the hash Streamlit gives a page: that of its url_path."""
    at._page_hash = calc_hash(url_path)
    at.run()
    assert not at.exception, at.exception


def _button(at: AppTest, label: str) -> Any:
    matches = [b for b in at.button if b.label == label]
    assert matches, f"no button {label!r} among {[b.label for b in at.button]}"
    return matches[0]


def _texts(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [e.value for e in at.error] + [w.value for w in at.warning]
    parts += [s.value for s in at.success] + [c.value for c in at.caption] + [i.value for i in at.info]
    return "\n".join(str(p) for p in parts)


def test_a_wrong_key_is_refused_with_the_apis_reason() -> None:
    at = _app(FakeApi(), key="sb_wrong")
    assert [e.value for e in at.error] == ["Sign-in failed: unknown or revoked API key"]
    assert "me" not in at.session_state


def test_an_empty_key_asks_for_one() -> None:
    at = _app(FakeApi(), key="   ")
    assert [e.value for e in at.error] == ["Enter your API key."]


def test_template_form_sends_the_values_and_shows_a_cited_answer_with_its_source() -> None:
    api = FakeApi()
    at = _app(api)
    assert at.title[0].value == "Ask"
    assert at.selectbox(key="ask-template").value == TEMPLATE["title"]
    at.text_input(key="tpl-troubleshoot-error-2-code").input("E-104")
    _button(at, "Ask").click().run()
    assert not at.exception, at.exception

    sent = api.sent("POST", "/v1/ask")[-1]
    assert sent["stream"] is True and "question" not in sent
    assert sent["template"] == {
        "id": "troubleshoot-error",
        "version": 2,
        "values": {
            "product": "T-200",
            "code": "E-104",
            "channels": ["chat"],
            "severity": "low",
            "firmware": 4,
            "since": "2024-07-01",
        },
    }
    assert "E-104 means the water tank is not seated properly. **[1]**" in _texts(at)
    assert "42 ms" in _texts(at)

    _button(at, "[1] p. 3 · t-series-user-manual.pdf").click().run()
    assert not at.exception, at.exception
    assert "[1] t-series-user-manual.pdf" in [s.value for s in at.subheader]
    assert "Page 3" in _texts(at)
    assert "the water tank is not seated \\[properly\\]" in _texts(at)
    # The page with the passage drawn on it (scrolled to it, and whole): fetched with the offsets.
    assert len(at.get("image")) == 2 and len(at.get("download_button")) == 1
    assert "start=10&end=60" in api.queries
    assert ("GET", f"/v1/documents/{CITATION['document_id']}/passage", None) in api.requests


def _open_citation(api: FakeApi) -> AppTest:
    at = _app(api)
    at.text_input(key="tpl-troubleshoot-error-2-code").input("E-104")
    _button(at, "Ask").click().run()
    _button(at, "[1] p. 3 · t-series-user-manual.pdf").click().run()
    assert not at.exception, at.exception
    return at


def test_where_positions_are_unknown_the_viewer_says_so_and_quotes_beside_the_page() -> None:
    api = FakeApi(boxes="unknown")
    at = _open_citation(api)
    assert "Where this passage sits on the page is not known for this document" in _texts(at)
    assert "the water tank is not seated \\[properly\\]" in _texts(at)  # quoted beside the page
    assert len(at.get("image")) == 1
    assert "" in [q for p, q in zip(api.requests, api.queries, strict=True) if p[1].endswith("/pages/3")]


def test_a_text_document_shows_the_passage_highlighted_in_its_text() -> None:
    at = _open_citation(FakeApi(boxes="text"))
    assert "… Errors. :orange-background[E-104 means the water tank is not seated properly.]" in _texts(at)
    assert len(at.get("image")) == 0 and "No page image" not in _texts(at)


def test_a_required_field_left_empty_is_named_before_asking() -> None:
    api = FakeApi()
    at = _app(api)
    _button(at, "Ask").click().run()
    assert [e.value for e in at.error] == ["Please fill in: Error code"]
    assert api.sent("POST", "/v1/ask") == []


def test_the_apis_field_errors_are_shown() -> None:
    template = copy.deepcopy(TEMPLATE)
    template["fields"][1]["required"] = False
    at = _app(FakeApi(templates=[template]))
    _button(at, "Ask").click().run()
    assert [e.value for e in at.error] == [
        "The form was not accepted: the template's values are not valid (values.code: Error code is required)"
    ]


def test_without_templates_a_free_question_can_be_asked() -> None:
    api = FakeApi(templates=None)  # type: ignore[arg-type]
    at = _app(api)
    assert at.selectbox(key="ask-template").options == ["Ask in my own words"]
    at.text_area(key="free-text").input("What does E-104 mean?")
    _button(at, "Ask").click().run()
    assert api.sent("POST", "/v1/ask")[-1]["question"] == "What does E-104 mean?"
    assert "**[1]**" in _texts(at)


def test_a_refusal_shows_the_closest_passages_and_can_be_escalated() -> None:
    api = FakeApi(refuse=True)
    at = _app(api)
    at.text_input(key="tpl-troubleshoot-error-2-code").input("E-999")
    _button(at, "Ask").click().run()
    assert [w.value for w in at.warning] == ["the documents do not say"]
    assert "**t-series-user-manual.pdf**, p. 3" in _texts(at)
    _button(at, "Escalate to a person").click().run()
    assert api.sent("POST", "/v1/answers/ans-refused/feedback") == [
        {"helpful": False, "reason": "other", "flag": True, "comment": "escalated: no answer found"}
    ]
    assert "Escalated: a reviewer will take this question over." in _texts(at)


def test_unhelpful_feedback_needs_a_reason_and_is_sent_with_the_flag() -> None:
    api = FakeApi()
    at = _app(api)
    at.text_input(key="tpl-troubleshoot-error-2-code").input("E-104")
    _button(at, "Ask").click().run()
    at.radio(key="fb-helpful").set_value("Not helpful")
    _button(at, "Send feedback").click().run()
    assert [e.value for e in at.error] == ["Please pick a reason."]
    at.selectbox(key="fb-reason").set_value("outdated")
    at.checkbox(key="fb-flag").check()
    at.text_input(key="fb-comment").input("firmware 4.2 changed this")
    _button(at, "Send feedback").click().run()
    assert api.sent("POST", "/v1/answers/ans-1/feedback") == [
        {"helpful": False, "reason": "outdated", "flag": True, "comment": "firmware 4.2 changed this"}
    ]
    assert "Thanks: your feedback was recorded." in _texts(at)


def _library(api: FakeApi, key: str) -> AppTest:
    at = _app(api, key)
    _open(at, "library")
    return at


FAILED_DOC = {
    "id": "f" * 64,
    "collection": "acme-support",
    "source_name": "broken.pdf",
    "title": None,
    "media_type": "application/pdf",
    "size": 10,
    "page_count": None,
    "status": "failed",
    "failure_reason": "the PDF is encrypted",
    "version": 1,
    "tags": [],
    "progress": 1.0,
    "stage": "failed",
    "created_at": None,
    "updated_at": "2026-11-29T10:00:00",
    "pii_found": None,
}


@pytest.mark.parametrize(("key", "curator"), [(AGENT_KEY, False), (MANAGER_KEY, True)])
def test_library_lists_documents_and_only_curators_change_them(key: str, curator: bool) -> None:
    api = FakeApi(documents=[FAILED_DOC])
    at = _library(api, key)
    assert at.title[0].value == "Library"
    table = at.dataframe[1].value
    assert table["failure reason"].tolist() == ["the PDF is encrypted"]
    labels = [b.label for b in at.button]
    assert ("Re-index collection" in labels) is curator
    assert ("New collection" in [e.label for e in at.expander]) is curator
    assert "Embedding model: minilm-acme-1" in [e.label for e in at.expander]  # every role sees it
    assert at.dataframe[-1].value["to"].tolist() == ["minilm-acme-1"]  # the switches, last
    if curator:
        _button(at, "Re-index collection").click().run()
        assert ("POST", "/v1/collections/acme-support/reindex", None) in api.requests
        assert "Re-indexing 4 documents of acme-support; they stay searchable meanwhile." in _texts(at)
        at.selectbox(key="library-doc").set_value(at.selectbox(key="library-doc").options[0]).run()
        _button(at, "Retry").click().run()
        assert ("POST", f"/v1/documents/{'f' * 64}/retry", None) in api.requests


def test_reviewers_judge_and_promote_answers() -> None:
    item = {
        "id": "r1",
        "answer_id": "ans-1",
        "question": "What does error E-104 mean on the T-200?",
        "answer": "E-104 means the tank is empty. [1]",
        "citations": [CITATION],
        "template": {"id": "troubleshoot-error", "version": 2},
        "values": {"code": "E-104"},
        "helpful": False,
        "reason": "wrong",
        "flagged": True,
        "comment": None,
        "user": "agent-support",
        "team": "support",
        "created_at": "2026-11-29T10:00:00",
        "state": "open",
        "verdict": None,
        "correct_answer": None,
        "correct_sources": [],
    }
    api = FakeApi(review_items=[item])
    at = _app(api, MANAGER_KEY)
    _open(at, "review")
    assert "not helpful (wrong) · flagged" in at.expander[0].label
    at.text_area(key="verdict-r1-answer").input("E-104 means the water tank is not seated.")
    at.selectbox(key="verdict-r1-src").set_value("t-series-user-manual.pdf")
    at.text_input(key="verdict-r1-pages").input("3")
    at.checkbox(key="verdict-r1-approve").check()
    _button(at, "Save review").click().run()
    assert api.sent("POST", "/v1/review/r1") == [
        {
            "verdict": "wrong",
            "correct_answer": "E-104 means the water tank is not seated.",
            "correct_sources": [{"document_id": CITATION["document_id"], "pages": [3]}],
            "approve": True,
        }
    ]
    assert "Save a review first" in _texts(at)
    api.review_items[0] |= {
        "state": "closed",
        "verdict": "wrong",
        "reviewer": "km",
        "reviewed_at": "2026-11-29",
    }
    at.run()
    assert "**Verdict:** wrong (by km, 2026-11-29)" in _texts(at)
    _button(at, "Promote to golden set").click().run()
    assert api.sent("POST", "/v1/review/r1/promote") == [{"golden_set": "support-reviewed"}]
    assert "Added to golden set support-reviewed as case case-1." in _texts(at)


def test_insights_show_totals_and_charts_for_the_chosen_team() -> None:
    api = FakeApi()
    at = _app(api, MANAGER_KEY)
    _open(at, "insights")
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Questions"] == "12" and metrics["Helpful"] == "75%" and metrics["Refused"] == "25%"
    at.selectbox(key="insights-team").set_value("support").run()
    asked = [q for (m, p, _), q in zip(api.requests, api.queries, strict=True) if p == "/v1/insights"]
    assert "team=" not in asked[0] and "team=support" in asked[-1] and "since=" in asked[-1]
    # 3 over time, templates, usage per user and per team, golden cases over time
    assert len(at.get("vega_lite_chart")) == 7
    said = _texts(at)
    assert "acme-support: the last run dropped by more than 5% (see the audit trail)." in said
    assert (
        "Live embedding model: **minilm-acme-1**" in said and "the eval it passed: {'ndcg@10': 0.71}" in said
    )


def test_agents_do_not_get_the_review_page() -> None:
    api = FakeApi()
    at = _app(api, AGENT_KEY)
    _open(at, "review")
    assert at.title[0].value == "Ask"  # a page not offered falls back to the default one
    assert not any(p == "/v1/review" for _, p, _ in api.requests)
    _open(at, "insights")
    assert at.title[0].value == "Insights"


def test_an_approved_answer_says_who_reviewed_it_and_sign_out_forgets_the_key() -> None:
    api = FakeApi(reviewed={"by": "km-support", "at": "2026-11-28T09:00:00Z", "verdict": "right"})
    at = _app(api)
    at.text_input(key="tpl-troubleshoot-error-2-code").input("E-104")
    _button(at, "Ask").click().run()
    assert "Reviewed answer: approved by km-support on 2026-11-28" in _texts(at)
    _button(at, "Sign out").click().run()
    assert "client" not in at.session_state and "me" not in at.session_state
    assert at.text_input(key="sign-in-key").value == ""


def test_problem_details_read_as_one_message() -> None:
    from ui.client import ApiError

    assert str(ApiError(422, "values has 1 problem: code: required", ("values.code: required",))) == (
        "values has 1 problem: code: required"
    )
    assert str(ApiError(422, "the request does not match the API schema", ("collections: too long",))) == (
        "the request does not match the API schema (collections: too long)"
    )


def test_a_template_that_asks_for_bullets_gets_one_per_sentence() -> None:
    template = copy.deepcopy(TEMPLATE)
    template["answer"]["style"] = "bullets"
    at = _app(FakeApi(templates=[template]))
    at.text_input(key="tpl-troubleshoot-error-2-code").input("E-104")
    _button(at, "Ask").click().run()
    assert "- E-104 means the water tank is not seated properly. **[1]**" in _texts(at)
