"""The one codec of ``Answer``: to and from JSON-ready dicts, whole (the answer cache) or as the
answers table keeps it (text and quotes redacted, passages by id only, the review it came from).

Every place that stores or reads an answer goes through here, so a field added to ``Answer`` or
``Citation`` is added once.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from core.domain import Answer, Citation, Passage


@dataclass(frozen=True, slots=True)
class Reviewed:
    """The reviewer's approval behind an answer served from the review queue."""

    by: str
    at: datetime
    verdict: str


def _same(text: str) -> str:
    return text


def citation_to_dict(citation: Citation) -> dict[str, Any]:
    return dataclasses.asdict(citation) | {"pages": list(citation.pages)}


def citation_from_dict(data: Mapping[str, Any]) -> Citation:
    return Citation(**(dict(data) | {"pages": tuple(data["pages"])}))


def passage_to_dict(passage: Passage) -> dict[str, Any]:
    """What a person checks of a passage; its sentence vectors (a search's working data) stay out."""
    fields = {f.name: getattr(passage, f.name) for f in dataclasses.fields(passage) if f.name != "sentences"}
    return fields | {
        "pages": list(passage.pages),
        "section_path": list(passage.section_path),
        "table_header": list(passage.table_header),
    }


def passage_from_dict(data: Mapping[str, Any]) -> Passage:
    return Passage(
        **(
            dict(data)
            | {
                "pages": tuple(data["pages"]),
                "section_path": tuple(data["section_path"]),
                "table_header": tuple(data.get("table_header", ())),  # rows stored before it existed
            }
        )
    )


def answer_to_dict(answer: Answer) -> dict[str, Any]:
    """The whole answer, passages and all (what the answer cache keeps)."""
    return dataclasses.asdict(dataclasses.replace(answer, passages=())) | {
        "passages": [passage_to_dict(p) for p in answer.passages]
    }


def answer_from_dict(data: Mapping[str, Any]) -> Answer:
    return Answer(
        question=data["question"],
        text=data["text"],
        citations=tuple(citation_from_dict(c) for c in data["citations"]),
        refused=data["refused"],
        refusal_reason=data["refusal_reason"],
        passages=tuple(passage_from_dict(p) for p in data["passages"]),
        notes=tuple(data["notes"]),
        provenance=tuple((str(k), str(v)) for k, v in data["provenance"]),
    )


def answer_to_row(
    answer: Answer, reviewed: Reviewed | None = None, redact: Callable[[str], str] = _same
) -> dict[str, Any]:
    """An answer as the answers table keeps it: ``redact`` applied to its text and quotes, the
    passages by id only, and the review it was served from."""
    return {
        "text": redact(answer.text),
        "citations": [citation_to_dict(c) | {"quote": redact(c.quote)} for c in answer.citations],
        "refused": answer.refused,
        "refusal_reason": answer.refusal_reason,
        "notes": list(answer.notes),
        "provenance": dict(answer.provenance),
        "passages": [p.chunk_id for p in answer.passages],
        "reviewed": None
        if reviewed is None
        else {"by": reviewed.by, "at": reviewed.at.isoformat(), "verdict": reviewed.verdict},
    }


def answer_from_row(
    row: Mapping[str, Any], question: str, provenance: tuple[tuple[str, str], ...] | None = None
) -> Answer:
    """An answer from its stored body (a logged answer or a reviewer's override; the passages
    stay behind, as the row keeps only their ids). ``provenance`` replaces the stored one."""
    stored = tuple((str(k), str(v)) for k, v in dict(row.get("provenance") or {}).items())
    return Answer(
        question,
        str(row.get("text", "")),
        tuple(citation_from_dict(c) for c in row.get("citations", [])),
        refused=bool(row.get("refused", False)),
        refusal_reason=row.get("refusal_reason"),
        notes=tuple(row.get("notes") or ()),
        provenance=stored if provenance is None else provenance,
    )
