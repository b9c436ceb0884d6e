"""Library: collections and their documents; curators upload, retry, delete and re-index.

Uploads go one file per request so each file gets its own progress bar; the list refreshes
itself every couple of seconds while anything is still queued or processing.
"""

from __future__ import annotations

import httpx
import streamlit as st

from core.domain import DocumentStatus, JobState
from ui import session
from ui.client import ApiError, Json

PENDING = "library-pending"  # job id -> file name, for uploads still being processed
NOTICE = "library-notice"  # what the last collection-wide action started
OUTCOMES = "library-outcomes"  # file name -> how its processing ended, shown until the next upload
FINISHED_JOBS = {JobState.SUCCEEDED.value, JobState.FAILED.value, JobState.SKIPPED.value}
BUSY = {DocumentStatus.QUEUED.value, DocumentStatus.PROCESSING.value}
BUSY_FLAG = "library-busy"
REFRESH_S = 2.0


def render() -> None:
    st.title("Library")
    client = session.client()
    try:
        collections = client.collections()
    except (ApiError, httpx.HTTPError) as exc:
        session.show_error(exc, "list your collections")
        return
    if session.can_upload():
        _new_collection()
    if not collections:
        st.info("No collections yet.")
        return
    st.dataframe(
        [
            {
                "collection": c["name"],
                "team": c["team"],
                "documents": c["document_count"],
                "chunks": c["chunk_count"],
                "description": c.get("description", ""),
            }
            for c in collections
        ],
        hide_index=True,
        width="stretch",
    )
    names = [c["name"] for c in collections]
    name = st.selectbox("Collection", names, key="library-collection")
    if session.can_upload():
        _upload(name)
        if st.button("Re-index collection", key="reindex", help="Embed and index every document again."):
            try:
                queued = client.reindex(name).get("queued")
                count = f"{queued} documents" if isinstance(queued, int) else "its documents"
                st.session_state[NOTICE] = f"Re-indexing {count} of {name}; they stay searchable meanwhile."
                st.session_state[BUSY_FLAG] = True  # watch them on the timer
            except (ApiError, httpx.HTTPError) as exc:
                session.show_error(exc, f"re-index {name}")
        if st.session_state.get(NOTICE):
            st.success(st.session_state[NOTICE])
    if st.session_state.get(PENDING) or st.session_state.get(BUSY_FLAG):
        _live_documents(name)
        _model()
    else:
        busy = _documents(name)
        _model()
        if busy:
            st.rerun()  # something is processing: watch it on the timer


def _model() -> None:
    """Which embedding model answers, and every switch and rollback (``sourcebook models``)."""
    try:
        found = session.client().models()
    except (ApiError, httpx.HTTPError) as exc:
        session.show_error(exc, "load the embedding models")
        return
    with st.expander(f"Embedding model: {found['live']}", expanded=False):
        st.caption(
            "Switch with `sourcebook models use NAME` or roll back with `sourcebook models rollback`: "
            "the index is rebuilt beside the live one, which keeps answering until the switch."
        )
        st.dataframe(
            [
                {
                    "live": "●" if m["live"] else "",
                    "model": m["name"],
                    "base": m["base"],
                    "passed the gate": "yes" if m["offered"] else "no",
                    "created": (m["created_at"] or "")[:19],
                }
                for m in found["models"]
            ],
            hide_index=True,
            width="stretch",
        )
        if found["switches"]:
            st.dataframe(
                [
                    {
                        "when": w["at"][:19],
                        "what": w["action"],
                        "from": w["previous_model"] or "",
                        "to": w["model"],
                        "by": w["actor"],
                        "documents": w["documents"],
                    }
                    for w in found["switches"]
                ],
                hide_index=True,
                width="stretch",
            )


def _new_collection() -> None:
    teams = session.me().get("teams") or []
    with st.expander("New collection"), st.form("new-collection", clear_on_submit=True):
        name = st.text_input("Name", placeholder="e.g. billing-kb")
        team = st.selectbox("Team", teams) if teams else st.text_input("Team")
        description = st.text_input("Description")
        if st.form_submit_button("Create"):
            try:
                session.client().create_collection(name.strip(), str(team or "").strip(), description)
                st.success(f"Created {name}.")
            except (ApiError, httpx.HTTPError) as exc:
                session.show_error(exc, f"create {name!r}")


