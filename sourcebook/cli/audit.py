"""``sourcebook audit``: verify, export and purge the audit trail."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer

from sourcebook.cli.context import console, err, services, utc

app = typer.Typer(help="The audit trail: verify, export, purge.", no_args_is_help=True)


@app.command("verify")
def verify() -> None:
    """Recompute the hash chain; exit 1 and name the entry where it breaks."""
    with services() as s:
        result = s.audit.verify()
    if result.ok:
        console.print(f"[green]ok[/]: {result.checked} entries, the chain is intact")
        return
    err.print(f"[red]broken[/] at entry {result.broken_at}: {result.reason} ({result.checked} checked)")
    raise typer.Exit(1)


@app.command("export")
def export(
    since: Annotated[datetime | None, typer.Option(help="From this time (ISO 8601).")] = None,
    until: Annotated[datetime | None, typer.Option(help="Up to this time, excluded.")] = None,
    fmt: Annotated[str, typer.Option("--format", help="jsonl or csv")] = "jsonl",
    out: Annotated[Path | None, typer.Option(help="File to write (default: standard output).")] = None,
) -> None:
    """Export entries for a date range as JSON lines or CSV."""
    with services() as s:
        if out is None:
            s.audit.export(sys.stdout, fmt=fmt, since=utc(since), until=utc(until))
            return
        with out.open("w", newline="") as handle:
            count = s.audit.export(handle, fmt=fmt, since=utc(since), until=utc(until))
        err.print(f"wrote {count} entries to {out}")


@app.command("purge")
def purge(
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
