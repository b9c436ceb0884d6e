"""`sourcebook tune` on a tiny collection, end to end: pairs, training, the gate, the model folder,
and `sourcebook eval retrieval --embedder` finding the tuned model by its name."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sourcebook.cli import add_plugins, app
from tests.conftest import SAMPLES

pytestmark = [pytest.mark.integration, pytest.mark.slow]

QUESTIONS = [
    ("Which phones can run the Northwind Home app?", "iOS 15"),
    ("How many thermostats can I add to one account?", "20 thermostats"),
    ("Can I share control with my family?", "Invite"),
    ("How long is my energy history kept?", "24 months"),
    ("Do I need a C-wire?", "C-wire"),
    ("How do I change the temperature units?", "Fahrenheit"),
]


def _golden(path: Path) -> Path:
    lines = [
        {
            "id": f"faq-{n}",
            "collection": "tiny",
            "question": question,
            "answerable": True,
            "expected_answer": fact,
            "expected_sources": [{"source_name": "faq.md", "pages": []}],
        }
        for n, (question, fact) in enumerate(QUESTIONS)
    ]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def _beir(folder: Path) -> Path:
    """Six documents; train and dev ask about different ones, in different words."""
    folder.mkdir()
    docs = {
        "d1": "Thermostats regulate heating by switching the boiler on and off.",
        "d2": "A heat pump moves heat from outside air into the house.",
        "d3": "Smart thermostats learn a schedule from when people are at home.",
        "d4": "Radiators release heat into a room through convection.",
        "d5": "Insulation in the loft keeps warm air from escaping through the roof.",
        "d6": "Humidity sensors measure the water vapour in the air.",
    }
    (folder / "corpus.jsonl").write_text(
        "".join(json.dumps({"_id": k, "title": "", "text": v}) + "\n" for k, v in docs.items())
    )
    splits = {
        "train": {
            "q1": ("what switches the boiler", "d1"),
            "q2": ("how does a heat pump work", "d2"),
            "q3": ("which device learns my schedule", "d3"),
        },
        "dev": {
            "q4": ("how do radiators warm a room", "d4"),
            "q5": ("why insulate the loft", "d5"),
            "q6": ("what measures humidity", "d6"),
        },
    }
    for split, queries in splits.items():
        (folder / split / "qrels").mkdir(parents=True)
        (folder / split / "queries.jsonl").write_text(
            "".join(json.dumps({"_id": q, "text": t}) + "\n" for q, (t, _) in queries.items())
        )
        (folder / split / "qrels" / "test.tsv").write_text(
            "query-id\tcorpus-id\tscore\n" + "".join(f"{q}\t{d}\t1\n" for q, (_, d) in queries.items())
        )
    return folder


def test_tune_writes_a_gated_model_that_eval_finds_by_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("SOURCEBOOK_HOME", str(home))
    monkeypatch.setenv("SOURCEBOOK_EMBEDDER", "hashing")
    monkeypatch.setenv("SOURCEBOOK_EVAL_CACHE", str(tmp_path / "cache"))
    add_plugins()
    runner = CliRunner()
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "faq.md").write_bytes((SAMPLES / "faq.md").read_bytes())
    assert runner.invoke(app, ["ingest", str(docs), "--collection", "tiny"]).exit_code == 0
    golden, beir = _golden(tmp_path / "tiny.jsonl"), _beir(tmp_path / "beir")

    same_split = runner.invoke(
        app, ["tune", "tiny", "--golden", str(golden), "--dataset", str(beir), "--split", "dev"]
    )
    assert same_split.exit_code == 1
    assert "--split dev is also the split the gate evaluates on" in same_split.output

    tuned = runner.invoke(
        app,
        ["tune", "tiny", "--golden", str(golden), "--dataset", str(beir), "--batch-size", "4", "--held-apart", "0.34", "--name", "tiny-model", "--json"],
    )  # fmt: skip
    assert tuned.exit_code == 0, tuned.output
    meta = json.loads(tuned.stdout)
    folder = home / "models" / "tiny-model-1"
    assert json.loads((folder / "sourcebook-model.json").read_text()) == meta
    assert (folder / "model.safetensors").exists()
    assert meta["name"] == "tiny-model-1" and meta["base"] == "all-MiniLM-L6-v2" and meta["dimension"] == 384
    assert {s["source"]: s["pairs"] for s in meta["training_data"]}["dataset:beir/train"] == 3
    assert all(len(s["sha256"]) == 64 for s in meta["training_data"])
    assert meta["settings"]["hard_negatives"] == 1 and meta["seed"] == 0
    checks = meta["eval"]["checks"]
    assert set(checks) == {"tiny-golden", "beir-dev"}
    assert meta["offered"] is all(c["passed"] for c in checks.values())
    assert meta["eval"]["metrics"]["beir-dev"]["dense"]["current"]["ndcg@10"] >= 0

    found = runner.invoke(
        app, ["eval", "retrieval", "-d", str(beir), "--split", "dev", "--embedder", "tiny-model-1", "--json"]
    )
    assert found.exit_code == 0, found.output
    assert (
        json.loads(found.stdout)["dense"]["ndcg@10"]
        == meta["eval"]["metrics"]["beir-dev"]["dense"]["tuned"]["ndcg@10"]
    )

    missing = runner.invoke(app, ["eval", "retrieval", "-d", str(beir), "--embedder", "nope-1"])
    assert missing.exit_code == 2
    assert "no model named 'nope-1' (known: minilm, hashing, tiny-model-1)" in missing.output
