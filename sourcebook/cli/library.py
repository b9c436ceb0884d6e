"""The library: ingest folders, list collections and documents, re-index, rebuild, delete."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import TaskID
from rich.table import Table

from core.domain import Document, DocumentStatus, JobState
from sourcebook.cli import remote_library
from sourcebook.cli.context import (
    CollectionOpt,
    JsonOpt,
    console,
    err,
    operator,
    progress_bars,
    resolve,
    services,
)
from sourcebook.cli.remote import running_server
from sourcebook.wiring import Services

if TYPE_CHECKING:
    from ingest.executor import JobEvent
    from ingest.intake import Submission


def _files(paths: list[Path]) -> list[tuple[Path, str]]:
    """Files to ingest, each with its name: its path below the folder given, or its file name."""
    found: list[tuple[Path, str]] = []
    for path in paths:
        if path.is_dir():
            found.extend(
                (p, p.relative_to(path).as_posix())
                for p in sorted(path.rglob("*"))
                if p.is_file() and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
        elif path.is_file():
            found.append((path, path.name))
        else:
            err.print(f"[yellow]skipped:[/] {path} does not exist")
    return found


def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders (searched recursively).")],
    collection: CollectionOpt,
    team: Annotated[str, typer.Option(help="Team that owns a new collection.")] = "default",
    retry_failed: Annotated[bool, typer.Option(help="Process documents that failed before again.")] = False,
) -> None:
    """Parse, OCR, chunk, embed and index documents. Re-running skips what is already in."""
    from ingest.intake import Outcome

    files = _files(paths)
    if not files:
        err.print("nothing to ingest")
        raise typer.Exit(1)
    with running_server() as server:
        if server is not None:
            remote_library.ingest(server, files, collection, team=team, retry_failed=retry_failed)
            return
    with services() as s:
        s.catalog.ensure_collection(collection, team=team)
        with progress_bars() as progress:
            overall = progress.add_task("documents", total=len(files), stage="")
            tasks: dict[str, TaskID] = {}

            def on_event(event: JobEvent) -> None:
                task = tasks.get(event.job_id)
                if task is None:
                    return
                progress.update(task, completed=int(event.progress * 100), stage=event.stage)
                if event.stage in {"done", "failed"}:
                    progress.remove_task(task)
                    progress.advance(overall)

            s.executor.subscribe(on_event)
            submissions = []
            for path, name in files:
                submission = s.intake.add_path(
                    collection, path, name=name, retry_failed=retry_failed, actor=operator()
                )
                submissions.append(submission)
                if submission.job_id and submission.outcome is Outcome.QUEUED:
                    tasks[submission.job_id] = progress.add_task(
                        f"  {submission.source_name[:40]}", total=100, stage="queued"
                    )
                else:
                    progress.advance(overall)
            s.executor.wait()
        _report(s, submissions)


def _report(s: Services, submissions: list[Submission]) -> None:
    from ingest.intake import Outcome

    ready = failed = unchanged = replaced = 0
    table = Table("file", "status", "reason", title="Not ingested", show_lines=False)
    for sub in submissions:
        if sub.outcome is Outcome.UNCHANGED:
            unchanged += 1
            continue
        doc = s.catalog.find_document(sub.document_id) if sub.document_id else None
        if doc is None and sub.outcome is Outcome.QUEUED:
            replaced += 1  # a later file of the same name in this batch replaced it
        elif doc is not None and doc.status is DocumentStatus.READY:
            ready += 1
        else:
            failed += 1
            reason = doc.failure_reason if doc else sub.reason
            table.add_row(sub.source_name, "failed", reason or "")
    if failed:
        console.print(table)
    note = f", {replaced} replaced by a later file of the same name" if replaced else ""
    console.print(f"[green]{ready} ingested[/], {unchanged} unchanged, [red]{failed} failed[/]{note}")


def collections() -> None:
    """List collections with their document and chunk counts."""
    with services() as s:
        table = Table("collection", "team", "documents", "chunks")
        for c in s.catalog.collections():
            table.add_row(c.name, c.team, str(c.document_count), str(c.chunk_count))
        console.print(table)


def documents(collection: CollectionOpt, as_json: JsonOpt = False) -> None:
    """List a collection's documents with their status."""
    with services() as s:
        s.catalog.collection_team(collection)  # NotFound for a wrong name
        docs = s.catalog.documents(collection)
        if as_json:
            print(json.dumps([_doc_json(d) for d in docs], indent=2))
            return
        table = Table("id", "name", "type", "pages", "status", "reason")
        for d in docs:
            colour = {"ready": "green", "failed": "red"}.get(d.status.value, "yellow")
            table.add_row(
                d.id[:12],
                d.source_name,
                d.media_type.rsplit("/", 1)[-1][:24],
                str(d.page_count or ""),
                f"[{colour}]{d.status.value}[/]",
                d.failure_reason or "",
            )
        console.print(table)