def _upload(collection: str) -> None:
    round_ = st.session_state.setdefault("upload-round", 0)
    files = st.file_uploader(f"Upload to {collection}", accept_multiple_files=True, key=f"uploader-{round_}")
    if not files or not st.button("Upload files", type="primary", key="upload"):
        return
    pending: dict[str, str] = st.session_state.setdefault(PENDING, {})
    st.session_state[OUTCOMES] = {}
    st.session_state.pop(NOTICE, None)
    for file in files:
        bar = st.progress(0.0, text=f"{file.name}: uploading")
        try:
            result = session.client().upload(collection, file.name, file.getvalue())
        except (ApiError, httpx.HTTPError) as exc:
            bar.empty()
            session.show_error(exc, f"upload {file.name}")
            continue
        if result["outcome"] == "queued" and result.get("job_id"):
            pending[result["job_id"]] = file.name
            bar.progress(0.05, text=f"{file.name}: queued")
        elif result["outcome"] == "unchanged":
            bar.progress(1.0, text=f"{file.name}: already in the collection, unchanged")
        else:
            bar.empty()
            st.error(f"{file.name} was rejected: {result.get('reason')}")
    st.session_state["upload-round"] = round_ + 1  # a fresh, empty uploader next time


@st.fragment(run_every=REFRESH_S)
def _live_documents(collection: str) -> None:
    """The list on a timer while uploads are processed; once all settle, a plain page again."""
    if not _documents(collection):
        st.rerun()


def _documents(collection: str) -> bool:
    """Documents and upload progress; True while anything is still queued or processing."""
    client = session.client()
    _pending_jobs()
    try:
        docs = client.documents(collection)
    except (ApiError, httpx.HTTPError) as exc:
        session.show_error(exc, f"list the documents of {collection}")
        return False
    busy = sum(d["status"] in BUSY for d in docs)
    st.session_state[BUSY_FLAG] = bool(busy or st.session_state.get(PENDING))
    st.subheader(f"Documents ({len(docs)})")
    if not docs:
        st.caption("No documents yet.")
        return bool(st.session_state[BUSY_FLAG])
    if busy:
        st.caption(f"{busy} processing: this list refreshes itself.")
    st.dataframe(
        [
            {
                "document": d["source_name"],
                "status": d["status"],
                "progress": d["progress"]
                if d["progress"] is not None
                else (1.0 if d["status"] == "ready" else 0.0),
                "stage": d.get("stage") or "",
                "pages": d.get("page_count"),
                "failure reason": d.get("failure_reason") or "",
                "version": d["version"],
                "updated": (d.get("updated_at") or "")[:19],
                "id": d["id"][:12],
            }
            for d in docs
        ],
        column_config={"progress": st.column_config.ProgressColumn("progress", min_value=0.0, max_value=1.0)},
        hide_index=True,
        width="stretch",
    )
    if session.can_upload():
        _document_actions(docs)
    return bool(st.session_state[BUSY_FLAG])


def _pending_jobs() -> None:
    """A progress bar per upload still in work; how each finished one ended."""
    pending: dict[str, str] = st.session_state.get(PENDING, {})
    outcomes: dict[str, str | None] = st.session_state.setdefault(OUTCOMES, {})
    for job_id, name in list(pending.items()):
        try:
            job = session.client().job(job_id)
        except (ApiError, httpx.HTTPError) as exc:
            pending.pop(job_id)
            outcomes[name] = f"its progress cannot be read ({exc})"
            continue
        if job["state"] in FINISHED_JOBS:
            pending.pop(job_id)
            failed = job["state"] == JobState.FAILED.value
            outcomes[name] = (job.get("error") or "failed") if failed else None
            continue
        st.progress(float(job["progress"]), text=f"{name}: {job['stage']} ({job['progress']:.0%})")
    for name, problem in outcomes.items():
        if problem is None:
            st.success(f"{name} is ready.")
        else:
            st.error(f"{name} failed: {problem}")


def _document_actions(docs: list[Json]) -> None:
    labels = {f"{d['source_name']} · {d['status']} · {d['id'][:8]}": d for d in docs}
    choice = st.selectbox(
        "Document", list(labels), index=None, key="library-doc", placeholder="Pick a document"
    )
    if choice is None:
        return
    doc = labels[choice]
    left, right = st.columns(2)
    if doc["status"] == DocumentStatus.FAILED.value and left.button("Retry", key=f"retry-{doc['id']}"):
        try:
            result = session.client().retry(doc["id"])
            st.session_state.setdefault(PENDING, {})[result["job_id"]] = doc["source_name"]
            st.rerun()
        except (ApiError, httpx.HTTPError) as exc:
            session.show_error(exc, f"retry {doc['source_name']}")
    confirm = right.checkbox("Yes, delete it", key=f"confirm-{doc['id']}")
    if right.button("Delete", key=f"delete-{doc['id']}", disabled=not confirm):
        try:
            session.client().delete_document(doc["id"])
            st.session_state.pop("library-doc", None)
            st.rerun()
        except (ApiError, httpx.HTTPError) as exc:
            session.show_error(exc, f"delete {doc['source_name']}")
