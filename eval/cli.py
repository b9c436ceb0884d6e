"""``sourcebook eval``: retrieval and answer quality on real data, comparisons, the regression gate.

Registered with the main CLI through the ``sourcebook.cli`` entry-point group. ``--live`` asks the
shell's own services: the main CLI passes how to open them as the context object."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from core.errors import SourcebookError

if TYPE_CHECKING:
    from core.settings import Settings
    from eval.runner import LiveServices

app = typer.Typer(
    help="Measure retrieval and answer quality; compare runs; the regression gate.", no_args_is_help=True
)
# Wide tables in logs: a console that is not a terminal would otherwise wrap at 80 columns.
console = Console() if sys.stdout.isatty() else Console(width=160)
err = Console(stderr=True) if sys.stderr.isatty() else Console(stderr=True, width=160)

DatasetOpt = Annotated[
    Path, typer.Option("--dataset", "-d", help="Dataset folder (BEIR or QA) or golden-set .jsonl file.")
]
SplitOpt = Annotated[str, typer.Option(help="Which split's queries (a folder or qrels file name).")]
ConfigOpt = Annotated[Path | None, typer.Option("--config", help="TOML or JSON config (see eval/config.py).")]
OutOpt = Annotated[
    Path | None, typer.Option("--out", help="Report folder (default: var/eval/<kind>-<dataset>-<time>).")
]
LimitOpt = Annotated[int, typer.Option(min=0, help="Only the first N queries (0: all).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the metrics as JSON instead of a table.")]
CacheOpt = Annotated[
    Path | None,
    typer.Option(help="Index cache (default: $SOURCEBOOK_EVAL_CACHE or $SOURCEBOOK_HOME/eval-cache)."),
]


class _RichProgress:
    def __init__(self, progress: Progress) -> None:
        self.progress = progress

    def task(self, description: str, total: int) -> Callable[[int], None]:
        if self.progress.disable:  # not a terminal (CI logs): one line per task instead of a bar
            err.print(f"{time.strftime('%H:%M:%S')} {description} ({total})")
        task = self.progress.add_task(description, total=total)
        return lambda n: self.progress.advance(task, n)


@contextmanager
def _progress() -> Iterator[_RichProgress]:
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err, transient=False, disable=not err.is_terminal) as progress:
        yield _RichProgress(progress)


@contextmanager
def _errors() -> Iterator[None]:
    try:
        yield
    except SourcebookError as exc:
        err.print(f"[red]error:[/] {exc.reason}")
        raise typer.Exit(2) from exc


def _out(out: Path | None, kind: str, dataset: str) -> Path:
    if out is not None:
        return out
    from core.settings import Settings

    return Settings().home / "eval" / f"{kind}-{dataset}-{time.strftime('%Y%m%d-%H%M%S')}"


def _print_metrics(header: list[str], rows: list[list[Any]]) -> None:
    from eval.report import fmt

    table = Table(*header)
    for row in rows:
        table.add_row(*(fmt(v) for v in row))
    console.print(table)


@app.command()
def retrieval(
    dataset: DatasetOpt,
    split: SplitOpt = "dev",
    config: ConfigOpt = None,
    out: OutOpt = None,
    limit: LimitOpt = 0,
    as_json: JsonOpt = False,
    cache: CacheOpt = None,
    embedder: Annotated[
        str | None,
        typer.Option(help="Embed with this model: minilm, hashing or a tuned model's name (minilm-acme-1)."),
    ] = None,
) -> None:
    """Rank a BEIR set's corpus for its queries with each configured system: nDCG@10, recall, MRR."""
    from eval.config import load_config, with_embedder
    from eval.datasets import load_beir
    from eval.report import retrieval_rows, write_report
    from eval.runner import evaluate_retrieval

    with _errors():
        loaded = load_beir(dataset, split).limited(limit)
        chosen = load_config(config)
        if embedder is not None:
            chosen = with_embedder(chosen, embedder)
        with _progress() as progress:
            run = evaluate_retrieval(loaded, chosen, cache=cache, progress=progress)
        report = write_report(run, _out(out, "retrieval", loaded.name))
    if as_json:
        print(json.dumps({name: s["metrics"] for name, s in run["systems"].items()}, indent=2))
    else:
        header, rows = retrieval_rows(run)
        _print_metrics(header, rows)
    err.print(f"report: {report}")