def _doc_json(d: Document) -> dict[str, object]:
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in asdict(d).items()}


def _node_json(s: Services) -> dict[str, object]:
    settings = s.settings
    switched = s.model_switches.live()  # the catalog, not the store: a running server may hold it
    return {
        "embedder": switched.model if switched else settings.embedder,
        "embed_precision": s.precision.dtype,
        "embed_precision_reason": s.precision.reason,
        "question_runtime": settings.question_runtime,
        "vector_store": settings.vector_store,
        "executor": settings.executor,
        "workers": settings.workers,
        "documents": len(s.catalog.documents()),
        "chunks": s.catalog.chunk_count(),
    }


def status(
    document_id: Annotated[
        str | None, typer.Argument(help="A document id (or prefix); none: this node.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Show one document (status, failure reason, pages, chunks), or without an id this node's
    setup: embedder, its precision on this CPU and why, store, executor, workers."""
    with services() as s:
        if document_id is None:
            data = _node_json(s)
        else:
            doc = s.catalog.get_document(resolve(s, document_id))
            data = _doc_json(doc) | {"chunks": s.catalog.chunk_count(document_id=doc.id)}
        if as_json:
            print(json.dumps(data, indent=2))
            return
        for key, value in data.items():
            console.print(f"[bold]{key}[/]: {value}")


def reindex(
    collection: CollectionOpt,
    wait: Annotated[bool, typer.Option(help="Wait until every document is processed again.")] = True,
) -> None:
    """Process a collection's documents again (after changing chunking or parsing); they stay searchable."""
    with running_server() as server:
        if server is not None:
            remote_library.reindex(server, collection, wait=wait)
            return
    with services() as s:
        queued = s.library.reindex_here(collection)
        if not wait:
            console.print(f"{len(queued)} documents queued for re-indexing")
            return
        s.executor.wait()
        failed = Table("file", "reason", title="Not re-indexed (their current chunks stay)")
        done = 0
        for sub in queued:
            job = s.jobs.get(str(sub.job_id))
            if job.state is JobState.SUCCEEDED:
                done += 1
            else:
                failed.add_row(sub.source_name, job.error or job.state.value)
        if failed.row_count:
            console.print(failed)
        console.print(f"[green]{done} re-indexed[/], [red]{failed.row_count} failed[/]")


def rebuild_index() -> None:
    """Rebuild the whole index beside the live one, then switch to it (Qdrant Edge or server).

    Searches keep using the live index until the switch; uploads and deletes may go on.
    """
    with running_server() as server:
        if server is not None:
            found = server.call("POST", "/v1/index/rebuild")
            _rebuilt(found["failed"], found["switch"] is not None, found["rebuilt"], found["dropped"])
            return
    with services() as s:
        switch, report = s.models.rebuild(operator())
        _rebuilt(report.failed, switch is not None, report.rebuilt, report.dropped)


def _rebuilt(failed: list[tuple[str, str]], switched: bool, rebuilt: int, dropped: int) -> None:
    for name, reason in failed:
        err.print(f"[red]not rebuilt:[/] {name}: {reason}")
    if not switched:
        err.print("[red]the live index stays; the rebuilt one was dropped[/]")
        raise typer.Exit(1)
    console.print(f"[green]{rebuilt} documents rebuilt[/], {dropped} dropped; switched")


def delete(document_id: str) -> None:
    """Delete a document: its vectors, chunks, catalog row and stored original."""
    with running_server() as server:
        if server is not None:
            console.print(f"deleted {remote_library.delete(server, document_id)}")
            return
    with services() as s:
        full = resolve(s, document_id)
        s.library.delete_document(full)
        console.print(f"deleted {full}")
