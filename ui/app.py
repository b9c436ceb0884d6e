"""Sourcebook's web app: `streamlit run ui/app.py` (the API URL comes from SOURCEBOOK_API_URL).

Pages follow the signed-in user's role from GET /v1/me: everyone asks and browses the library;
curators (admin, knowledge manager) also upload and curate; reviewers (admin, knowledge manager,
engineer) also see the review queue and insights.
"""

from __future__ import annotations

import streamlit as st

from ui import session
from ui.views import ask, insights, library, review


def main() -> None:
    st.set_page_config(page_title="Sourcebook", page_icon="📚", layout="wide")
    if not session.sign_in_gate():
        return
    pages = [
        st.Page(ask.render, title="Ask", icon="💬", url_path="ask", default=True),
        st.Page(library.render, title="Library", icon="📁", url_path="library"),
    ]
    if session.is_reviewer():
        pages += [
            st.Page(review.render, title="Review", icon="✅", url_path="review"),
            st.Page(insights.render, title="Insights", icon="📈", url_path="insights"),
        ]
    page = st.navigation(pages)
    who = session.me()
    with st.sidebar:
        st.markdown(f"**{who.get('user', '?')}**  \n{who.get('role', '?')}")
        teams = who.get("teams") or []
        st.caption("Teams: " + (", ".join(teams) if teams else "all"))
        if st.button("Sign out"):
            session.sign_out()
            st.rerun()
    page.run()


main()
