"""What tuning the embedder buys, lever by lever: ``sourcebook tune`` run once per setting, each in
its own process (so its peak memory is its own), the gate's figures gathered into one result.

    python -m bench.tune scifact e1h0 e1h1 e2h1   # SciFact train → dev; e<epochs>h<hard negatives>
    python -m bench.tune scifact e1h0lr5e-5       # ... with a learning rate other than 2e-5
    python -m bench.tune acme e1h1                # the acme-support golden set (ingests the samples)
    python -m bench.tune scifact e1h0lr5e-5 --out tune-scifact-lr   # a result file of its own
    python -m bench.tune scifact e1h1s3 e1h3b64-cached-mnrl e1h1-gist --out tune-scifact-negatives
                                  # s: best non-gold hits skipped, b: batch size, -<loss>
    python -m bench.tune scifact e1h0w50 e1h1w50 --out tune-scifact-wise
                                  # w: percent of the packaged weights mixed back in (WiSE-FT)

Writes ``bench/results/tune-<target>.json`` (or ``--out``'s name): per lever, training seconds and peak memory, and
dense and hybrid nDCG@10 (current and tuned, the paired-bootstrap interval of the change), and
whether the gate offered the model. On SciFact it also measures the product's default search as
users get it, hybrid with the sentence reranker (``hybrid-dbsf+sentence``), current and tuned: the
gate leaves the reranker out, since it embeds every candidate's sentences and costs minutes a run. The data folder is ``var/bench-tune`` (its eval cache keeps
the current model's index of the corpus between levers).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.provenance import ROOT, provenance, write_result

HOME = ROOT / "var" / "bench-tune"  # one data folder per target: each tune opens its own store
# The shared eval data beside the checkout (``$SOURCEBOOK_EVAL_DATA`` where a worktree sits deeper).
SCIFACT = (
    Path(os.environ.get("SOURCEBOOK_EVAL_DATA") or ROOT.parent / "shared" / "eval-data") / "beir-scifact"
)


def _env() -> dict[str, str]:
    return os.environ | {
        "SOURCEBOOK_HOME": str(HOME),
        "SOURCEBOOK_EMBEDDER": "minilm",
        "PYTHONPATH": str(ROOT),
    }


def _target_home(target: str) -> None:
    global HOME
    HOME = HOME if target == "scifact" else HOME.with_name(f"bench-tune-{target}")


def _sourcebook(*args: str) -> None:
    """Run a command; its progress and messages go to this process's stderr as they come."""
    done = subprocess.run(
        [sys.executable, "-m", "sourcebook.cli", *args], env=_env(), stdout=sys.stderr, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"sourcebook {' '.join(args)} failed (exit {done.returncode}); its output is above")


LEVER = re.compile(
    r"e(?P<epochs>\d+)h(?P<negatives>\d+)(?:s(?P<skip>\d+))?(?:b(?P<batch>\d+))?"
    r"(?:lr(?P<rate>\d(?:\.\d+)?e-\d))?(?:w(?P<base>\d\d))?(?:-(?P<loss>cached-mnrl|gist|cached-gist))?"
)


def _lever(name: str) -> list[str]:
    """A lever's name as ``sourcebook tune`` options: e<epochs>h<hard negatives>, then optionally
    s<best non-gold hits skipped>, b<batch size>, lr<rate>, w<percent of the packaged weights mixed
    back in>, -<loss> (e1h3s5b64-cached-mnrl, e1h1w50)."""
    match = LEVER.fullmatch(name)
    if not match:
        raise SystemExit(
            f"a lever is e<epochs>h<hard negatives>[s<skip>][b<batch>][lr<rate>][w<base %>][-<loss>] (e1h0, e2h1lr5e-5, e1h1w50, e1h3s5-gist), not {name!r}"
        )
    options = ["--epochs", match["epochs"], "--hard-negatives", match["negatives"]]
    for group, option in (
        ("skip", "--negatives-from"),
        ("batch", "--batch-size"),
        ("rate", "--learning-rate"),
        ("loss", "--loss"),
    ):
        options += [option, match[group]] if match[group] else []
    if match["base"]:
        options += ["--base-share", f"{int(match['base']) / 100:g}"]
    return options


def _prepare(target: str) -> list[str]:
    """The collection to tune and the arguments that say what it learns from."""
    HOME.mkdir(parents=True, exist_ok=True)
    if target == "scifact":
        code = "from core.catalog import Catalog; from core.settings import Settings; Catalog.connect(Settings().catalog_url).ensure_collection('scifact')"
        subprocess.run([sys.executable, "-c", code], env=_env(), check=True)
        return ["scifact", "--dataset", str(SCIFACT), "--split", "train", "--eval-split", "dev"]
    if target == "acme":
        _sourcebook("ingest", str(ROOT / "samples" / "acme-support"), "--collection", "acme-support")
        return ["acme-support"]
    raise SystemExit(f"unknown target {target!r}: scifact or acme")


