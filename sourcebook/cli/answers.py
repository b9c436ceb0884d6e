"""Questions: search a collection, and ask it for a cited answer."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Annotated, Any

import typer

from core.access import Principal, Role
from core.answer_codec import passage_to_dict
from core.protocols import SearchFilter, SearchRequest
from sourcebook.cli.context import CollectionOpt, JsonOpt, console, err, operator, services
from sourcebook.cli.remote import running_server


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
    with running_server() as server:
        if server is not None:
            body = {
                "query": query,
                "collections": [collection],
                "limit": limit,
                "mode": mode,
                "rerank": False,
            }
            found = server.call("POST", "/v1/search", json=body)["passages"]
            _show_passages(found, as_json)
            return
    with services() as s:
        s.catalog.collection_team(collection)
        vector = s.embedder.embed([query])[0].tolist() if mode != "sparse" else None
        request = SearchRequest(query, vector, limit, mode, SearchFilter(collections=(collection,)))  # type: ignore[arg-type]
        _show_passages([passage_to_dict(p) for p in s.store.search(request)], as_json)


def _show_passages(passages: list[dict[str, Any]], as_json: bool) -> None:
    if as_json:
        print(json.dumps(passages, indent=2))
        return
    if not passages:
        console.print("no passages found")
    for rank, p in enumerate(passages, start=1):
        pages = ", ".join(map(str, p["pages"]))
        section = " > ".join(p["section_path"])
        console.print(
            f"[bold]{rank}. {p['source_name']}[/] p. {pages}  [dim]{section}  score {p['score']:.3f}[/]"
        )
        console.print(f"   {' '.join(p['text'].split())[:300]}")


def ask(question: str, collection: CollectionOpt, as_json: JsonOpt = False) -> None:
    """Answer a question from a collection, citing document and page for every sentence.

    Asked as the operator (an admin), through the same use case as the API: quota, answer log
    and audit trail. While ``sourcebook serve`` runs on this data folder, asked through it.
    """
    with running_server() as server:
        if server is not None:
            body = {"question": question, "collections": [collection], "passages": 6}
            answered = server.call("POST", "/v1/ask", json=body)
            if as_json:
                print(json.dumps(answered, indent=2))
                return
            _show_answer(answered["answer"], answered["refused"], answered["citations"], answered["passages"])
            return
    with services() as s:
        s.catalog.collection_team(collection)
        who = Principal(operator(), Role.ADMIN, ())
        outcome = s.answering.ask(who, question, SearchFilter(collections=(collection,)), passages=6)
        answer = outcome.answer
        if as_json:  # the API's answer object, as when asked through a running server
            from api.schemas import AnswerOut, ReviewedOut

            reviewed = ReviewedOut.model_validate(outcome.reviewed) if outcome.reviewed else None
            out = AnswerOut.of(
                answer,
                cached=outcome.cached,
                flags=outcome.flags,
                answer_id=outcome.answer_id,
                template=outcome.template,
                reviewed=reviewed,
                latency_ms=outcome.latency_ms,
            )
            print(json.dumps(out.model_dump(mode="json"), indent=2))
            return
        citations = [asdict(c) for c in answer.citations]
        _show_answer(answer.text, answer.refused, citations, [passage_to_dict(p) for p in answer.passages])


def _show_answer(
    text: str, refused: bool, citations: list[dict[str, Any]], passages: list[dict[str, Any]]
) -> None:
    style = "yellow" if refused else "green"
    console.print(f"[{style}]{text}[/]")
    for c in citations:
        pages = ", ".join(map(str, c["pages"]))
        console.print(f"  [bold][{c['marker']}][/] {c['title']}, p. {pages}: [dim]{c['quote'][:160]}[/]")
    if refused:
        console.print("[bold]Closest passages:[/]")
        for p in passages[:3]:
            console.print(
                f"  {p['source_name']} p. {', '.join(map(str, p['pages']))}: [dim]{p['text'][:160]}[/]"
            )
