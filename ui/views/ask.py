"""Ask: pick a question template, fill its form, read the streamed answer and check its sources.

Every ``[n]`` in the answer has a chip that opens the source viewer. A refusal shows the closest
passages and lets the agent escalate. Every answer takes feedback: helpful or not, why, and a flag.
"""

from __future__ import annotations

from typing import Any

import httpx
import streamlit as st

from ui import forms, session, viewer
from ui.client import ApiError, Json

ANSWER = "answer"
FREE = "Ask in my own words"
REASONS = ["wrong", "incomplete", "not cited", "outdated", "other"]


def render() -> None:
    st.title("Ask")
    client = session.client()
    try:
        collections = [c["name"] for c in client.collections()]
    except (ApiError, httpx.HTTPError) as exc:
        session.show_error(exc, "list your collections")
        return
    templates = _templates()
    main, side = st.columns([3, 2], gap="large")
    with main:
        request = _question_form(templates, collections)
        if request is not None:
            st.session_state.pop(viewer.VIEWER, None)
            _stream(request)
        answer: Json | None = st.session_state.get(ANSWER)
        if answer:
            _show_answer(answer)
    with side:
        viewer.render()


def _templates() -> list[Json]:
    """The templates this user may use; none (and a note) when the API offers none."""
    try:
        return session.client().templates()
    except ApiError as exc:
        if exc.status != 404:
            st.warning(f"Question templates are unavailable: {exc}")
        return []
    except httpx.HTTPError as exc:
        session.show_error(exc, "load the question templates")
        return []


def _question_form(templates: list[Json], collections: list[str]) -> Json | None:
    """The request to send once a form is submitted (template values or a free question)."""
    if not collections:
        st.info("No collections are visible to you yet. A knowledge manager can create one in Library.")
        return None
    scope = st.multiselect("Collections", collections, default=collections, key="ask-collections")
    titles = [t["title"] for t in templates] + [FREE]
    choice = st.selectbox("Question", titles, index=0, key="ask-template")
    if choice == FREE:
        with st.form("free-question"):
            question = st.text_area("Your question", key="free-text", max_chars=2000)
            submitted = st.form_submit_button("Ask", type="primary")
        if not submitted:
            return None
        if not question.strip():
            st.error("Please write a question.")
            return None
        return {"question": question.strip(), "collections": scope, "template": None}
    template = templates[titles.index(choice)]
    if template.get("description"):
        st.caption(template["description"])
    values = forms.template_form(template)
    if values is None:
        return None
    ref = {"id": template["id"], "version": template.get("version"), "values": values}
    collections_for = scope or list(template.get("collections") or [])
    style = (template.get("answer") or {}).get("style", "prose")
    return {
        "question": None,
        "collections": collections_for,
        "template": ref,
        "title": template["title"],
        "style": style,
    }


def _stream(request: Json) -> None:
    """Send the question and show sentences as they arrive; keep the result for the next runs."""
    answer: Json = {
        "question": request.get("question") or request.get("title", ""),
        "template": request.get("template"),
        "sentences": [],
        "citations": [],
        "passages": [],
        "done": None,
        "feedback": None,
        "style": request.get("style", "prose"),
    }
    shown = st.empty()
    try:
        with st.spinner("Finding the passages…"):
            events = session.client().ask(
                question=request.get("question"),
                template=request.get("template"),
                collections=request["collections"],
            )
            for event in events:
                _apply(answer, event.event, event.data)
                shown.markdown(_answer_markdown(answer))
    except ApiError as exc:
        shown.empty()
        if exc.status == 422:
            st.error(f"The form was not accepted: {exc}")
        else:
            session.show_error(exc, "answer")
        return
    except httpx.HTTPError as exc:
        session.show_error(exc, "answer")
        return
    shown.empty()
    st.session_state[ANSWER] = answer


def _apply(answer: Json, event: str, data: Any) -> None:
    if event == "passages":
        answer["passages"] = data
    elif event == "sentence":
        answer["sentences"].append(data)
    elif event == "citations":
        answer["citations"] = data
    elif event == "done":
        answer["done"] = data
        answer["question"] = data.get("question") or answer["question"]
    elif event == "answer":  # a server that does not stream: one JSON body
        answer["question"] = data.get("question") or answer["question"]
        answer["passages"] = data.get("passages", [])
        answer["citations"] = data.get("citations", [])
        by_marker = {c["marker"]: c for c in answer["citations"]}
        answer["sentences"] = _split(data.get("answer", ""), by_marker)
        answer["done"] = data


def _split(text: str, by_marker: dict[int, Json]) -> list[Json]:
    import re

    sentences = []
    for match in re.finditer(r"(.+?)(?:\s*\[(\d+)\])(?=\s|$)|(.+?)$", text, flags=re.S):
        if match.group(1) is not None:
            sentences.append({"text": match.group(1).strip(), "citation": by_marker.get(int(match.group(2)))})
        elif match.group(3) and match.group(3).strip():
            sentences.append({"text": match.group(3).strip(), "citation": None})
    return sentences


