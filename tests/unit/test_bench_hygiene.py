"""Every bench runs under `make bench` and records how its result was made."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from bench.provenance import provenance, write_result
from tests.conftest import ROOT

RUN_BY_ANOTHER = {"ingest_sides"}  # ingest_compare runs it, one process per side


def test_make_bench_runs_every_bench() -> None:
    benches = {p.stem for p in (ROOT / "bench").glob("*.py") if "def main(" in p.read_text()}
    makefile = (ROOT / "Makefile").read_text()
    target = makefile[makefile.index("\nbench:") : makefile.index("\nclean:")]
    assert benches - RUN_BY_ANOTHER == set(re.findall(r"-m bench\.(\w+)", target))


def test_a_result_records_commit_settings_and_cpu_flags(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import bench.provenance as P

    monkeypatch.setattr(P, "RESULTS", tmp_path)
    path = write_result("demo", {"rows": [1]}, settings={"home": tmp_path, "points": 10})
    made = json.loads(path.read_text())
    assert made["rows"] == [1]
    record = made["provenance"]
    assert re.fullmatch(r"[0-9a-f]{40}", record["commit"])
    assert record["settings"] == {"home": str(tmp_path), "points": 10}
    assert "sse2" in record["machine"]["flags"].split() or record["machine"]["flags"] == ""
    assert isinstance(record["machine"]["bf16"], bool) and len(record["machine"]["load_average_1_5_15"]) == 3
    assert provenance({})["packages"]["sqlalchemy"]
