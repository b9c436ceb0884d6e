"""Questions: search a collection, and ask it for a cited answer."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Annotated

import typer

from core.access import Principal, Role
from core.protocols import SearchFilter, SearchRequest
from sourcebook.cli.context import CollectionOpt, JsonOpt, console, err, operator, services


def search(
    query: str,
    collection: CollectionOpt,
    limit: Annotated[int, typer.Option(min=1, max=100)] = 5,
    mode: Annotated[str, typer.Option(help="dense, sparse or hybrid")] = "dense",
    as_json: JsonOpt = False,
) -> None:
    """Search a collection; shows each passage with its document and pages."""
    if mode not in {"dense", "sparse", "hybrid"}:
        err.print("--mode must be dense, sparse or hybrid")
        raise typer.Exit(2)
    with services() as s:
        s.catalog.collection_team(collection)
        vector = s.embedder.embed([query])[0].tolist() if mode != "sparse" else None
        request = SearchRequest(query, vector, limit, mode, SearchFilter(collections=(collection,)))  # type: ignore[arg-type]
        passages = s.store.search(request)
        if as_json:
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


def ask(question: str, collection: CollectionOpt, as_json: JsonOpt = False) -> None:
    """Answer a question from a collection, citing document and page for every sentence.

    Asked as the operator (an admin), through the same use case as the API: quota, answer log
    and audit trail.
    """
    with services() as s:
        s.catalog.collection_team(collection)
        who = Principal(operator(), Role.ADMIN, ())
        outcome = s.answering.ask(who, question, SearchFilter(collections=(collection,)), passages=6)
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
