"""``sourcebook keys``: create and revoke API keys, and set one user's or team's rate limit."""

from __future__ import annotations

from typing import Annotated

import typer

from core.access import Role
from core.catalog.limits import Kind
from sourcebook.cli.context import console, err, operator, services

app = typer.Typer(
    help="API keys: create and revoke; per-user and per-team rate limits.", no_args_is_help=True
)


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


@app.command("limit")
def limit(
    per_minute: Annotated[
        int | None, typer.Option(help="Requests a minute (the rate-limit window); 0: no limit.")
    ] = None,
    user: Annotated[str | None, typer.Option(help="The user whose limit this is.")] = None,
    team: Annotated[str | None, typer.Option(help="The team whose limit this is.")] = None,
    default: Annotated[bool, typer.Option("--default", help="Back to the settings' default.")] = False,
) -> None:
    """Set one user's or team's rate limit in place of the default (a service account, a load test)."""
    if (user is None) == (team is None) or (per_minute is None) == (not default):
        err.print("[red]error:[/] give --user or --team, and --per-minute N or --default")
        raise typer.Exit(2)
    kind: Kind = "user" if user is not None else "team"
    name = user or team or ""
    with services() as s:
        s.rate_limits.set(kind, name, None if default else per_minute, actor=operator())
    shown = (
        "the default" if default else ("no limit" if per_minute == 0 else f"{per_minute} requests a minute")
    )
    console.print(f"{kind} {name}: {shown}")
