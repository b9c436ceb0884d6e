"""The source viewer: the cited page of the original beside the quoted passage, with a download.

Citations carry character offsets, not page coordinates, so the passage is quoted beside the
page image rather than drawn on it. Documents without pages (Markdown, HTML, text) show the quote
alone. Page images and originals are fetched once per session.
"""

from __future__ import annotations

from typing import Any

import httpx
import streamlit as st

from ui import session
from ui.client import ApiError, Json

VIEWER = "viewer"


def open_source(
    document_id: str, title: str, pages: list[int], quote: str, marker: int | None = None
) -> None:
    st.session_state[VIEWER] = {
        "document_id": document_id,
        "title": title,
        "pages": pages,
        "quote": quote,
        "marker": marker,
    }


def open_citation(citation: Json) -> None:
    open_source(
        citation["document_id"],
        citation.get("title") or citation["document_id"][:12],
        list(citation.get("pages") or []),
        citation.get("quote", ""),
        citation.get("marker"),
    )


def open_passage(passage: Json) -> None:
    open_source(
        passage["document_id"],
        passage.get("source_name", ""),
        list(passage.get("pages") or []),
        passage["text"],
    )


def _cached(kind: str, key: tuple[Any, ...], fetch: Any) -> Any:
    store: dict[tuple[Any, ...], Any] = st.session_state.setdefault(f"cache-{kind}", {})
    if key not in store:
        store[key] = fetch()
    return store[key]


def render() -> None:
    """The viewer panel for the source opened last, if any."""
    source: Json | None = st.session_state.get(VIEWER)
    if not source:
        return
    client = session.client()
    with st.container(border=True, key="source-viewer"):
        head, close = st.columns([5, 1])
        marker = f"[{source['marker']}] " if source.get("marker") else ""
        head.subheader(f"{marker}{source['title']}")
        if close.button("Close", key="viewer-close"):
            del st.session_state[VIEWER]
            st.rerun()
        pages: list[int] = source["pages"]
        page = pages[0] if pages else None
        if len(pages) > 1:
            page = st.selectbox("Page", pages, key=f"viewer-page-{source['document_id']}")
        st.caption(f"Page {page}" if page else "No page numbers in this document")
        st.markdown("**Cited passage**")
        st.markdown(f":orange-background[{_escape(source['quote'])}]")
        if page:
            try:
                png = _cached(
                    "page",
                    (source["document_id"], page),
                    lambda: client.page_image(source["document_id"], page),
                )
                st.image(png, caption=f"{source['title']}, page {page}", width="stretch")
            except ApiError as exc:
                st.info(f"No page image: {exc}")
            except httpx.HTTPError as exc:
                session.show_error(exc, "load the page image")
        try:
            original = _cached(
                "original", (source["document_id"],), lambda: client.original(source["document_id"])
            )
            st.download_button(
                "Download original",
                data=original,
                file_name=source["title"].rsplit("/", 1)[-1] or "document",
                key=f"download-{source['document_id']}",
            )
        except (ApiError, httpx.HTTPError) as exc:
            session.show_error(exc, "fetch the original")


def _escape(text: str) -> str:
    """Markdown-safe passage text: brackets and the like stay literal inside the highlight."""
    for char in "\\`*_{}[]<>#|$~":
        text = text.replace(char, "\\" + char)
    return " ".join(text.split())
