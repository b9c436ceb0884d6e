"""``sourcebook``: ingest folders, look at collections and documents, search, ask, serve.

One module per command group; this one puts them together. Packages that add a group of their
own (``sourcebook eval``) register it in the ``sourcebook.cli`` entry-point group.
"""

from __future__ import annotations

import logging
import sys

import typer

from sourcebook.cli import answers, audit, keys, library, models, serve, templates, tune
from sourcebook.wiring import Services

app = typer.Typer(help="Sourcebook: answers from your own documents, with citations.", no_args_is_help=True)


@app.callback()
def _root(ctx: typer.Context) -> None:
    """Sourcebook: answers from your own documents, with citations."""
    ctx.obj = Services.open  # how a plugin's commands (sourcebook eval) open this root's services


app.command()(library.ingest)
app.command()(library.collections)
app.command()(library.documents)
app.command()(library.status)
app.command()(library.reindex)
app.command("rebuild-index")(library.rebuild_index)
app.command()(library.delete)
app.command()(answers.search)
app.command()(answers.ask)
app.command()(serve.serve)
app.command()(serve.up)
app.command()(tune.tune)
app.add_typer(keys.app, name="keys")
app.add_typer(audit.app, name="audit")
app.add_typer(templates.app, name="templates")
app.add_typer(models.app, name="models")


def add_plugins(group: str = "sourcebook.cli") -> None:
    """Sub-commands registered by other packages through an entry-point group (``sourcebook eval``
    from eval/). A broken plugin is reported, not fatal."""
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
