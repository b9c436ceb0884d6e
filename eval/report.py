"""Reports: the run as JSON, a Markdown summary, and plots (matplotlib, no display needed)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from eval.compare import Comparison

# Published nDCG@10 on the SciFact *test* set, for the reader's orientation (BEIR paper and
# the sentence-transformers model card); our figures are on the dev split.
PUBLISHED_SCIFACT = {
    "BM25 (published, test)": "0.665-0.679",
    "all-MiniLM-L6-v2 (published, test)": "0.645",
    "BM25 + cross-encoder (published, test)": "0.688",
}


def fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.3f}" if value <= 1.0 else f"{value:.1f}"
    return " ".join(str(value).replace("|", "\\|").split())  # one table cell: no pipes, no newlines


def table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def retrieval_rows(run: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    systems = run["systems"]
    keys = list(next(iter(systems.values()))["metrics"])
    return ["system", *keys], [[name, *(s["metrics"][k] for k in keys)] for name, s in systems.items()]


def answer_rows(run: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    metrics = run["metrics"]
    return ["metric", "value"], [[k, v] for k, v in metrics.items()]


CATEGORY_COLUMNS = (
    "cases",
    "answerable",
    "unanswerable",
    "correct",
    "false_refusals",
    "unanswerable_refused",
    "citation_verbatim",
)


def category_rows(run: dict[str, Any]) -> tuple[list[str], list[list[Any]]] | None:
    """The by-category table of an answer run; None when its cases carry no categories (QA
    sets, or a run made before categories existed)."""
    groups = run.get("by_category") or {}
    if not set(groups) - {"all", "uncategorised"}:
        return None
    rows = [[name, *(g.get(k) for k in CATEGORY_COLUMNS)] for name, g in groups.items()]
    return ["category", *CATEGORY_COLUMNS], rows


def write_report(run: dict[str, Any], out: Path) -> Path:
    """run.json, report.md and PNG plots in ``out``; returns the Markdown file."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "run.json").write_text(json.dumps(run, indent=1, ensure_ascii=False))
    title = f"{run['kind'].capitalize()} evaluation: {run['dataset']} ({run['split']})"
    parts = [f"# {title}", "", f"Created {run['created_at']}, sourcebook {run['sourcebook']}.", ""]
    if run["kind"] == "retrieval":
        header, rows = retrieval_rows(run)
        parts += [f"{len(run['queries'])} queries.", "", table(header, rows), ""]
        if "scifact" in run["dataset"].lower():
            parts += ["Published reference figures (nDCG@10):", ""]
            parts += [f"- {name}: {value}" for name, value in PUBLISHED_SCIFACT.items()] + [""]
        _plot_retrieval(run, out)
        parts += ["![metrics](metrics.png)", "", "![per-query nDCG@10](ndcg_per_query.png)", ""]
    else:
        header, rows = answer_rows(run)
        parts += [f"Refusal threshold {run['threshold']}.", "", table(header, rows), ""]
        categories = category_rows(run)
        if categories:
            parts += [
                "## By category",
                "",
                "correct: share of answerable cases answered (not refused) with every expected fact; "
                "false_refusals: share of answerable cases refused; unanswerable_refused: share of "
                "unanswerable cases refused; citation_verbatim: share of citations whose quote is "
                "verbatim text of the cited passage.",
                "",
                table(*categories),
                "",
            ]
        if run.get("skipped"):
            parts += ["Not asked:", ""] + [f"- {s}" for s in run["skipped"]] + [""]
        worst = [
            (cid, r)
            for cid, r in run["per_case"].items()
            if (r["answerable"] and (r["refused"] or r["gold_cited"] == 0.0 or r.get("correct") == 0.0))
            or (not r["answerable"] and not r["refused"])
        ]
        if worst:
            parts += ["## Cases it got wrong (first 15)", ""]
            parts.append(
                table(
                    ["case", "category", "question", "answerable", "refused", "answer"],
                    [
                        [
                            cid,
                            r.get("category", ""),
                            r["question"][:80],
                            r["answerable"],
                            r["refused"],
                            "" if r["refused"] else r["answer"][:120],
                        ]
                        for cid, r in worst[:15]
                    ],
                )
            )
            parts.append("")
        _plot_answers(run, out)
        parts += ["![metrics](metrics.png)", "", "![latency](latency.png)", ""]
    report = out / "report.md"
    report.write_text("\n".join(parts))
    return report


def comparison_markdown(c: Comparison, title: str = "Comparison") -> str:
    rows = [
        [
            d.metric,
            d.a,
            d.b,
            f"{d.delta:+.4f}",
            f"[{d.low:+.4f}, {d.high:+.4f}]",
            "yes" if d.significant else "",
        ]
        for d in c.differences
    ]
    parts = [
        f"# {title}: {c.system_b} against {c.system_a}",
        "",
        f"{c.common} queries in both runs; 95% paired bootstrap intervals.",
        "",
        table(["metric", "A", "B", "B − A", "95% interval", "significant"], rows),
        "",
        f"## Queries that changed most ({c.key_metric})",
        "",
        table(["query", "text", "A", "B"], [[x.id, x.text[:90], x.a, x.b] for x in c.changed]),
        "",
    ]
    return "\n".join(parts)


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _plot_retrieval(run: dict[str, Any], out: Path) -> None:
    plt = _pyplot()
    systems = run["systems"]
    keys = ["ndcg@10", "recall@10", "recall@100", "mrr@10"]
    fig, ax = plt.subplots(figsize=(8, 4))
    width = 0.8 / len(systems)
    for i, (name, s) in enumerate(systems.items()):
        ax.bar([k + i * width for k in range(len(keys))], [s["metrics"][k] for k in keys], width, label=name)
    ax.set_xticks([k + 0.4 - width / 2 for k in range(len(keys))], keys)
    ax.set_ylim(0, 1)
    ax.legend(fontsize="small")
    ax.set_title(f"{run['dataset']} ({run['split']})")
    fig.tight_layout()
    fig.savefig(out / "metrics.png", dpi=100)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(8, 4))
    ax.boxplot(
        [[q["ndcg@10"] for q in s["per_query"].values()] for s in systems.values()],
        tick_labels=list(systems),
    )
    ax.set_ylabel("nDCG@10 per query")
    fig.tight_layout()
    fig.savefig(out / "ndcg_per_query.png", dpi=100)
    plt.close(fig)


def _plot_answers(run: dict[str, Any], out: Path) -> None:
    plt = _pyplot()
    m = run["metrics"]
    keys = [
        k
        for k in (
            "gold_answer_contained",
            "token_f1",
            "gold_source_cited",
            "citation_precision",
            "citation_support",
            "refusal_precision",
            "refusal_recall",
        )
        if m.get(k) is not None
    ]
    fig, ax = plt.subplots(figsize=(8, 4))
    ax.barh(keys, [m[k] for k in keys])
    ax.set_xlim(0, 1)
    ax.set_title(f"{run['dataset']} ({run['split']})")
    fig.tight_layout()
    fig.savefig(out / "metrics.png", dpi=100)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(8, 3))
    ax.hist([r["ms"] for r in run["per_case"].values()], bins=30)
    ax.set_xlabel("ms per answer (search + answer)")
    fig.tight_layout()
    fig.savefig(out / "latency.png", dpi=100)
    plt.close(fig)
