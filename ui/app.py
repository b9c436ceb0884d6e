"""Sourcebook's web app: `streamlit run ui/app.py` (the API URL comes from SOURCEBOOK_API_URL).

Pages follow the signed-in user's role from GET /v1/me: everyone asks, browses the library and
sees insights (an agent, their own questions only); curators (admin, knowledge manager) also
upload and curate; reviewers (admin, knowledge manager, engineer) also work the review queue.
"""

from __future__ import annotations

import streamlit as st

from ui import session
from ui.views import ask, insights, library, review


def main() -> None:
    st.set_page_config(page_title="Sourcebook", page_icon=":material/menu_book:", layout="wide")
    if not session.sign_in_gate():
        return
    pages = [
        st.Page(ask.render, title="Ask", icon=":material/forum:", url_path="ask", default=True),
        st.Page(library.render, title="Library", icon=":material/folder_open:", url_path="library"),
    ]
    if session.can_review():
        pages.append(st.Page(review.render, title="Review", icon=":material/fact_check:", url_path="review"))
    pages.append(st.Page(insights.render, title="Insights", icon=":material/insights:", url_path="insights"))
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
