"""``sourcebook``: ingest folders, look at collections and documents, search."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from core.domain import DocumentStatus
from core.errors import SourcebookError
from core.services import Services
from core.settings import Settings

if TYPE_CHECKING:
    from ingest.executor import JobEvent
    from ingest.intake import Submission

app = typer.Typer(help="Sourcebook: answers from your own documents, with citations.", no_args_is_help=True)
console = Console()
err = Console(stderr=True)

CollectionOpt = Annotated[str, typer.Option("--collection", "-c", help="Collection name.")]


@contextmanager
def services() -> Iterator[Services]:
    try:
        opened = Services.open(Settings())
    except SourcebookError as exc:
        err.print(f"[red]error:[/] {exc.reason}")
        raise typer.Exit(2) from exc
    try:
        yield opened
    except SourcebookError as exc:
        err.print(f"[red]error:[/] {exc.reason}")
        raise typer.Exit(1) from exc
    finally:
        opened.close()


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


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders (searched recursively).")],
    collection: CollectionOpt,
    team: Annotated[str, typer.Option(help="Team that owns a new collection.")] = "default",
    retry_failed: Annotated[bool, typer.Option(help="Process documents that failed before again.")] = False,
) -> None:
    """Parse, OCR, chunk, embed and index documents. Re-running skips what is already in."""
    files = _files(paths)
    if not files:
        err.print("nothing to ingest")
        raise typer.Exit(1)
    with services() as s:
        s.catalog.ensure_collection(collection, team=team)
        columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[stage]}"),
            TimeElapsedColumn(),
        )
        with Progress(*columns, console=err, transient=False) as progress:
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
                submission = s.intake.add_path(collection, path, name=name, retry_failed=retry_failed)
                submissions.append(submission)
                if submission.job_id and submission.outcome.value == "queued":
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


@app.command()
def collections() -> None:
    """List collections with their document and chunk counts."""
    with services() as s:
        table = Table("collection", "team", "documents", "chunks")
        for c in s.catalog.collections():
            table.add_row(c.name, c.team, str(c.document_count), str(c.chunk_count))
        console.print(table)


@app.command()
def documents(
    collection: CollectionOpt,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
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


def _doc_json(d: object) -> dict[str, object]:
    from dataclasses import asdict

    data = asdict(d)  # type: ignore[call-overload]
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in data.items()}


def _resolve(s: Services, document_id: str) -> str:
    """Accept an id prefix, as the documents table shows them."""
    if s.catalog.find_document(document_id):
        return document_id
    matches = [d.id for d in s.catalog.documents() if d.id.startswith(document_id)]
    if len(matches) == 1:
        return matches[0]
    from core.errors import NotFound

    raise NotFound(
        f"no document with id {document_id!r}" if not matches else f"id prefix {document_id!r} is ambiguous"
    )


@app.command()
def status(document_id: str, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Show one document: status, failure reason, pages, chunks."""
    with services() as s:
        doc = s.catalog.get_document(_resolve(s, document_id))
        data = _doc_json(doc) | {"chunks": s.catalog.chunk_count(document_id=doc.id)}
        if as_json:
            print(json.dumps(data, indent=2))
            return
        for key, value in data.items():
            console.print(f"[bold]{key}[/]: {value}")


@app.command()
def reindex(
    collection: CollectionOpt,
    wait: Annotated[bool, typer.Option(help="Wait until every document is processed again.")] = True,
) -> None:
    """Process a collection's documents again (after changing chunking or parsing); they stay searchable."""
    with services() as s:
        queued = s.intake.reindex(collection)
        if not wait:
            console.print(f"{len(queued)} documents queued for re-indexing")
            return
        s.executor.wait()
        failed = Table("file", "reason", title="Not re-indexed (their current chunks stay)")
        done = 0
        for sub in queued:
            job = s.catalog.get_job(str(sub.job_id))
            if job.state.value == "succeeded":
                done += 1
            else:
                failed.add_row(sub.source_name, job.error or job.state.value)
        if failed.row_count:
            console.print(failed)
        console.print(f"[green]{done} re-indexed[/], [red]{failed.row_count} failed[/]")


@app.command("rebuild-index")
def rebuild_index() -> None:
    """Rebuild the whole index beside the live one, then switch to it (Qdrant server store).

    Searches keep using the live index until the switch; uploads and deletes may go on.
    """
    with services() as s:
        report = s.rebuild_index()
        for name, reason in report.failed:
            err.print(f"[red]not rebuilt:[/] {name}: {reason}")
        if not report.switched:
            err.print("[red]the live index stays; the rebuilt one was dropped[/]")
            raise typer.Exit(1)
        console.print(f"[green]{report.rebuilt} documents rebuilt[/], {report.dropped} dropped; switched")


@app.command()
def delete(document_id: str) -> None:
    """Delete a document: its vectors, chunks, catalog row and stored original."""
    with services() as s:
        full = _resolve(s, document_id)
        s.delete_document(full)
        console.print(f"deleted {full}")


