"""``ingest``, ``reindex`` and ``delete`` through a running server (``remote.py``): the same
progress bars and report as when the CLI opens the data folder itself."""

from __future__ import annotations

import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any
from urllib.parse import quote

import typer
from rich.progress import TaskID
from rich.table import Table

from sourcebook.cli.context import console, err, progress_bars
from sourcebook.cli.remote import Remote, fail

BATCH = 20  # files per upload request (the API takes up to 100)
FINISHED = {"succeeded", "failed"}


def ingest(
    server: Remote, files: list[tuple[Path, str]], collection: str, *, team: str, retry_failed: bool
) -> None:
    found = server.http.get(f"/v1/collections/{quote(collection, safe='')}")
    if found.status_code == 404:
        server.call("POST", "/v1/collections", json={"name": collection, "team": team})
    elif found.status_code >= 400:
        fail(found)
    results: list[dict[str, Any]] = []
    with progress_bars() as progress:
        overall = progress.add_task("documents", total=len(files), stage="")
        for start in range(0, len(files), BATCH):
            results.extend(_upload(server, collection, files[start : start + BATCH]))
        if retry_failed:
            results = [_retried(server, r) for r in results]
        tasks: dict[str, TaskID] = {}
        for r in results:
            if r["outcome"] == "queued" and r["job_id"]:
                tasks[r["job_id"]] = progress.add_task(
                    f"  {r['source_name'][:40]}", total=100, stage="queued"
                )
            else:
                progress.advance(overall)
        jobs: dict[str, dict[str, Any]] = {}
        while tasks:
            for job_id, task in list(tasks.items()):
                job = server.call("GET", f"/v1/jobs/{job_id}")
                progress.update(task, completed=int(job["progress"] * 100), stage=job["stage"])
                if job["state"] in FINISHED:
                    jobs[job_id] = job
                    progress.remove_task(tasks.pop(job_id))
                    progress.advance(overall)
            time.sleep(0.2)
    _report(results, jobs)


def _upload(server: Remote, collection: str, batch: list[tuple[Path, str]]) -> list[dict[str, Any]]:
    with ExitStack() as stack:
        parts = [("files", (name, stack.enter_context(path.open("rb")))) for path, name in batch]
        response = server.http.post("/v1/documents", data={"collection": collection}, files=parts)
    if response.status_code == 202:
        results: list[dict[str, Any]] = response.json()["results"]
        return results
    if len(batch) == 1 and response.status_code in {400, 413, 415, 422}:
        # A request of one file fails with that file's own error: it is that file's reason.
        reason = response.json().get("detail", response.text)
        return [{"source_name": batch[0][1], "outcome": "rejected", "job_id": None, "reason": reason}]
    fail(response)
    return []


def _retried(server: Remote, result: dict[str, Any]) -> dict[str, Any]:
    """What ``--retry-failed`` does: a document that failed before is processed again."""
    if result["outcome"] != "unchanged" or not result["reason"] or not result["document_id"]:
        return result
    retried: dict[str, Any] = server.call("POST", f"/v1/documents/{result['document_id']}/retry")
    return retried


def _report(results: list[dict[str, Any]], jobs: dict[str, dict[str, Any]]) -> None:
    ready = failed = unchanged = 0
    table = Table("file", "status", "reason", title="Not ingested", show_lines=False)
    for r in results:
        if r["outcome"] == "unchanged":
            unchanged += 1
            continue
        job = jobs.get(r["job_id"] or "")
        if job is not None and job["state"] == "succeeded":
            ready += 1
            continue
        failed += 1
        table.add_row(r["source_name"], "failed", (job or {}).get("error") or r["reason"] or "")
    if failed:
        console.print(table)
    console.print(f"[green]{ready} ingested[/], {unchanged} unchanged, [red]{failed} failed[/]")


def reindex(server: Remote, collection: str, *, wait: bool) -> None:
    name = quote(collection, safe="")
    before = {d["id"] for d in _documents(server, collection) if d["status"] == "ready"}
    queued = server.call("POST", f"/v1/collections/{name}/reindex")["queued"]
    if not wait or not queued:
        console.print(f"{queued or 0} documents queued for re-indexing")
        return
    err.print(f"re-indexing {queued} documents…")
    while True:
        docs = _documents(server, collection)
        pending = [d for d in docs if d["id"] in before and d.get("stage") not in {"done", "failed", None}]
        if not pending:
            break
        time.sleep(0.5)
    failed = [d for d in docs if d["id"] in before and d.get("stage") == "failed"]
    for d in failed:
        err.print(f"[red]not re-indexed:[/] {d['source_name']} (its current chunks stay)")
    console.print(f"[green]{len(before) - len(failed)} re-indexed[/], [red]{len(failed)} failed[/]")


def _documents(server: Remote, collection: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = server.call("GET", "/v1/documents", params={"collection": collection})
    return found


def delete(server: Remote, document_id: str) -> str:
    """Delete by id or id prefix, as the documents table shows them; the full id deleted."""
    full = _resolve(server, document_id)
    server.call("DELETE", f"/v1/documents/{full}")
    return full


def _resolve(server: Remote, document_id: str) -> str:
    if server.http.get(f"/v1/documents/{quote(document_id, safe='')}").status_code == 200:
        return document_id
    everyone: list[dict[str, Any]] = server.call("GET", "/v1/documents")
    matches = [d["id"] for d in everyone if d["id"].startswith(document_id)]
    if len(matches) == 1:
        return str(matches[0])
    what = (
        f"no document with id {document_id!r}" if not matches else f"id prefix {document_id!r} is ambiguous"
    )
    err.print(f"[red]error:[/] {what}")
    raise typer.Exit(1)
