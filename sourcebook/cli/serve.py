"""Serving: the HTTP API alone, or ``up``: samples, a demo key, the API and the web app together."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from core.access import Role
from core.settings import Settings
from sourcebook import launcher
from sourcebook.cli.context import console, operator, services
from sourcebook.cli.library import ingest


def serve(
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8000,
) -> None:
    """Serve the HTTP API (docs at /docs). The first start writes an admin key to $SOURCEBOOK_HOME."""
    from sourcebook import server
    from sourcebook.wiring import create_api

    settings = Settings()
    server.run(create_api(settings), settings, host, port)


def up(
    samples: Annotated[Path, typer.Option(help="Folder ingested first.")] = Path("samples/acme-support"),
    collection: Annotated[str, typer.Option(help="Its collection.")] = "acme-support",
    team: Annotated[str, typer.Option(help="The collection's team, and the demo key's.")] = "support",
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="The API's port.")] = 8000,
    ui_port: Annotated[int, typer.Option(help="The web app's port.")] = 8501,
) -> None:
    """Ingest the samples, print a demo key, serve the API and the web app; Ctrl-C stops both."""
    if samples.exists():
        ingest([samples], collection=collection, team=team, retry_failed=False)
    with services() as s:
        demo = s.keys.issue(f"demo-{team}", Role.KNOWLEDGE_MANAGER, (team,), actor=operator())
    api_url = f"http://{host}:{port}"

    def ready() -> None:
        console.print(f"\n[bold]Sourcebook is up.[/] API {api_url} (docs {api_url}/docs)")
        console.print(f"Web app: [bold]http://{host}:{ui_port}[/]  (Ctrl-C stops both)")
        console.print(f"Demo API key ({demo.user}, knowledge manager of team {team}); sign in with:")
        print(demo.secret, flush=True)

    services_ = [launcher.api_service(host, port), launcher.ui_service(host, ui_port)]
    raise typer.Exit(launcher.run_together(services_, {"SOURCEBOOK_API_URL": api_url}, ready))