@app.command()
def search(
    query: str,
    collection: CollectionOpt,
    limit: Annotated[int, typer.Option(min=1, max=100)] = 5,
    mode: Annotated[str, typer.Option(help="dense, sparse or hybrid")] = "dense",
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Search a collection; shows each passage with its document and pages."""
    from core.protocols import SearchFilter, SearchRequest

    if mode not in {"dense", "sparse", "hybrid"}:
        err.print("--mode must be dense, sparse or hybrid")
        raise typer.Exit(2)
    with services() as s:
        s.catalog.collection_team(collection)
        vector = s.embedder.embed([query])[0].tolist() if mode != "sparse" else None
        request = SearchRequest(query, vector, limit, mode, SearchFilter(collections=(collection,)))  # type: ignore[arg-type]
        passages = s.store.search(request)
        if as_json:
            from dataclasses import asdict

            print(json.dumps([asdict(p) for p in passages], indent=2))
            return
        if not passages:
            console.print("no passages found")
        for rank, p in enumerate(passages, start=1):
            pages = ", ".join(map(str, p.pages))
            section = " > ".join(p.section_path)
            console.print(
                f"[bold]{rank}. {p.source_name}[/] p. {pages}  [dim]{section}  score {p.score:.3f}[/]"
            )
            console.print(f"   {' '.join(p.text.split())[:300]}")


@app.command()
def ask(
    question: str,
    collection: CollectionOpt,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Answer a question from a collection, citing document and page for every sentence.

    Asked as the operator (an admin), through the same controls as the API: quota, answer log
    and audit trail.
    """
    from dataclasses import asdict

    from core.access import Principal, Role
    from core.protocols import SearchFilter

    with services() as s:
        s.catalog.collection_team(collection)
        operator = Principal(_operator(), Role.ADMIN, ())
        outcome = s.answering.ask(operator, question, SearchFilter(collections=(collection,)), passages=6)
        answer = outcome.answer
        if as_json:
            print(json.dumps(asdict(answer) | {"answer_id": outcome.answer_id}, indent=2, default=str))
            return
        style = "yellow" if answer.refused else "green"
        console.print(f"[{style}]{answer.text}[/]")
        for c in answer.citations:
            pages = ", ".join(map(str, c.pages))
            console.print(f"  [bold][{c.marker}][/] {c.title}, p. {pages}: [dim]{c.quote[:160]}[/]")
        if answer.refused:
            console.print("[bold]Closest passages:[/]")
            for p in answer.passages[:3]:
                console.print(f"  {p.source_name} p. {', '.join(map(str, p.pages))}: [dim]{p.text[:160]}[/]")


@app.command()
def serve(
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8000,
) -> None:
    """Serve the HTTP API (docs at /docs). The first start writes an admin key to $SOURCEBOOK_HOME."""
    import uvicorn

    from api.app import create_app

    uvicorn.run(create_app(Settings()), host=host, port=port, log_level="info")


@app.command()
def up(
    samples: Annotated[Path, typer.Option(help="Folder ingested first.")] = Path("samples/acme-support"),
    collection: Annotated[str, typer.Option(help="Its collection.")] = "acme-support",
    team: Annotated[str, typer.Option(help="The collection's team, and the demo key's.")] = "support",
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="The API's port.")] = 8000,
    ui_port: Annotated[int, typer.Option(help="The web app's port.")] = 8501,
) -> None:
    """Ingest the samples, print a demo key, serve the API and the web app; Ctrl-C stops both."""
    from core import launcher
    from core.access import Role
    from core.catalog.keys import KeyRing

    if samples.exists():
        ingest([samples], collection=collection, team=team, retry_failed=False)
    with services() as s:
        demo = KeyRing(s.catalog).issue(f"demo-{team}", Role.KNOWLEDGE_MANAGER, (team,), actor=_operator())
    api_url = f"http://{host}:{port}"

    def ready() -> None:
        console.print(f"\n[bold]Sourcebook is up.[/] API {api_url} (docs {api_url}/docs)")
        console.print(f"Web app: [bold]http://{host}:{ui_port}[/]  (Ctrl-C stops both)")
        console.print(f"Demo API key ({demo.user}, knowledge manager of team {team}); sign in with:")
        print(demo.secret, flush=True)

    services_ = [launcher.api_service(host, port), launcher.ui_service(host, ui_port)]
    raise typer.Exit(launcher.run_together(services_, {"SOURCEBOOK_API_URL": api_url}, ready))


keys_app = typer.Typer(help="API keys: create and revoke.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")


