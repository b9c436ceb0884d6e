"""`sourcebook eval …` end to end on small data written here, with the hashing embedder: reports,
the index cache, compare, the gate failing on a regression, and a golden set over real files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from eval.cli import app

pytestmark = pytest.mark.integration

TOPICS = [
    "walrus tusk ivory",
    "volcano lava basalt",
    "violin bow rosin",
    "glacier ice moraine",
    "comet tail orbit",
]
HASHING = '[index]\nembedder = "hashing"\n'


def _beir(root: Path) -> Path:
    (root / "dev" / "qrels").mkdir(parents=True)
    (root / "corpus.jsonl").write_text(
        "".join(
            json.dumps({"_id": f"d{i}", "title": "", "text": f"All about the {t}."}) + "\n"
            for i, t in enumerate(TOPICS)
        )
    )
    (root / "dev" / "queries.jsonl").write_text(
        "".join(json.dumps({"_id": f"q{i}", "text": t.split()[1]}) + "\n" for i, t in enumerate(TOPICS))
    )
    # q4's judgement points at the wrong document, so no system can be perfect
    (root / "dev" / "qrels" / "test.tsv").write_text(
        "".join(f"q{i}\td{i if i < 4 else 0}\t1\n" for i in range(5))
    )
    return root


def _invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def test_retrieval_writes_reports_and_reuses_the_cached_index(tmp_path: Path) -> None:
    data = _beir(tmp_path / "tiny")
    config = tmp_path / "c.toml"
    config.write_text(HASHING + '[systems.sparse]\nmode = "sparse"\n[systems.dense]\nmode = "dense"\n')
    args = ["retrieval", "--dataset", str(data), "--config", str(config), "--cache", str(tmp_path / "cache")]
    code, output = _invoke(*args, "--out", str(tmp_path / "a"), "--json")
    assert code == 0, output
    metrics = json.loads(output[output.index("{") : output.rindex("}") + 1])
    assert metrics["sparse"]["ndcg@10"] == pytest.approx(0.8)
    for name in ("run.json", "report.md", "metrics.png", "ndcg_per_query.png"):
        assert (tmp_path / "a" / name).stat().st_size > 0
    run = json.loads((tmp_path / "a" / "run.json").read_text())
    assert run["index"]["cached"] is False
    code, output = _invoke(*args, "--out", str(tmp_path / "b"))
    assert code == 0, output
    assert "sparse" in output and "0.800" in output
    assert json.loads((tmp_path / "b" / "run.json").read_text())["index"]["cached"] is True

    code, output = _invoke(
        "compare", str(tmp_path / "a"), str(tmp_path / "b"), "--system", "dense", "--system-b", "sparse"
    )
    assert code == 0, output
    assert "sparse against dense" in output and "95% interval" in output
    code, output = _invoke("compare", str(tmp_path / "a"), str(tmp_path / "nowhere"))
    assert code != 0 and "no run at" in output


def test_bad_inputs_get_clear_messages(tmp_path: Path) -> None:
    code, output = _invoke("retrieval", "--dataset", str(tmp_path))
    assert code == 2 and "missing" in output and "corpus.jsonl" in output
    bad = tmp_path / "c.toml"
    bad.write_text('[systems.x]\nmode = "fuzzy"\n')
    code, output = _invoke("retrieval", "--dataset", str(_beir(tmp_path / "tiny")), "--config", str(bad))
    assert code == 2 and "mode must be one of dense, sparse, hybrid" in output
    code, output = _invoke("answers", "--dataset", str(tmp_path / "tiny"))
    assert code == 2 and "is not a QA set (use `sourcebook eval retrieval`)" in output
    code, output = _invoke("answers", "--dataset", str(tmp_path / "nothing"))
    assert code == 2 and "no dataset at" in output
    code, output = _invoke("answers", "--dataset", str(tmp_path / "c.toml"))
    assert code == 2 and "is a file but not a golden set" in output


def _baseline(path: Path, ndcg: float, tolerance: float) -> Path:
    path.write_text(
        json.dumps(
            {
                "about": "test",
                "checks": [
                    {
                        "name": "tiny",
                        "kind": "retrieval",
                        "dataset": "tiny",
                        "split": "dev",
                        "config": {
                            "index": {"embedder": "hashing"},
                            "systems": {"sparse": {"mode": "sparse"}},
                        },
                        "tolerance": {"ndcg@10": tolerance},
                        "metrics": {"sparse": {"ndcg@10": ndcg}},
                    }
                ],
            }
        )
    )
    return path


def test_gate_passes_at_the_baseline_and_fails_on_a_drop(tmp_path: Path) -> None:
    _beir(tmp_path / "data" / "tiny")
    common = ["--data", str(tmp_path / "data"), "--cache", str(tmp_path / "cache")]
    code, output = _invoke("gate", "--baseline", str(_baseline(tmp_path / "ok.json", 0.8, 0.01)), *common)
    assert code == 0, output
    assert "gate passed" in output
    code, output = _invoke("gate", "--baseline", str(_baseline(tmp_path / "high.json", 0.9, 0.05)), *common)
    assert code == 1
    assert "FAIL" in output and "fell by more than their tolerance" in output
    # `baseline` writes what it measured and keeps the tolerance
    path = _baseline(tmp_path / "new.json", 0.5, 0.02)
    code, output = _invoke("baseline", "--baseline", str(path), *common)
    assert code == 0, output
    written = json.loads(path.read_text())["checks"][0]
    assert written["metrics"] == {"sparse": {"ndcg@10": 0.8}} and written["tolerance"] == {"ndcg@10": 0.02}
    code, output = _invoke("gate", "--baseline", str(path), "--data", str(tmp_path / "absent"))
    assert code == 0 and "skipped" in output


@pytest.mark.slow
def test_answers_on_a_golden_set_over_a_folder_of_files(tmp_path: Path) -> None:
    docs = tmp_path / "kb"
    docs.mkdir()
    (docs / "returns.md").write_text(
        "# Returns\n\nProducts can be returned within 45 days of delivery for a refund.\n"
    )
    (docs / "codes.txt").write_text("Error E-104 means the internal temperature sensor has failed.\n")
    golden = tmp_path / "kb.jsonl"
    cases = [
        {
            "id": "g1",
            "collection": "kb",
            "question": "Within how many days can products be returned?",
            "answerable": True,
            "expected_answer": "45 days",
            "expected_sources": [{"source_name": "returns.md", "document_id": None, "pages": [1]}],
        },
        {
            "id": "g2",
            "collection": "kb",
            "question": "Who painted the chapel ceiling in Rome?",
            "answerable": False,
        },
        {
            "id": "g3",
            "collection": "kb",
            "question": None,
            "answerable": True,
            "template": {"id": "error", "version": 1, "values": {"code": "E-104"}},
        },
    ]
    golden.write_text("".join(json.dumps(c) + "\n" for c in cases))
    config = tmp_path / "c.toml"
    config.write_text(HASHING)
    code, output = _invoke(
        "answers",
        "--dataset",
        str(golden),
        "--corpus",
        str(docs),
        "--config",
        str(config),
        "--cache",
        str(tmp_path / "cache"),
        "--out",
        str(tmp_path / "out"),
        "--json",
    )
    assert code == 0, output
    run = json.loads((tmp_path / "out" / "run.json").read_text())
    assert run["per_case"]["g1"]["gold_cited"] == 1.0 and run["per_case"]["g1"]["contained"] == 1.0
    assert run["per_case"]["g2"]["refused"] is True
    assert run["skipped"] == ["g3: template case (needs the template store)"]
    assert "not asked" in output
    assert run["index"]["chunks"] >= 2


def test_the_main_cli_has_the_eval_commands() -> None:
    """Registered through the sourcebook.cli entry point: the shell imports nothing of eval."""
    result = subprocess.run(
        [sys.executable, "-c", "from sourcebook.cli import main; main()", "eval", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    for command in ("retrieval", "answers", "compare", "gate", "baseline"):
        assert command in result.stdout


@pytest.mark.slow
def test_live_asks_the_collections_of_this_sourcebook(tmp_path: Path) -> None:
    from core.settings import Settings
    from sourcebook.wiring import Services

    docs = tmp_path / "kb"
    docs.mkdir()
    (docs / "returns.md").write_text(
        "# Returns\n\nProducts can be returned within 45 days of delivery for a refund.\n"
    )
    settings = Settings(home=tmp_path / "home", embedder="hashing", workers=1)
    services = Services.open(settings)
    try:
        services.catalog.ensure_collection("kb")
        services.intake.add_path("kb", docs / "returns.md")
        assert services.executor.wait(timeout=300)
    finally:
        services.close()
    golden = tmp_path / "kb.jsonl"
    case = {
        "id": "g1",
        "collection": "kb",
        "question": "Within how many days can products be returned?",
        "answerable": True,
        "expected_answer": "45 days",
        "expected_sources": [{"source_name": "returns.md", "document_id": None, "pages": []}],
    }
    golden.write_text(json.dumps(case) + "\n")
    env = {"SOURCEBOOK_HOME": str(tmp_path / "home"), "SOURCEBOOK_EMBEDDER": "hashing"}
    live = ["answers", "--dataset", str(golden), "--live"]
    # The main CLI passes how to open its services as the context object; so does this test.
    result = CliRunner().invoke(app, [*live, "--out", str(tmp_path / "out")], env=env, obj=Services.open)
    assert result.exit_code == 0, result.output
    run = json.loads((tmp_path / "out" / "run.json").read_text())
    assert run["per_case"]["g1"]["gold_cited"] == 1.0
    assert dict(run["config"]["live"])["generator"] == "extractive"
    golden.write_text(json.dumps(case | {"collection": "nope"}) + "\n")
    result = CliRunner().invoke(app, live, env=env, obj=Services.open)
    assert result.exit_code == 2 and "nope" in result.output
    alone = CliRunner().invoke(app, live, env=env)
    assert alone.exit_code == 2 and "sourcebook eval answers --live" in alone.output
