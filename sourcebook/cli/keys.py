"""``sourcebook keys``: create and revoke API keys."""

from __future__ import annotations

from typing import Annotated

import typer

from core.access import Role
from sourcebook.cli.context import console, err, operator, services

app = typer.Typer(help="API keys: create and revoke.", no_args_is_help=True)


@app.command("create")
def create(
    team: Annotated[list[str], typer.Option(help="Team(s) the key's user belongs to.")],
    role: Annotated[str, typer.Option(help="admin, knowledge_manager, agent or engineer")] = "agent",
    user: Annotated[str | None, typer.Option(help="User name (default: derived from role and team).")] = None,
) -> None:
    """Create an API key. It is shown once; only its hash is stored."""
    try:
        parsed = Role(role)
    except ValueError:
        err.print(f"[red]error:[/] unknown role {role!r}: use admin, knowledge_manager, agent or engineer")
        raise typer.Exit(2) from None
    with services() as s:
        name = user or f"{parsed.value}-{'-'.join(team)}"
        issued = s.keys.issue(name, parsed, tuple(team), actor=operator())
        console.print(
            f"key for {issued.user} ({issued.role.value}; teams {', '.join(issued.teams) or 'all'}):"
        )
        print(issued.secret)
        err.print("store it now: it cannot be shown again")


@app.command("revoke")
def revoke(key_id: str) -> None:
    """Revoke a key by its id (the part after ``sb_``)."""
    with services() as s:
        s.keys.revoke(key_id, actor=operator())
        console.print(f"revoked {key_id}")
