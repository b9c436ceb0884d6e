"""Prompt-injection detection in questions and in retrieved passages.

A document or a question may carry text written to steer a language model ("ignore the previous
instructions…"). Such text is flagged, never obeyed: the extractive generator only quotes, and an
LLM generator receives passages as quoted data and has its output checked against them. The
patterns are the phrasings of published injection corpora (instruction override, role
reassignment, prompt extraction, chat-template tokens); they are a tripwire for review, not a
proof of intent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, re.compile(pattern, re.IGNORECASE))
    for name, pattern in (
        (
            "instruction override",
            r"\b(?:ignore|disregard|forget|override|bypass)\b[^.\n]{0,40}?\b(?:previous|prior|above|earlier|"
            r"preceding|all|any|your|the|system)\b[^.\n]{0,20}?\b(?:instructions?|prompts?|rules|directions|guidelines)",
        ),
        (
            "role reassignment",
            r"\byou are (?:now|no longer)\b|\bfrom now on,? you\b|\bact as (?:an?|the) (?:unrestricted|jailbroken|different)\b",
        ),
        (
            "prompt extraction",
            r"\b(?:reveal|print|show|repeat|output|tell me)\b[^.\n]{0,30}?\b(?:system prompt|hidden (?:prompt|instructions)|your (?:instructions|prompt))",
        ),
        (
            "chat template token",
            r"<\|(?:im_start|im_end|system|endoftext)\|>|\[/?INST\]|<</?SYS>>|^\s*#{2,}\s*(?:system|instruction)s?\s*:?\s*$",
        ),
        ("jailbreak", r"\b(?:DAN mode|developer mode enabled|jailbreak(?:ed)? mode|do anything now)\b"),
        ("new instructions", r"\b(?:new|updated|real) (?:system )?instructions?\s*:"),
    )
)


@dataclass(frozen=True, slots=True)
class InjectionFlag:
    kind: str
    excerpt: str


def find_injection(text: str) -> list[InjectionFlag]:
    """The injection patterns this text matches, each with the words that matched."""
    flags = []
    for kind, pattern in _PATTERNS:
        match = pattern.search(text)
        if match:
            flags.append(InjectionFlag(kind, match.group(0).strip()[:120]))
    return flags