def _row(lever: str, meta: dict[str, Any], wall: float | None) -> dict[str, Any]:
    evaluation = meta["eval"] or {}
    figures: dict[str, Any] = {}
    for check, systems in evaluation.get("metrics", {}).items():
        for system, pair in systems.items():
            diff = next(
                d
                for d in evaluation["checks"][check]["systems"][system]["differences"]
                if d["metric"] == "ndcg@10"
            )
            figures[f"{check}/{system}"] = {
                "ndcg@10_current": pair["current"]["ndcg@10"],
                "ndcg@10_tuned": pair["tuned"]["ndcg@10"],
                "delta": diff["delta"],
                "ci95": [round(diff["low"], 4), round(diff["high"], 4)],
                "recall@100_tuned": pair["tuned"]["recall@100"],
            }
    return {
        "lever": lever,
        "model": meta["name"],
        "settings": meta["settings"],
        "training_data": meta["training_data"],
        "train_seconds": meta["training"]["train_seconds"],
        "peak_rss_mib": meta["training"]["peak_rss_mib"],
        "examples": meta["training"]["examples"],
        "wall_seconds_with_eval": None if wall is None else round(wall, 1),
        "ndcg@10": figures,
        "offered": meta["offered"],
        "reasons": evaluation.get("reasons", []),
    }


RERANKED = "hybrid-dbsf+sentence"


def _reranked_run(model: str) -> dict[str, Any]:
    """SciFact dev ranked by the product's default search (hybrid, DBSF, sentence reranker) with
    ``model``: one ``sourcebook eval retrieval`` run, read back from its run.json."""
    out = HOME / "eval" / f"reranked-{model}"
    if not (out / "run.json").exists():
        config = HOME / "reranked.toml"
        config.write_text(
            f'[systems."{RERANKED}"]\nmode = "hybrid"\nfusion = "dbsf"\nreranker = "sentence"\n'
        )
        _sourcebook(
            "eval", "retrieval", "--dataset", str(SCIFACT), "--split", "dev",
            "--config", str(config), "--embedder", model, "--out", str(out),
        )  # fmt: skip
    run: dict[str, Any] = json.loads((out / "run.json").read_text())
    return run


def _reranked(model: str) -> dict[str, Any]:
    """Current against tuned in the product's default search, as the gate compares them."""
    from eval.compare import compare_runs

    before, after = _reranked_run("minilm"), _reranked_run(model)
    comparison = compare_runs(before, after, system_a=RERANKED, system_b=RERANKED)
    diff = next(d for d in comparison.differences if d.metric == "ndcg@10")
    return {
        "ndcg@10_current": round(diff.a, 4),
        "ndcg@10_tuned": round(diff.b, 4),
        "delta": round(diff.delta, 4),
        "ci95": [round(diff.low, 4), round(diff.high, 4)],
        "recall@100_tuned": after["systems"][RERANKED]["metrics"]["recall@100"],
    }


def main(target: str, levers: list[str], out: str | None = None) -> None:
    started = provenance({})
    _target_home(target)
    base = _prepare(target)
    out = out or f"tune-{target}"
    rows: list[dict[str, Any]] = []
    settings = {"target": target, "levers": levers, "cpus": os.cpu_count(), "home": str(HOME)}
    for lever in levers:
        options = _lever(lever)
        done = HOME / "models" / f"{target}-{lever}-1" / "sourcebook-model.json"
        if done.exists() and json.loads(done.read_text())["eval"] is not None:  # measured by an earlier run
            rows.append(_row(lever, json.loads(done.read_text()), None))
        else:
            began = time.perf_counter()
            _sourcebook("tune", *base, *options, "--name", f"{target}-{lever}")
            rows.append(_row(lever, json.loads(done.read_text()), time.perf_counter() - began))
        if target == "scifact":
            rows[-1]["ndcg@10"][f"beir-scifact-dev/{RERANKED}"] = _reranked(rows[-1]["model"])
        print(json.dumps(rows[-1], indent=1), flush=True)
        write_result(out, {"rows": rows}, settings=settings, started=started)  # partial results survive


if __name__ == "__main__":
    args = sys.argv[1:]
    named = None
    if "--out" in args:
        at = args.index("--out")
        named, args = args[at + 1], args[:at] + args[at + 2 :]
    if len(args) < 2:
        raise SystemExit(__doc__)
    main(args[0], args[1:], named)
