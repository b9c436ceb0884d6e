"""``sourcebook templates``: check question-template YAML before shipping it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from core.errors import InvalidFields
from sourcebook.cli.context import console, err

app = typer.Typer(help="Question templates: check YAML before shipping it.", no_args_is_help=True)


@app.command("check")
def check(paths: Annotated[list[Path], typer.Argument(help="Template YAML files.")]) -> None:
    """Check template files as the API would: every problem of every file, exit 1 if any."""
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
        owner = f"team {template.team}" if template.team else "global"
        console.print(f"[green]ok[/] {path}: {template.id} ({len(template.fields)} fields, {owner})")
    if failed:
        raise typer.Exit(1)
