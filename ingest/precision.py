"""Which number type the embedding model computes in: bfloat16 where the CPU has it, float32 elsewhere.

MiniLM in bfloat16 embeds 2.2-2.8 times faster than in float32 on a CPU with native bf16 (the
``avx512_bf16`` or ``amx_bf16`` flags: Intel Cooper Lake, Sapphire Rapids and later, AMD Zen 4
and later), with vectors at cosine 0.9999 to the float32 ones. Without those instructions torch
emulates bf16 and is several times slower, so ``auto`` takes bfloat16 only where the flags are.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

DType = Literal["float32", "bfloat16"]
Choice = Literal["auto", "float32", "bfloat16"]
BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})
CPUINFO = Path("/proc/cpuinfo")


@dataclass(frozen=True, slots=True)
class Precision:
    """The chosen type and the sentence that says why (shown by ``sourcebook status`` and /readyz)."""

    dtype: DType
    reason: str


def cpu_flags(cpuinfo: Path = CPUINFO) -> frozenset[str]:
    """The first processor's feature flags (``flags`` on x86); empty when the file is unreadable."""
    try:
        text = cpuinfo.read_text(errors="replace")
    except OSError:
        return frozenset()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in {"flags", "Features"}:
            return frozenset(value.split())
    return frozenset()


def choose_precision(choice: str, flags: frozenset[str] | None = None) -> Precision:
    """Resolve the setting on this machine: ``auto`` follows the CPU, the others are obeyed."""
    native = sorted(BF16_FLAGS & (cpu_flags() if flags is None else flags))
    if choice == "float32":
        return Precision("float32", "float32: set by SOURCEBOOK_EMBED_PRECISION")
    if choice == "bfloat16":
        if native:
            return Precision("bfloat16", f"bfloat16: set by SOURCEBOOK_EMBED_PRECISION (CPU has {native[0]})")
        return Precision(
            "bfloat16",
            "bfloat16: set by SOURCEBOOK_EMBED_PRECISION, but this CPU has no native bf16 (emulated, slow)",
        )
    if choice != "auto":
        raise ValueError(f"unknown embedding precision {choice!r} (auto, float32 or bfloat16)")
    if native:
        return Precision("bfloat16", f"bfloat16: auto, this CPU has {' and '.join(native)}")
    return Precision("float32", "float32: auto, this CPU has neither avx512_bf16 nor amx_bf16")
