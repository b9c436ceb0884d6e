"""Versioned generator prompts, shipped as YAML beside this file.

A prompt's versions are append-only: an answer records ``answer@2`` and that always means the
same words. Settings pin a version; by default the latest is used.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

from core.domain import Passage
from core.errors import NotFound

FOLDER = Path(__file__).resolve().parent


@dataclass(frozen=True, slots=True)
class Prompt:
    id: str
    version: int
    system: str
    passage: str
    user: str
    note: str = ""

    @property
    def ref(self) -> str:
        return f"{self.id}@{self.version}"

    def render(self, question: str, passages: Sequence[Passage]) -> tuple[str, str]:
        """The system and user messages for a question and its numbered passages."""
        quoted = "\n\n".join(
            self.passage.format(
                marker=n,
                source=p.source_name.replace('"', "'"),
                page=p.pages[0] if p.pages else 1,
                text=p.text.replace("</passage>", "</ passage>"),  # a passage cannot close its quote
            )
            for n, p in enumerate(passages, start=1)
        )
        return self.system, self.user.format(passages=quoted, question=question)


@cache
def _versions(prompt_id: str) -> dict[int, Prompt]:
    path = FOLDER / f"{prompt_id}.yaml"
    if not path.is_file():
        raise NotFound(f"no prompt named {prompt_id!r}")
    data = yaml.safe_load(path.read_text())
    return {
        int(v["version"]): Prompt(
            data["id"], int(v["version"]), v["system"], v["passage"], v["user"], v.get("note", "")
        )
        for v in data["versions"]
    }


def get_prompt(prompt_id: str = "answer", version: int | None = None) -> Prompt:
    versions = _versions(prompt_id)
    if version is None:
        return versions[max(versions)]
    if version not in versions:
        raise NotFound(f"prompt {prompt_id!r} has no version {version} (it has {sorted(versions)})")
    return versions[version]
