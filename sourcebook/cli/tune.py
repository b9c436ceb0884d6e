"""``sourcebook tune``: an embedder tuned on a collection's own questions, offered only past the gate."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from sourcebook.cli.context import console, err, services


def tune(
    collection: Annotated[str, typer.Argument(help="The collection whose golden cases and reviews teach.")],
    dataset: Annotated[
        Path | None, typer.Option(help="Also learn from a BEIR dataset folder (corpus.jsonl, train/, dev/).")
    ] = None,
    split: Annotated[str, typer.Option(help="The dataset's split to learn from.")] = "train",
    eval_split: Annotated[str, typer.Option(help="The dataset's split the gate judges on.")] = "dev",
    epochs: Annotated[int, typer.Option(min=1, max=20)] = 1,
    seed: Annotated[int, typer.Option(help="The same seed and data make the same model.")] = 0,
    name: Annotated[
        str | None,
        typer.Option(help="The model's name; it is saved as <name>-<n> (default: minilm-COLLECTION)."),
    ] = None,
    batch_size: Annotated[
        int, typer.Option(min=2, help="Pairs per batch: each one's in-batch negatives.")
    ] = 32,
    hard_negatives: Annotated[
        int, typer.Option(min=0, max=8, help="Hard negatives per pair, mined from the current index.")
    ] = 1,
    negatives_from: Annotated[
        int,
        typer.Option(
            min=0, max=50, help="Skip this many of the best non-gold hits before taking hard negatives."
        ),
    ] = 0,
    loss: Annotated[
        str,
        typer.Option(
            help="mnrl, cached-mnrl (larger batches in bounded memory), gist or cached-gist (the base model drops false negatives)."
        ),
    ] = "mnrl",
    learning_rate: Annotated[float, typer.Option(min=1e-7, max=1e-3)] = 2e-5,
    base_share: Annotated[
        float,
        typer.Option(
            min=0.0,
            max=1.0,
            help="After training, mix this share of the packaged model's weights back in (WiSE-FT; 0: none).",
        ),
    ] = 0.0,
    held_apart: Annotated[
        float,
        typer.Option(min=0.05, max=0.9, help="Share of golden questions kept out of training, to judge by."),
    ] = 0.3,
    golden: Annotated[
        list[Path] | None,
        typer.Option(
            help="A golden-set file with cases of this collection (repeatable; default: eval/golden/COLLECTION.jsonl if there is one)."
        ),
    ] = None,
    limit: Annotated[
        int, typer.Option(min=0, help="Only the first N training queries of the dataset (0: all).")
    ] = 0,
    threads: Annotated[int, typer.Option(min=0, help="Torch threads while training (0: every core).")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the model's metadata as JSON.")] = False,
) -> None:
    """Fine-tune the embedder on this collection's golden cases, reviews and helpful answers; keep it
    under models/<name>-<n>, offered only if it beats the current model on held-apart questions."""
    from eval.cli import _progress
    from eval.tuning import TuneRequest
    from eval.tuning import tune as run_tune
    from ingest.tune import LOSSES, TuneSettings

    if loss not in LOSSES:
        raise typer.BadParameter(f"one of {', '.join(LOSSES)}", param_hint="--loss")
    settings = TuneSettings(
        epochs=epochs,
        batch_size=batch_size,
        learning_rate=learning_rate,
        hard_negatives=hard_negatives,
        negatives_from=negatives_from,
        loss=LOSSES[loss],
        seed=seed,
        threads=threads,
        base_share=base_share,
    )
    with services() as s:
        request = TuneRequest(
            collection=collection,
            name=name or f"minilm-{collection}".lower(),
            home=s.settings.home,
            settings=settings,
            dataset=dataset,
            split=split,
            eval_split=eval_split,
            held_share=held_apart,
            golden_files=tuple(golden if golden is not None else _shipped_golden(collection)),
            limit=limit,
        )
        with _progress() as progress:
            outcome = run_tune(request, s, progress=progress, say=lambda line: err.print(line))
    if as_json:
        print(json.dumps(outcome.meta, indent=2))
        return
    table = Table(
        "check",
        "system",
        "metric",
        "current",
        "tuned",
        "change",
        "95% interval",
        title="Tuned against current",
    )
    for verdict in outcome.decision.checks:
        for system, comparison in verdict.comparisons.items():
            for d in comparison.differences:
                if d.metric not in ("ndcg@10", "recall@100", "mrr@10"):
                    continue
                colour = ("green" if d.delta > 0 else "red") if d.significant else "white"
                table.add_row(
                    verdict.check, system, d.metric, f"{d.a:.4f}", f"{d.b:.4f}",
                    f"[{colour}]{d.delta:+.4f}[/]", f"[{d.low:+.4f}, {d.high:+.4f}]",
                )  # fmt: skip
    console.print(table)
    for verdict in outcome.decision.checks:
        moved = next(iter(verdict.comparisons.values())).changed[:5] if verdict.comparisons else []
        if moved:
            console.print(f"queries that moved most in {verdict.check} (nDCG@10, current → tuned):")
            for c in moved:
                console.print(f"  {c.id}: {c.a:.3f} → {c.b:.3f}  [dim]{c.text[:90]}[/]")
    for reason in outcome.decision.reasons:
        console.print(f"  {reason}")
    if outcome.decision.offered:
        console.print(f"[green]offered:[/] {outcome.folder.name} passed the gate")
    else:
        console.print(f"[yellow]not offered:[/] {outcome.folder.name} is kept but did not pass the gate")


def _shipped_golden(collection: str) -> list[Path]:
    """The repository's golden set of a collection (eval/golden/acme-support.jsonl), if any."""
    from eval.gate import ROOT

    path = ROOT / "eval" / "golden" / f"{collection}.jsonl"
    return [path] if path.exists() else []
