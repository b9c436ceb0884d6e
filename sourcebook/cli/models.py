"""``sourcebook models list|use|rollback``: which embedding model answers, and switching it without
downtime (an index built beside the live one, then one switch); through a running server when
one holds the data folder, as the other commands do."""

from __future__ import annotations

import json
from typing import Any

import typer
from rich.table import Table

from sourcebook.cli.context import JsonOpt, console, err, operator, services
from sourcebook.cli.remote import running_server

app = typer.Typer(help="The embedding model: list, switch, roll back.", no_args_is_help=True)


@app.command("list")
def list_models(as_json: JsonOpt = False) -> None:
    """The models there are (the live one marked), and the last switches."""
    with running_server() as server:
        if server is not None:
            _show(server.call("GET", "/v1/models"), as_json)
            return
    with services() as s:
        live = s.model_switches.live()
        found = {
            "live": s.models.live_model(),
            "index": live.index_name if live else "",
            "models": [_plain(m) for m in s.models.list()],
            "switches": [_plain(w) for w in s.model_switches.history()],
        }
    _show(json.loads(json.dumps(found, default=str)), as_json)


@app.command()
def use(name: str) -> None:
    """Build the index with NAME beside the live one, then switch to it (re-embeds every document)."""
    with running_server() as server:
        if server is not None:
            _switched(server.call("POST", "/v1/models/use", json={"name": name}))
            return
    with services() as s:
        switch, report = s.models.use(name, operator())
        _switched(
            {"switch": _plain(switch), "rebuilt": report.rebuilt, "dropped": report.dropped, "failed": []}
        )


@app.command()
def rollback() -> None:
    """Back to the model live before the last switch (rebuilt beside, then one switch)."""
    with running_server() as server:
        if server is not None:
            _switched(server.call("POST", "/v1/models/rollback"))
            return
    with services() as s:
        switch, report = s.models.rollback(operator())
        _switched(
            {"switch": _plain(switch), "rebuilt": report.rebuilt, "dropped": report.dropped, "failed": []}
        )


def _plain(value: Any) -> dict[str, Any]:
    return {name: getattr(value, name) for name in value.__slots__}


def _show(found: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(found, indent=2, default=str))
        return
    table = Table("", "model", "base", "offered", "created", "eval")
    for m in found["models"]:
        table.add_row(
            "●" if m["live"] else "",
            m["name"],
            m["base"],
            "yes" if m["offered"] else "no",
            str(m["created_at"])[:19],
            json.dumps(m["eval"])[:60] if m["eval"] else "",
        )
    console.print(table)
    console.print(f"live: [bold]{found['live']}[/] (index {found['index'] or 'as first built'})")
    for w in found["switches"][:10]:
        console.print(
            f"[dim]{str(w['at'])[:19]}  {w['action']:<8} {w['previous_model'] or '':>16} → {w['model']}  "
            f"by {w['actor']}, {w['documents']} documents[/]"
        )


def _switched(result: dict[str, Any]) -> None:
    for name, reason in result.get("failed") or []:
        err.print(f"[red]not rebuilt:[/] {name}: {reason}")
    switch = result["switch"]
    console.print(
        f"[green]{switch['model']} is live[/] ({switch['action']}, index {switch['index_name']}): "
        f"{result['rebuilt']} documents embedded, {result['dropped']} dropped"
    )