def _answer_markdown(answer: Json) -> str:
    """The sentences so far, each with its marker; one bullet each when the template asks for bullets."""
    parts = []
    for sentence in answer["sentences"]:
        citation = sentence.get("citation")
        marker = f" **[{citation['marker']}]**" if citation else ""
        parts.append(sentence["text"].lstrip("•-* ") + marker)
    if answer.get("style") == "bullets":
        return "\n".join(f"- {part}" for part in parts)
    return " ".join(parts)


def _show_answer(answer: Json) -> None:
    done: Json = answer.get("done") or {}
    st.markdown(f"#### {answer['question']}")
    if done.get("reviewed"):
        reviewed = done["reviewed"]
        st.success(f"Reviewed answer: approved by {reviewed.get('by')} on {str(reviewed.get('at', ''))[:10]}")
    if done.get("refused"):
        _show_refusal(answer, done)
    else:
        with st.container(border=True, key="answer-text"):
            st.markdown(_answer_markdown(answer))
        _citation_chips(answer["citations"])
    details = []
    if done.get("latency_ms") is not None:
        details.append(f"{done['latency_ms']:.0f} ms")
    if done.get("cached"):
        details.append("from the answer cache")
    if answer.get("template"):
        details.append(
            f"template {answer['template']['id']} v{answer['template'].get('version') or 'latest'}"
        )
    if details:
        st.caption(" · ".join(details))
    for note in done.get("notes") or []:
        st.caption(f"Note: {note}")
    _feedback(answer, done)


def _citation_chips(citations: list[Json]) -> None:
    if not citations:
        return
    st.markdown("**Sources**")
    columns = st.columns(min(len(citations), 3))
    for i, citation in enumerate(citations):
        pages = ", ".join(str(p) for p in citation.get("pages") or [])
        where = f"p. {pages} · " if pages else ""
        label = f"[{citation['marker']}] {where}{citation.get('title') or ''}"
        if columns[i % len(columns)].button(label, key=f"chip-{citation['marker']}", width="stretch"):
            viewer.open_citation(citation)
            st.rerun()


def _show_refusal(answer: Json, done: Json) -> None:
    st.warning(done.get("refusal_reason") or "The documents do not answer this question.")
    passages: list[Json] = answer.get("passages") or []
    if passages:
        st.markdown("**Closest passages**")
    for i, passage in enumerate(passages[:5]):
        pages = ", ".join(str(p) for p in passage.get("pages") or [])
        with st.container(border=True):
            st.markdown(f"**{passage.get('source_name', '')}**" + (f", p. {pages}" if pages else ""))
            st.caption(passage["text"][:400])
            if st.button("Open", key=f"passage-{i}"):
                viewer.open_passage(passage)
                st.rerun()
    if answer.get("feedback") == "escalated":
        st.info("Escalated: a reviewer will take this question over.")
    elif (
        done.get("escalate", True)
        and st.button("Escalate to a person", type="primary", key="escalate")
        and _send_feedback(
            answer, helpful=False, reason="other", flag=True, comment="escalated: no answer found"
        )
    ):
        answer["feedback"] = "escalated"
        st.rerun()


def _feedback(answer: Json, done: Json) -> None:
    if answer.get("feedback"):
        if answer["feedback"] != "escalated":
            st.success("Thanks: your feedback was recorded.")
        return
    if not done.get("answer_id"):
        return
    with st.expander("Was this answer helpful?", expanded=True), st.form("feedback"):
        helpful = st.radio("Helpful?", ["Helpful", "Not helpful"], horizontal=True, key="fb-helpful")
        reason = st.selectbox("Reason (if not helpful)", REASONS, index=None, key="fb-reason")
        comment = st.text_input("Comment (optional)", key="fb-comment")
        flag = st.checkbox("Flag for review", key="fb-flag")
        sent = st.form_submit_button("Send feedback")
    if sent:
        is_helpful = helpful == "Helpful"
        if not is_helpful and reason is None:
            st.error("Please pick a reason.")
            return
        if _send_feedback(
            answer,
            helpful=is_helpful,
            reason=None if is_helpful else reason,
            flag=flag,
            comment=comment.strip() or None,
        ):
            answer["feedback"] = "sent"
            st.rerun()


def _send_feedback(
    answer: Json, *, helpful: bool, reason: str | None, flag: bool, comment: str | None
) -> bool:
    answer_id = (answer.get("done") or {}).get("answer_id")
    if not answer_id:
        st.error("This answer has no id to attach feedback to.")
        return False
    try:
        session.client().feedback(answer_id, helpful=helpful, reason=reason, flag=flag, comment=comment)
    except (ApiError, httpx.HTTPError) as exc:
        session.show_error(exc, "record your feedback")
        return False
    return True
