"""PII detection against the team's labelled set: precision and recall per kind.

    python -m bench.pii

The set (tests/data/pii/labelled.jsonl) holds support-desk sentences with the spans a person
marked: e-mail, phone, card, IBAN and national identifiers, and look-alikes that are not personal
data (order numbers, serials, versions, numbers failing their check digit). A detection counts
when its kind and exact text equal a labelled span. Writes bench/results/pii.json.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from bench.provenance import write_result
from ingest.pii import PiiDetector

LABELLED = Path(__file__).resolve().parents[1] / "tests" / "data" / "pii" / "labelled.jsonl"


def score(detector: PiiDetector, path: Path = LABELLED) -> dict[str, dict[str, float]]:
    """Per kind and overall: precision, recall, and the counts behind them."""
    tp: Counter[str] = Counter()
    fp: Counter[str] = Counter()
    fn: Counter[str] = Counter()
    for line in path.read_text().splitlines():
        case = json.loads(line)
        text = case["text"]
        expected = Counter((kind, span) for kind, span in case["pii"])
        found = Counter((m.kind.value, text[m.start : m.end]) for m in detector.find(text))
        for (kind, _), n in (expected & found).items():
            tp[kind] += n
        for (kind, _), n in (found - expected).items():
            fp[kind] += n
        for (kind, _), n in (expected - found).items():
            fn[kind] += n
    report = {}
    for kind in [*sorted({*tp, *fp, *fn}), "all"]:
        t = sum(tp.values()) if kind == "all" else tp[kind]
        f_pos = sum(fp.values()) if kind == "all" else fp[kind]
        f_neg = sum(fn.values()) if kind == "all" else fn[kind]
        report[kind] = {
            "precision": round(t / (t + f_pos), 3) if t + f_pos else 1.0,
            "recall": round(t / (t + f_neg), 3) if t + f_neg else 1.0,
            "true_positives": t,
            "false_positives": f_pos,
            "false_negatives": f_neg,
        }
    return report


def main() -> None:
    report = score(PiiDetector())
    print(f"{'kind':<12} {'precision':>9} {'recall':>7} {'tp':>4} {'fp':>4} {'fn':>4}")
    for kind, row in report.items():
        print(
            f"{kind:<12} {row['precision']:>9.3f} {row['recall']:>7.3f} {row['true_positives']:>4}"
            f" {row['false_positives']:>4} {row['false_negatives']:>4}"
        )
    write_result("pii", report, settings={"labelled": str(LABELLED.relative_to(LABELLED.parents[3]))})


if __name__ == "__main__":
    main()
