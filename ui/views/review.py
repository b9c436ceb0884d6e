"""Review: flagged and unhelpful answers; a reviewer judges them, corrects them, and can approve the
correction (it is then served first for the same question) or promote the case into a golden set.
"""

from __future__ import annotations

import httpx
import streamlit as st

from ui import session
from ui.client import ApiError, Json

NEW_SET = "New golden set…"


def render() -> None:
    st.title("Review")
    state = st.radio("Queue", ["open", "closed"], horizontal=True, key="review-state")
    try:
        items = session.client().review_queue(state)
    except (ApiError, httpx.HTTPError) as exc:
        session.show_error(exc, "load the review queue")
        return
    if not items:
        st.info("Nothing to review." if state == "open" else "No reviewed answers yet.")
        return
    st.caption(f"{len(items)} {state} item(s), newest first.")
    try:
        golden_sets = session.client().golden_sets()
    except (ApiError, httpx.HTTPError):
        golden_sets = []
    for item in items:
        _item(item, golden_sets)


def _feedback_line(item: Json) -> str:
    parts = []
    if item.get("helpful") is False:
        parts.append("not helpful" + (f" ({item['reason']})" if item.get("reason") else ""))
    elif item.get("helpful"):
        parts.append("helpful")
    if item.get("flagged"):
        parts.append("flagged")
    who = " · ".join(
        str(x) for x in (item.get("user"), item.get("team"), str(item.get("created_at", ""))[:16]) if x
    )
    return " · ".join(parts) + (f" · {who}" if who else "")


def _item(item: Json, golden_sets: list[str]) -> None:
    title = item.get("question") or "(template question)"
    with st.expander(
        f"{title} — {_feedback_line(item)}", expanded=len(title) > 0 and item.get("state") == "open"
    ):
        if item.get("template"):
            template = item["template"]
            st.caption(
                f"Template {template.get('id')} v{template.get('version')}: {item.get('values') or {}}"
            )
        st.markdown("**Answer given**")
        st.markdown(item.get("answer") or "_(refused)_")
        for citation in item.get("citations") or []:
            pages = ", ".join(str(p) for p in citation.get("pages") or [])
            st.caption(
                f"[{citation.get('marker')}] {citation.get('title')}, p. {pages}: {citation.get('quote', '')[:200]}"
            )
        if item.get("comment"):
            st.markdown(f"**Comment:** {item['comment']}")
        if item.get("state") == "closed":
            by = (
                f" (by {item['reviewer']}, {str(item.get('reviewed_at', ''))[:10]})"
                if item.get("reviewer")
                else ""
            )
            st.markdown(f"**Verdict:** {item.get('verdict')}{by}")
            if item.get("correct_answer"):
                st.markdown(f"**Correct answer:** {item['correct_answer']}")
        _verdict_form(item)
        if item.get("state") == "closed":
            _promote(item, golden_sets)
        else:
            st.caption("Save a review first; a reviewed case can then go into a golden set.")


def _sources(item: Json, document: str, pages: str) -> list[Json]:
    if not document.strip():
        return []
    numbers = [int(p) for p in pages.replace(" ", "").split(",") if p.isdigit()]
    return [{"document_id": document.strip(), "pages": numbers}]


def _verdict_form(item: Json) -> None:
    cited = {c.get("title") or c["document_id"]: c["document_id"] for c in item.get("citations") or []}
    with st.form(f"verdict-{item['id']}"):
        verdict = st.radio(
            "Verdict",
            ["right", "wrong"],
            index=["right", "wrong"].index(item["verdict"])
            if item.get("verdict") in ("right", "wrong")
            else 1,
            horizontal=True,
            key=f"verdict-{item['id']}-v",
        )
        correct = st.text_area(
            "Correct answer", value=item.get("correct_answer") or "", key=f"verdict-{item['id']}-answer"
        )
        known = list(cited)
        source = st.selectbox(
            "Right source (a cited document)", known, index=None, key=f"verdict-{item['id']}-src"
        )
        other = st.text_input("…or another document id", key=f"verdict-{item['id']}-doc")
        pages = st.text_input("Pages (e.g. 2, 3)", key=f"verdict-{item['id']}-pages")
        approve = st.checkbox(
            "Approve: serve this answer for the same question from now on",
            key=f"verdict-{item['id']}-approve",
        )
        saved = st.form_submit_button("Save review", type="primary")
    if not saved:
        return
    document = other.strip() or (cited[source] if source else "")
    if approve and not correct.strip() and verdict == "wrong":
        st.error("Write the correct answer before approving it.")
        return
    try:
        session.client().review(
            item["id"],
            verdict=verdict,
            correct_answer=correct.strip() or None,
            correct_sources=_sources(item, document, pages),
            approve=approve,
        )
    except (ApiError, httpx.HTTPError) as exc:
        session.show_error(exc, "save the review")
        return
    st.success("Review saved." + (" The approved answer is now served first." if approve else ""))


def _promote(item: Json, sets: list[str]) -> None:
    left, right = st.columns([2, 1])
    choice = left.selectbox("Golden set", [*sets, NEW_SET], key=f"golden-{item['id']}")
    name = choice
    if choice == NEW_SET:
        name = left.text_input(
            "New golden set name", value="support-reviewed", key=f"golden-{item['id']}-new"
        )
    collections = list(item.get("collections") or [])
    collection = None
    if len(collections) != 1:  # the case must name one collection; ask when the answer did not
        collection = left.selectbox(
            "Collection of the case",
            collections or _visible_collections(),
            index=None,
            key=f"golden-{item['id']}-coll",
        )
    if right.button("Promote to golden set", key=f"promote-{item['id']}"):
        try:
            result = session.client().promote(item["id"], name.strip(), collection)
        except (ApiError, httpx.HTTPError) as exc:
            session.show_error(exc, "promote the case")
            return
        st.success(f"Added to golden set {result.get('golden_set', name)} as case {result.get('case_id')}.")


def _visible_collections() -> list[str]:
    try:
        return [c["name"] for c in session.client().collections()]
    except (ApiError, httpx.HTTPError):
        return []