@keys_app.command("create")
def keys_create(
    team: Annotated[list[str], typer.Option(help="Team(s) the key's user belongs to.")],
    role: Annotated[str, typer.Option(help="admin, knowledge_manager, agent or engineer")] = "agent",
    user: Annotated[str | None, typer.Option(help="User name (default: derived from role and team).")] = None,
) -> None:
    """Create an API key. It is shown once; only its hash is stored."""
    from core.access import Role
    from core.catalog.keys import KeyRing

    try:
        parsed = Role(role)
    except ValueError:
        err.print(f"[red]error:[/] unknown role {role!r}: use admin, knowledge_manager, agent or engineer")
        raise typer.Exit(2) from None
    with services() as s:
        name = user or f"{parsed.value}-{'-'.join(team)}"
        issued = KeyRing(s.catalog).issue(name, parsed, tuple(team), actor=_operator())
        console.print(
            f"key for {issued.user} ({issued.role.value}; teams {', '.join(issued.teams) or 'all'}):"
        )
        print(issued.secret)
        err.print("store it now: it cannot be shown again")


@keys_app.command("revoke")
def keys_revoke(key_id: str) -> None:
    """Revoke a key by its id (the part after ``sb_``)."""
    from core.catalog.keys import KeyRing

    with services() as s:
        KeyRing(s.catalog).revoke(key_id, actor=_operator())
        console.print(f"revoked {key_id}")


def _operator() -> str:
    """Who runs the CLI, as the audit trail names them."""
    import getpass

    return f"cli:{getpass.getuser()}"


audit_app = typer.Typer(help="The audit trail: verify, export, purge.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")


@audit_app.command("verify")
def audit_verify() -> None:
    """Recompute the hash chain; exit 1 and name the entry where it breaks."""
    with services() as s:
        result = s.audit.verify()
    if result.ok:
        console.print(f"[green]ok[/]: {result.checked} entries, the chain is intact")
        return
    err.print(f"[red]broken[/] at entry {result.broken_at}: {result.reason} ({result.checked} checked)")
    raise typer.Exit(1)


@audit_app.command("export")
def audit_export(
    since: Annotated[datetime | None, typer.Option(help="From this time (ISO 8601).")] = None,
    until: Annotated[datetime | None, typer.Option(help="Up to this time, excluded.")] = None,
    fmt: Annotated[str, typer.Option("--format", help="jsonl or csv")] = "jsonl",
    out: Annotated[Path | None, typer.Option(help="File to write (default: standard output).")] = None,
) -> None:
    """Export entries for a date range as JSON lines or CSV."""
    with services() as s:
        if out is None:
            s.audit.export(sys.stdout, fmt=fmt, since=_utc(since), until=_utc(until))
            return
        with out.open("w", newline="") as handle:
            count = s.audit.export(handle, fmt=fmt, since=_utc(since), until=_utc(until))
        err.print(f"wrote {count} entries to {out}")


@audit_app.command("purge")
def audit_purge(
    days: Annotated[
        int | None, typer.Option(help="Keep this many days (default: the retention setting).")
    ] = None,
) -> None:
    """Delete entries, and the question text in them, older than the retention period."""
    with services() as s:
        keep = s.settings.audit_retention_days if days is None else days
        if keep == 0:
            console.print("retention is 0 (keep everything): nothing purged")
            return
        purged = s.audit.purge(datetime.now(UTC) - timedelta(days=keep))
        console.print(f"purged {purged} entries older than {keep} days")


templates_app = typer.Typer(help="Question templates: check YAML before shipping it.", no_args_is_help=True)
app.add_typer(templates_app, name="templates")


@templates_app.command("check")
def templates_check(paths: Annotated[list[Path], typer.Argument(help="Template YAML files.")]) -> None:
    """Check template files as the API would: every problem of every file, exit 1 if any."""
    from core.errors import InvalidFields
    from retrieval.templates import load_yaml

    failed = 0
    for path in paths:
        try:
            template = load_yaml(path)
        except (InvalidFields, OSError) as exc:
            failed += 1
            err.print(f"[red]{path}[/]:")
            problems = exc.problems if isinstance(exc, InvalidFields) else (("file", str(exc)),)
            for where, what in problems:
                err.print(f"  {where}: {what}", markup=False, soft_wrap=True)
            continue
        console.print(f"[green]ok[/] {path}: {template.id} ({len(template.fields)} fields)")
    if failed:
        raise typer.Exit(1)


def _utc(at: datetime | None) -> datetime | None:
    """A time given without a zone is UTC."""
    if at is None or at.tzinfo is not None:
        return at
    return at.replace(tzinfo=UTC)


def add_plugins(group: str = "sourcebook.cli") -> None:
    """Sub-commands registered by packages above core (``sourcebook eval`` from eval/), through an
    entry-point group, so that core imports none of them. A broken plugin is reported, not fatal."""
    from importlib.metadata import entry_points

    known = {info.name for info in app.registered_groups}
    for point in entry_points(group=group):
        if point.name in known:
            continue
        try:
            sub = point.load()
        except Exception as exc:  # noqa: BLE001 - one broken plugin must not disable the CLI
            logging.getLogger(__name__).warning("sourcebook %s is unavailable: %s", point.name, exc)
            continue
        app.add_typer(sub, name=point.name)
        known.add(point.name)


def main() -> None:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    add_plugins()
    app()


if __name__ == "__main__":
    main()
