"""`sourcebook eval answers` by category: correct (not refused, every expected fact in the answer),
false refusals, refusals of unanswerable cases and verbatim citations, in the run, the Markdown
report and the CLI's table and JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from core.domain import Answer, Citation, Passage
from core.errors import InvalidInput
from core.golden import UNCATEGORISED, parse_case
from eval.datasets import AnswerCase, load_golden_set
from eval.report import category_rows, write_report
from eval.runner import aggregate_answers, by_category, case_record, facts_found

MANUAL = Passage(
    "c1",
    "manual",
    "kb",
    "manual.pdf",
    "The T100 warranty is 2 years. The T300 Pro warranty is 5 years.",
    (2,),
    0.9,
    char_start=40,
)


def _case(cid: str, category: str, facts: tuple[str, ...] = (), answerable: bool = True) -> AnswerCase:
    return AnswerCase(cid, f"question {cid}", answerable, facts=facts, category=category)


def _said(text: str, quotes: tuple[str, ...] = (), refused: bool = False) -> Answer:
    citations = tuple(
        Citation(n, "manual", "manual.pdf", (2,), q, 0, len(q), 0.9) for n, q in enumerate(quotes, start=1)
    )
    return Answer("q", text, citations, refused=refused, passages=(MANUAL,))


def test_an_answer_is_correct_only_with_every_expected_fact() -> None:
    case = _case("a", "comparison", ("2 years", "5 years"))
    both = _said(
        "The T100 warranty is 2 years. [1] The T300 Pro warranty is 5 years. [2]",
        ("The T100 warranty is 2 years.", "The T300 Pro warranty is 5 years."),
    )
    half = _said("The T100 warranty is 2 years. [1]", ("The T100 warranty is 2 years.",))
    assert case_record(case, both, 1.0)["correct"] == 1.0
    assert case_record(case, half, 1.0)["correct"] == 0.0
    assert case_record(case, half, 1.0)["facts_found"] == [1, 2]
    assert case_record(case, _said("2 years, 5 years", refused=True), 1.0)["correct"] == 0.0


def test_facts_match_normalised_and_on_word_boundaries() -> None:
    text = "Allow outgoing TCP port 8883 on the router. [1] First response: 48 hours."
    assert facts_found(text, ["allow  OUTGOING tcp port 8883", "48 hours", "8 hours"]) == [True, True, False]


def test_a_citation_is_verbatim_only_when_its_quote_is_text_of_a_given_passage() -> None:
    answer = _said(
        "The T100 warranty is 2 years. [1] The T300 Pro has 5 years. [2]",
        ("The T100 warranty is 2 years.", "The T300 Pro has 5 years."),
    )
    record = case_record(_case("a", "warranty", ("2 years",)), answer, 1.0)
    assert record["verbatim"] == [1, 2]
    assert aggregate_answers([record])["citation_verbatim"] == 0.5


def _records() -> list[dict[str, Any]]:
    right = _said("The T300 Pro warranty is 5 years. [1]", ("The T300 Pro warranty is 5 years.",))
    return [
        case_record(_case("w1", "warranty", ("5 years",)), right, 1.0),
        case_record(_case("w2", "warranty", ("3 years",)), right, 1.0),
        case_record(_case("w3", "warranty", ("5 years",)), _said("", refused=True), 1.0),
        case_record(_case("u1", "unanswerable-near-miss", answerable=False), _said("", refused=True), 1.0),
        case_record(_case("u2", "unanswerable-near-miss", answerable=False), right, 1.0),
    ]


def test_by_category_counts_and_rates_by_hand() -> None:
    groups = by_category(_records())
    assert list(groups) == ["warranty", "unanswerable-near-miss", "all"]  # the format's order
    assert list(by_category(_records()[::-1])) == list(groups)
    warranty = groups["warranty"]
    assert (warranty["cases"], warranty["answerable"], warranty["unanswerable"]) == (3, 3, 0)
    assert warranty["correct"] == pytest.approx(1 / 3, abs=1e-4)
    assert warranty["false_refusals"] == pytest.approx(1 / 3, abs=1e-4)
    assert warranty["unanswerable_refused"] is None and warranty["citation_verbatim"] == 1.0
    near = groups["unanswerable-near-miss"]
    assert near["correct"] is None and near["false_refusals"] is None
    assert near["unanswerable_refused"] == 0.5
    assert groups["all"]["cases"] == 5 and groups["all"]["correct"] == pytest.approx(1 / 3, abs=1e-4)
    totals = aggregate_answers(_records())
    assert totals["correct"] == groups["all"]["correct"]
    assert totals["false_refusals"] == groups["all"]["false_refusals"]


def _run(records: list[dict[str, Any]]) -> dict[str, Any]:
    per_case = {f"c{i}": r for i, r in enumerate(records)}
    return {
        "kind": "answers",
        "dataset": "acme",
        "split": "golden",
        "created_at": "now",
        "sourcebook": "test",
        "threshold": 0.5,
        "skipped": [],
        "metrics": aggregate_answers(records),
        "by_category": by_category(records),
        "per_case": per_case,
    }


def test_the_markdown_report_has_the_category_table(tmp_path: Path) -> None:
    report = write_report(_run(_records()), tmp_path).read_text()
    assert "## By category" in report
    assert "| category | cases | answerable | unanswerable | correct | false_refusals |" in report
    assert "| warranty | 3 | 3 | 0 | 0.333 | 0.333 | – | 1.000 |" in report
    assert "| unanswerable-near-miss | 2 | 0 | 2 | – | – | 0.500 | 1.000 |" in report


def test_runs_without_categories_show_no_category_table(tmp_path: Path) -> None:
    plain = [case_record(AnswerCase("q", "q?", True, ("5 years",)), _said("It is 5 years.", ("x",)), 1.0)]
    assert plain[0]["category"] == UNCATEGORISED and plain[0]["correct"] is None
    assert category_rows(_run(plain)) is None
    assert category_rows({"metrics": {}}) is None  # a run written before categories existed
    assert "By category" not in write_report(_run(plain), tmp_path).read_text()


def test_a_golden_case_reads_its_category_and_facts() -> None:
    base = {"id": "x", "collection": "c", "question": "q?", "answerable": True, "expected_answer": "5 years"}
    plain = parse_case(base)
    assert plain.category == UNCATEGORISED and plain.facts == ("5 years",)
    full = parse_case(base | {"category": "warranty", "expected_facts": ["2 years", "5 years"]})
    assert full.category == "warranty" and full.facts == ("2 years", "5 years")
    assert parse_case(full.to_json()) == full
    with pytest.raises(InvalidInput, match="'expected_facts' must be a list of non-empty strings"):
        parse_case(base | {"expected_facts": "5 years"})
    with pytest.raises(InvalidInput, match="an unanswerable case has no 'expected_facts'"):
        parse_case(base | {"answerable": False, "expected_answer": None, "expected_facts": ["x"]})


def test_the_acme_golden_set_loads_with_categories_and_facts() -> None:
    root = Path(__file__).resolve().parents[2]
    loaded = load_golden_set(
        root / "eval" / "golden" / "acme-support.jsonl", root / "samples" / "acme-support"
    )
    assert loaded.skipped == ()  # template cases carry their rendered question
    comparison = next(c for c in loaded.cases if c.category == "comparison" and len(c.facts) > 1)
    assert comparison.answerable and all(comparison.facts)


def test_the_cli_prints_the_category_table_and_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import eval.runner
    from eval.cli import app

    def fake(*_args: object, **_kwargs: object) -> dict[str, Any]:
        return _run(_records())

    monkeypatch.setattr(eval.runner, "evaluate_answers", fake)
    golden = tmp_path / "set.jsonl"
    golden.write_text(
        json.dumps({"id": "a", "collection": "c", "question": "q?", "answerable": False, "category": "spec"})
        + "\n"
    )
    args = ["answers", "-d", str(golden), "--corpus", str(tmp_path), "--out", str(tmp_path / "out")]
    shown = CliRunner().invoke(app, args)
    assert shown.exit_code == 0, shown.output
    assert "unanswerable-near-miss" in shown.output and "false_refusals" in shown.output
    as_json = CliRunner().invoke(app, [*args, "--json"])
    printed = json.loads(as_json.stdout)
    assert printed["by_category"]["warranty"]["cases"] == 3
    assert printed["refusal_recall"] == 0.5  # the metrics' keys stay where they were
