"""The source viewer: the cited passage highlighted where it is printed, with a download.

A citation carries the document and the character offsets of its quote; the API maps them to the
boxes its words sit in. PDFs, scans and images show each page the passage is on with the passage
drawn on it, the view scrolled (cropped) to it and the whole page a click away. Documents without
page images (DOCX, HTML, Markdown, text) show the passage highlighted in the text around it. Where
the positions are unknown (a document parsed before they were kept), the viewer says so and shows
the page with the passage quoted beside it. Page images and originals are fetched once per session.
"""

from __future__ import annotations

import io
from typing import Any

import httpx
import streamlit as st

from ui import session
from ui.client import ApiError, Json

VIEWER = "viewer"
# How much of the page the scrolled view shows above the passage, and at least in all.
_ABOVE = 0.06
_WINDOW = 0.4


def open_source(
    document_id: str,
    title: str,
    pages: list[int],
    quote: str,
    marker: int | None = None,
    span: tuple[int, int] | None = None,
) -> None:
    st.session_state[VIEWER] = {
        "document_id": document_id,
        "title": title,
        "pages": pages,
        "quote": quote,
        "marker": marker,
        "span": list(span) if span else None,
    }


def _span(item: Json) -> tuple[int, int] | None:
    start, end = item.get("char_start"), item.get("char_end")
    return (int(start), int(end)) if isinstance(start, int) and isinstance(end, int) and end > start else None


def open_citation(citation: Json) -> None:
    open_source(
        citation["document_id"],
        citation.get("title") or citation["document_id"][:12],
        list(citation.get("pages") or []),
        citation.get("quote", ""),
        citation.get("marker"),
        _span(citation),
    )


def open_passage(passage: Json) -> None:
    open_source(
        passage["document_id"],
        passage.get("source_name", ""),
        list(passage.get("pages") or []),
        passage["text"],
        span=_span(passage),
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
    with st.container(border=True, key="source-viewer"):
        head, close = st.columns([5, 1])
        marker = f"[{source['marker']}] " if source.get("marker") else ""
        head.subheader(f"{marker}{source['title']}")
        if close.button("Close", key="viewer-close"):
            del st.session_state[VIEWER]
            st.rerun()
        where = _where(source)
        if where is not None and where.get("boxes_known") and where.get("boxes"):
            _highlighted_pages(source, where)
        elif where is not None and not where.get("page_images", True) and where.get("context"):
            _in_text(where)
        else:
            if where is not None:
                st.info(
                    "Where this passage sits on the page is not known for this document: "
                    "it is quoted beside the page instead."
                )
            _quoted_beside_page(source)
        _download(source)


def _where(source: Json) -> Json | None:
    """The passage's boxes and surrounding text, or None where the API cannot say (no offsets)."""
    if not source.get("span"):
        return None
    start, end = source["span"]
    try:
        result: Json = _cached(
            "passage",
            (source["document_id"], start, end),
            lambda: session.client().passage(source["document_id"], start, end),
        )
        return result
    except (ApiError, httpx.HTTPError):
        return None


def _highlighted_pages(source: Json, where: Json) -> None:
    client = session.client()
    start, end = source["span"]
    pages: list[int] = where["pages"]
    st.caption(("Pages " if len(pages) > 1 else "Page ") + ", ".join(str(p) for p in pages))
    st.markdown("**Cited passage**, highlighted on the page")
    st.markdown(f":orange-background[{_escape(source['quote'])}]")
    for page in pages:
        try:
            png = _cached(
                "page",
                (source["document_id"], page, start, end),
                lambda page=page: client.page_image(source["document_id"], page, start, end),
            )
        except ApiError as exc:
            st.info(f"No page image: {exc}")
            continue
        except httpx.HTTPError as exc:
            session.show_error(exc, "load the page image")
            continue
        boxes = [b for b in where["boxes"] if b["page"] == page]
        st.image(
            _scrolled(png, boxes),
            caption=f"{source['title']}, page {page}: the cited passage, highlighted",
            width="stretch",
        )
        with st.expander(f"Whole page {page}"):
            st.image(png, width="stretch")


def _scrolled(png: bytes, boxes: list[Json]) -> bytes:
    """The part of the page around the passage, as if scrolled to it (the whole page if the image
    will not open)."""
    from PIL import Image, UnidentifiedImageError

    try:
        image = Image.open(io.BytesIO(png))
        image.load()
    except (OSError, UnidentifiedImageError):
        return png
    top = max(min(b["y0"] for b in boxes) - _ABOVE, 0.0)
    bottom = min(max(max(b["y1"] for b in boxes) + _ABOVE, top + _WINDOW), 1.0)
    top = max(min(top, bottom - _WINDOW), 0.0)
    upper = min(round(top * image.height), image.height - 1)
    crop = image.crop((0, upper, image.width, max(round(bottom * image.height), upper + 1)))
    out = io.BytesIO()
    crop.save(out, format="PNG")
    return out.getvalue()


def _in_text(where: Json) -> None:
    text: str = where["context"]
    start, end = where["context_start"], where["context_end"]
    st.caption("The cited passage in its text (this format has no page images)")
    before, passage, after = _escape(text[:start]), _escape(text[start:end]), _escape(text[end:])
    st.markdown(
        (f"… {before} " if before else "")
        + f":orange-background[{passage}]"
        + (f" {after} …" if after else "")
    )


def _quoted_beside_page(source: Json) -> None:
    """The view for a source whose positions are unknown: the page, the passage quoted beside it."""
    client = session.client()
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


def _download(source: Json) -> None:
    client = session.client()
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
