"""What every command runs with: the consoles, and the services opened and closed around it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from core.errors import NotFound, SourcebookError
from core.settings import Settings
from sourcebook.serving import operator_name
from sourcebook.wiring import Services

console = Console()
err = Console(stderr=True)

CollectionOpt = Annotated[str, typer.Option("--collection", "-c", help="Collection name.")]
JsonOpt = Annotated[bool, typer.Option("--json")]


@contextmanager
def services() -> Iterator[Services]:
    """The services for one command; a Sourcebook error is printed as the user's message."""
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


def progress_bars() -> Progress:
    """An overall bar, and one per document in flight with its stage."""
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[stage]}"),
        TimeElapsedColumn(),
    )
    return Progress(*columns, console=err, transient=False)


def operator() -> str:
    """Who runs the CLI, as the audit trail names them."""
    return operator_name()


def resolve(s: Services, document_id: str) -> str:
    """Accept an id prefix, as the documents table shows them."""
    if s.catalog.find_document(document_id):
        return document_id
    matches = [d.id for d in s.catalog.documents() if d.id.startswith(document_id)]
    if len(matches) == 1:
        return matches[0]
    raise NotFound(
        f"no document with id {document_id!r}" if not matches else f"id prefix {document_id!r} is ambiguous"
    )


def utc(at: datetime | None) -> datetime | None:
    """A time given without a zone is UTC."""
    if at is None or at.tzinfo is not None:
        return at
    return at.replace(tzinfo=UTC)
