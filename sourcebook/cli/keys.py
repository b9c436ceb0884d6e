"""``sourcebook keys``: create, list and revoke API keys; set one user's or team's rate limit.

They need only the catalog, so they work while ``sourcebook serve`` runs; they then go through it
(``/v1/keys``), so that a revoked key stops working on that server at once, not when its
authentication cache expires.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

import typer
from rich.table import Table

from core.access import Role
from core.catalog.limits import Kind
from sourcebook.cli.context import console, err, operator, services
from sourcebook.cli.remote import running_server

app = typer.Typer(
    help="API keys: create, list and revoke; per-user and per-team rate limits.", no_args_is_help=True
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
    name = user or f"{parsed.value}-{'-'.join(team)}"
    with running_server() as server:
        if server is not None:
            body = {"role": parsed.value, "teams": team, "user": name}
            issued = server.call("POST", "/v1/keys", json=body)
            _show_issued(issued["user"], issued["role"], issued["teams"], issued["secret"])
            return
    with services() as s:
        key = s.keys.issue(name, parsed, tuple(team), actor=operator())
        _show_issued(key.user, key.role.value, list(key.teams), key.secret)


def _show_issued(user: str, role: str, teams: list[str], secret: str) -> None:
    console.print(f"key for {user} ({role}; teams {', '.join(teams) or 'all'}):")
    print(secret)
    err.print("store it now: it cannot be shown again")


@app.command("list")
def list_keys(
    include_revoked: Annotated[bool, typer.Option(help="Also show revoked keys.")] = False,
) -> None:
    """Every key's id, user, role, teams and last use; never a secret."""
    table = Table("id", "user", "role", "teams", "created", "last used", "revoked")
    with running_server() as server:
        if server is not None:
            found = server.call("GET", "/v1/keys", params={"include_revoked": include_revoked})
            for k in found:
                table.add_row(
                    k["key_id"], k["user"], k["role"], ", ".join(k["teams"]) or "all",
                    _day(k["created_at"]), _day(k["last_used_at"]), _day(k["revoked_at"]),
                )  # fmt: skip
            console.print(table)
            return
    with services() as s:
        for info in s.keys.entries(include_revoked=include_revoked):
            table.add_row(
                info.key_id, info.user, info.role.value, ", ".join(info.teams) or "all",
                _day(info.created_at), _day(info.last_used_at), _day(info.revoked_at),
            )  # fmt: skip
    console.print(table)


def _day(at: object) -> str:
    return "" if at is None else str(at)[:19].replace("T", " ")


@app.command("revoke")
def revoke(key_id: str) -> None:
    """Revoke a key by its id (the part after ``sb_``)."""
    with running_server() as server:
        if server is not None:
            server.call("DELETE", f"/v1/keys/{quote(key_id, safe='')}")
            console.print(f"revoked {key_id}")
            return
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