@app.command()
def answers(
    ctx: typer.Context,
    dataset: DatasetOpt,
    split: SplitOpt = "dev",
    corpus: Annotated[
        Path | None, typer.Option(help="A golden set's folder of documents (default: samples/<collection>).")
    ] = None,
    negatives: Annotated[
        Path | None, typer.Option(help="A QA set whose questions this corpus cannot answer (refusal check).")
    ] = None,
    live: Annotated[
        bool,
        typer.Option(
            "--live",
            help="Ask a golden set of this Sourcebook's own collections ($SOURCEBOOK_HOME) with its configured generator.",
        ),
    ] = False,
    config: ConfigOpt = None,
    out: OutOpt = None,
    limit: LimitOpt = 0,
    as_json: JsonOpt = False,
    cache: CacheOpt = None,
) -> None:
    """Answer a QA set's or a golden set's questions: answer, citation and refusal quality."""
    from core.errors import InvalidInput
    from eval.config import load_config
    from eval.datasets import detect, load_golden_live, load_golden_set, load_qa
    from eval.report import answer_rows, category_rows, write_report
    from eval.runner import evaluate_answers

    with _errors():
        kind = detect(dataset)
        if live:
            if kind != "golden":
                raise InvalidInput("--live asks a golden set (.jsonl) of this Sourcebook's collections")
            run = _answer_live(load_golden_live(dataset).limited(limit), ctx.obj)
        else:
            if kind == "golden":
                loaded = load_golden_set(dataset, corpus or _golden_corpus(dataset))
            else:
                loaded = load_qa(dataset, split)
            loaded = loaded.limited(limit)
            if negatives is not None:
                loaded = loaded.with_unanswerable(load_qa(negatives, split).limited(limit))
            with _progress() as progress:
                run = evaluate_answers(loaded, load_config(config), cache=cache, progress=progress)
        report = write_report(run, _out(out, "answers", run["dataset"]))
    categories = category_rows(run)
    if as_json:
        extra = {"by_category": run["by_category"]} if categories else {}
        print(json.dumps(run["metrics"] | extra, indent=2))
    else:
        header, rows = answer_rows(run)
        _print_metrics(header, rows)
        if categories:
            _print_metrics(*categories)
    for line in run["skipped"]:
        err.print(f"[yellow]not asked:[/] {line}")
    err.print(f"report: {report}")


def _answer_live(dataset: Any, open_services: Callable[[Settings], LiveServices] | None) -> dict[str, Any]:
    from core.errors import InvalidInput
    from core.settings import Settings
    from eval.runner import evaluate_answers_live

    if open_services is None:
        raise InvalidInput(
            "--live asks this Sourcebook's services: run it as `sourcebook eval answers --live`"
        )
    services = open_services(Settings())
    try:
        for name in sorted({c.collection for c in dataset.cases if c.collection}):
            services.catalog.collection_team(name)  # NotFound names a missing collection
        with _progress() as progress:
            return evaluate_answers_live(dataset, services, progress=progress)
    finally:
        services.close()


def _golden_corpus(path: Path) -> Path:
    """samples/<collection> for a golden set about one of the sample collections."""
    from core.golden import load_golden
    from eval.gate import ROOT

    names = {c.collection for c in load_golden(path)}
    candidates = [ROOT / "samples" / name for name in names]
    if len(candidates) == 1 and candidates[0].is_dir():
        return candidates[0]
    raise typer.BadParameter(
        f"say which folder holds the documents of {', '.join(sorted(names))}", param_hint="--corpus"
    )


def _run_file(path: Path) -> dict[str, Any]:
    file = path / "run.json" if path.is_dir() else path
    if not file.exists():
        raise typer.BadParameter(f"no run at {path} (give a report folder or its run.json)")
    data: dict[str, Any] = json.loads(file.read_text())
    return data


