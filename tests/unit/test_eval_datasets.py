"""Loaders for BEIR sets, QA sets and golden sets, on small files written here."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.errors import InvalidInput, NotFound
from core.golden import load_golden, parse_case
from eval.config import load_config, parse_config
from eval.datasets import detect, load_beir, load_golden_set, load_qa
from tests.conftest import ROOT


def _jsonl(path: Path, rows: list[dict[str, object]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def _beir(root: Path, *, shared_layout: bool) -> Path:
    _jsonl(root / "corpus.jsonl", [{"_id": "d1", "title": "T", "text": "one"}, {"_id": "d2", "text": "two"}])
    queries = [
        {"_id": "q1", "text": "first"},
        {"_id": "q2", "text": "second"},
        {"_id": "q9", "text": "unjudged"},
    ]
    qrels = "query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\t2\nq2\td1\t0\n"
    if shared_layout:
        _jsonl(root / "dev" / "queries.jsonl", queries)
        (root / "dev" / "qrels").mkdir(parents=True)
        (root / "dev" / "qrels" / "test.tsv").write_text(qrels)
    else:
        _jsonl(root / "queries.jsonl", queries)
        (root / "qrels").mkdir()
        (root / "qrels" / "dev.tsv").write_text(qrels)
    return root


@pytest.mark.parametrize("shared_layout", [True, False])
def test_beir_loader_reads_both_layouts(tmp_path: Path, shared_layout: bool) -> None:
    loaded = load_beir(_beir(tmp_path / "set", shared_layout=shared_layout), "dev")
    assert detect(tmp_path / "set") == "beir"
    assert loaded.queries == {"q1": "first", "q2": "second"}  # unjudged queries are dropped
    assert loaded.qrels["q2"] == {"d2": 2, "d1": 0}
    assert [d.id for d in loaded.corpus.docs] == ["d1", "d2"]
    assert loaded.corpus.docs[0].title == "T"
    assert len(loaded.limited(1).queries) == 1
    with pytest.raises(NotFound, match="no qrels for split 'train'"):
        load_beir(tmp_path / "set", "train")


def test_fingerprint_changes_with_the_corpus(tmp_path: Path) -> None:
    root = _beir(tmp_path / "set", shared_layout=True)
    before = load_beir(root).corpus.fingerprint
    assert load_beir(root).corpus.fingerprint == before
    _jsonl(root / "corpus.jsonl", [{"_id": "d1", "text": "changed"}])
    assert load_beir(root).corpus.fingerprint != before


def test_qa_loaders_read_passage_and_article_sets(tmp_path: Path) -> None:
    xquad = tmp_path / "qa-x"
    _jsonl(xquad / "corpus_passages.jsonl", [{"_id": "A#0", "title": "A", "text": "Alpha is first."}])
    _jsonl(
        xquad / "dev" / "questions.jsonl",
        [{"id": "x1", "question": "Which is first?", "answers": ["Alpha"], "gold_passage_id": "A#0"}],
    )
    cmu = tmp_path / "qa-c"
    (cmu / "articles_text").mkdir(parents=True)
    (cmu / "articles_text" / "set1_a1.txt").write_text("Para one.\n\nPara two.")
    _jsonl(
        cmu / "dev" / "questions.jsonl",
        [
            {"id": "c1", "question": "Q?", "answers": ["Yes"], "answerable": True, "doc_id": "set1_a1"},
            {"id": "c2", "question": "Bad?", "answers": [], "answerable": False, "doc_id": "set1_a1"},
        ],
    )
    x = load_qa(xquad)
    assert x.cases[0].answers == ("Alpha",) and x.cases[0].sources[0].document_id == "A#0"
    c = load_qa(cmu)
    assert c.corpus.chunked and c.corpus.docs[0].id == "set1_a1"
    assert [case.answerable for case in c.cases] == [True, False]
    assert c.cases[1].sources == ()
    both = x.with_unanswerable(c)
    assert len(both.cases) == 3
    assert [case.answerable for case in both.cases] == [True, False, False]
    assert both.cases[1].id == "qa-c:c1"


def test_detect_names_what_it_expected(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match=r"corpus\.jsonl \(BEIR\)"):
        detect(tmp_path)
    with pytest.raises(NotFound):
        detect(tmp_path / "nothing")


def test_the_committed_golden_set_parses_and_covers_both_kinds() -> None:
    cases = load_golden(ROOT / "eval" / "golden" / "acme-support.jsonl")
    assert len(cases) >= 30
    assert sum(c.answerable for c in cases) >= 20
    assert sum(not c.answerable for c in cases) >= 8
    for c in cases:
        if c.answerable:
            assert c.expected_answer and c.expected_sources
            assert (ROOT / "samples" / "acme-support" / c.expected_sources[0].source_name).exists(), c.id
        else:
            assert c.expected_answer is None and c.expected_sources == ()
    canonical = "".join(json.dumps(c.to_json(), ensure_ascii=False) + "\n" for c in cases)
    assert canonical == (ROOT / "eval" / "golden" / "acme-support.jsonl").read_text()


def test_golden_loader_accepts_review_cases_and_skips_templates(tmp_path: Path) -> None:
    rows = [
        {
            "id": "r1",
            "collection": "acme",
            "question": None,
            "template": {"id": "error-code", "version": 2, "values": {"code": "E-104"}},
            "answerable": True,
            "expected_answer": "sensor fault",
            "expected_sources": [{"source_name": "codes.xlsx", "document_id": "abc", "pages": [2]}],
            "origin": "review",
            "notes": None,
        },
        {"id": "m1", "collection": "acme", "question": "What?", "answerable": False},
    ]
    path = tmp_path / "g.jsonl"
    _jsonl(path, rows)
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.txt").write_text("text")
    loaded = load_golden_set(path, folder)
    assert [c.id for c in loaded.cases] == ["m1"]
    assert loaded.skipped == ("r1: template case (needs the template store)",)
    assert loaded.corpus.folder == folder
    case = load_golden(path)[0]
    assert case.template is not None and case.template.values == {"code": "E-104"}
    assert case.expected_sources[0].pages == (2,)
    assert case.origin == "review"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"question": None, "template": None}, "needs a 'question' or a 'template'"),
        ({"answerable": "yes"}, "'answerable' must be true or false"),
        ({"expected_sources": [{"pages": [1]}]}, r"expected_sources\[0\] needs a 'source_name'"),
        ({"expected_sources": [{"source_name": "a", "pages": [0]}]}, "page numbers"),
        ({"answerable": False, "expected_answer": "x"}, "unanswerable case has no 'expected_answer'"),
        ({"origin": "robot"}, "'origin' must be"),
        ({"template": {"version": 1}, "question": None}, "'template' must be an object with an 'id'"),
    ],
)
def test_golden_case_errors_name_the_field(change: dict[str, object], message: str) -> None:
    case = {"id": "x", "collection": "c", "question": "Q?", "answerable": True} | change
    with pytest.raises(InvalidInput, match=message):
        parse_case(case, where="g.jsonl line 3")


def test_golden_file_errors_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "g.jsonl"
    path.write_text('{"id": "a", "collection": "c", "question": "Q", "answerable": true}\nnot json\n')
    with pytest.raises(InvalidInput, match=r"g\.jsonl line 2: not JSON"):
        load_golden(path)
    path.write_text('{"id": "a", "collection": "c", "question": "Q", "answerable": true}\n' * 2)
    with pytest.raises(InvalidInput, match="line 2: duplicate id 'a'"):
        load_golden(path)


def test_config_files_and_their_errors(tmp_path: Path) -> None:
    assert list(load_config(None).systems) == ["dense", "sparse", "hybrid-rrf", "hybrid-dbsf"]
    path = tmp_path / "c.toml"
    path.write_text(
        '[index]\nembedder = "hashing"\n[systems.only]\nmode = "sparse"\n[answers]\npassages = 3\n'
    )
    config = load_config(path)
    assert config.index.embedder == "hashing" and list(config.systems) == ["only"]
    assert config.answers.passages == 3
    with pytest.raises(InvalidInput, match=r"\[systems.x\] has unknown keys \['mood'\]"):
        parse_config({"systems": {"x": {"mood": "dense"}}})
    with pytest.raises(InvalidInput, match="mode must be one of dense, sparse, hybrid"):
        parse_config({"systems": {"x": {"mode": "fuzzy"}}})
    with pytest.raises(InvalidInput, match="unknown sections"):
        parse_config({"retrieval": {}})
