"""Who is signed in: the API key in session state, checked against GET /v1/me.

The key never leaves the session (not in the URL, not on disk). Tests put a fake HTTP edge in
``st.session_state["http_transport"]``; the app itself never sets it.
"""

from __future__ import annotations

import os
from typing import Any

import httpx
import streamlit as st

from ui.client import ApiError, Json, SourcebookClient

API_URL_ENV = "SOURCEBOOK_API_URL"
DEFAULT_API_URL = "http://127.0.0.1:8000"


def api_url() -> str:
    return os.environ.get(API_URL_ENV, DEFAULT_API_URL)


def _transport() -> httpx.BaseTransport | None:
    transport: Any = st.session_state.get("http_transport")
    return transport if isinstance(transport, httpx.BaseTransport) else None


def client() -> SourcebookClient:
    """The signed-in user's client (call only after ``sign_in_gate`` passed)."""
    found: SourcebookClient = st.session_state["client"]
    return found


def me() -> Json:
    found: Json = st.session_state["me"]
    return found


def can_upload() -> bool:
    """May add, retry and delete documents, create collections and re-index (admin, knowledge manager)."""
    return bool(me().get("can_upload"))


def can_review() -> bool:
    """May work the review queue (admin, knowledge manager, engineer)."""
    return bool(me().get("can_review"))


def sign_in(api_key: str) -> str | None:
    """Check the key with the API; None when signed in, else the message to show."""
    key = api_key.strip()
    if not key:
        return "Enter your API key."
    candidate = SourcebookClient(api_url(), key, transport=_transport())
    try:
        who = candidate.me()
    except ApiError as exc:
        candidate.close()
        return f"Sign-in failed: {exc}"
    except httpx.HTTPError as exc:
        candidate.close()
        return f"The Sourcebook API at {api_url()} cannot be reached ({type(exc).__name__})."
    st.session_state["client"] = candidate
    st.session_state["me"] = who
    return None


def sign_out() -> None:
    found = st.session_state.get("client")
    if isinstance(found, SourcebookClient):
        found.close()
    for key in list(st.session_state.keys()):
        if key != "http_transport":
            del st.session_state[key]


def sign_in_gate() -> bool:
    """Show the sign-in form unless someone is signed in; True when they are."""
    if "me" in st.session_state:
        return True
    st.title("Sourcebook")
    st.caption("Cited answers from your own documents.")
    with st.form("sign-in"):
        key = st.text_input(
            "API key", type="password", placeholder="sb_…", help="Ask your admin for one.", key="sign-in-key"
        )
        submitted = st.form_submit_button("Sign in", type="primary")
    if submitted:
        problem = sign_in(key)
        if problem is None:
            st.rerun()
        st.error(problem)
    return False


def show_error(exc: ApiError | httpx.HTTPError, doing: str) -> None:
    """An API failure as the user reads it: what we tried and what the API said."""
    if isinstance(exc, ApiError):
        st.error(f"Could not {doing}: {exc}")
    else:
        st.error(f"Could not {doing}: the API cannot be reached ({type(exc).__name__}).")