@app.command()
def compare(
    run_a: Annotated[Path, typer.Argument(help="The reference run (report folder or run.json).")],
    run_b: Annotated[Path, typer.Argument(help="The run to judge against it.")],
    system: Annotated[
        str | None, typer.Option(help="Retrieval system of run A (default: its first).")
    ] = None,
    system_b: Annotated[
        str | None, typer.Option(help="Retrieval system of run B (default: --system).")
    ] = None,
    top: Annotated[int, typer.Option(min=0, help="How many changed queries to list.")] = 10,
    out: Annotated[Path | None, typer.Option(help="Also write the comparison as Markdown here.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """B against A: each metric's change with a 95% paired bootstrap interval, and the queries that moved."""
    from dataclasses import asdict

    from eval.compare import compare_runs
    from eval.report import comparison_markdown

    with _errors():
        result = compare_runs(_run_file(run_a), _run_file(run_b), system_a=system, system_b=system_b, top=top)
    if as_json:
        print(json.dumps(asdict(result), indent=2))
    else:
        table = Table(
            "metric", "A", "B", "B − A", "95% interval", title=f"{result.system_b} against {result.system_a}"
        )
        for d in result.differences:
            colour = ("green" if d.delta > 0 else "red") if d.significant else "white"
            table.add_row(
                d.metric,
                f"{d.a:.4f}",
                f"{d.b:.4f}",
                f"[{colour}]{d.delta:+.4f}[/]",
                f"[{d.low:+.4f}, {d.high:+.4f}]",
            )
        console.print(table)
        console.print(f"queries that changed most ({result.key_metric}):")
        for c in result.changed:
            console.print(f"  {c.id}: {c.a:.3f} → {c.b:.3f}  [dim]{c.text[:90]}[/]")
    if out is not None:
        out.write_text(comparison_markdown(result))


def _gate_data(data: Path | None) -> Path:
    from eval.gate import DATA

    path = data or DATA
    if not path.exists():
        err.print(f"skipped: the checks on public data ({path} is not on this machine)")
    return path


@app.command()
def gate(
    baseline: Annotated[
        Path | None, typer.Option(help="Baseline file (default: eval/baseline.json).")
    ] = None,
    data: Annotated[Path | None, typer.Option(help="The eval data (default: ../shared/eval-data).")] = None,
    cache: CacheOpt = None,
    out: Annotated[Path | None, typer.Option(help="Write each check's report here.")] = None,
) -> None:
    """Run the baseline's checks; exit 1 when a metric fell by more than its tolerance."""
    from eval.gate import BASELINE, load_baseline, measure, verdicts

    path = _gate_data(data)
    with _errors():
        base = load_baseline(baseline or BASELINE)
        if not all(check.get("metrics") for check in base["checks"]):
            err.print("[red]error:[/] the baseline holds no figures yet: run `sourcebook eval baseline`")
            raise typer.Exit(2)
        started = time.perf_counter()
        with _progress() as progress:
            found, seconds = measure(base, path, cache=cache, progress=progress, on_run=_save_to(out))
        judged = verdicts(base, found)
    table = Table(
        "check", "system", "metric", "baseline", "now", "change", "tolerance", title="Regression gate"
    )
    for v in judged:
        mark = "[red]FAIL[/]" if v.failed else ("[green]better[/]" if v.improved else "")
        table.add_row(
            v.check,
            v.system,
            v.metric,
            f"{v.baseline:.4f}",
            f"{v.measured:.4f}",
            f"{v.delta:+.4f} {mark}",
            f"{v.tolerance}",
        )
    console.print(table)
    console.print(
        "seconds: "
        + ", ".join(f"{k} {v}" for k, v in seconds.items())
        + f"; total {time.perf_counter() - started:.0f}"
    )
    failed = [v for v in judged if v.failed]
    if any(v.improved for v in judged):
        console.print("some metrics improved past their tolerance: `sourcebook eval baseline` records them")
    if failed:
        err.print(f"[red]regression:[/] {len(failed)} metric(s) fell by more than their tolerance")
        raise typer.Exit(1)
    console.print("[green]gate passed[/]")


def _save_to(out: Path | None) -> Callable[[str, dict[str, Any]], None] | None:
    if out is None:
        return None
    from eval.report import write_report

    def save(name: str, run: dict[str, Any]) -> None:
        write_report(run, out / name)

    return save


@app.command()
def baseline(
    baseline: Annotated[
        Path | None, typer.Option(help="Baseline file (default: eval/baseline.json).")
    ] = None,
    data: Annotated[Path | None, typer.Option(help="The eval data (default: ../shared/eval-data).")] = None,
    cache: CacheOpt = None,
) -> None:
    """Measure the baseline's checks again and write the figures into it (review the diff, then commit)."""
    from eval.gate import BASELINE, load_baseline, measure, updated_baseline

    path = _gate_data(data)
    if not path.exists():
        raise typer.Exit(1)  # a baseline measured on part of the checks would lose the rest
    file = baseline or BASELINE
    with _errors():
        base = load_baseline(file)
        with _progress() as progress:
            found, seconds = measure(base, path, cache=cache, progress=progress)
    file.write_text(json.dumps(updated_baseline(base, found), indent=2) + "\n")
    console.print(f"wrote {file} (" + ", ".join(f"{k} {v} s" for k, v in seconds.items()) + ")")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
