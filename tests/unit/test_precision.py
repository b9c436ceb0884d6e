"""The embedding precision: bfloat16 where the CPU has native bf16, float32 elsewhere, one switch."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.settings import Settings
from ingest.embed import MiniLMEmbedder, create_embedder
from ingest.precision import choose_precision, cpu_flags

SAPPHIRE_RAPIDS = "fpu vme sse sse2 avx2 avx512f avx512_bf16 amx_bf16 amx_tile amx_int8"
ZEN3 = "fpu vme sse sse2 avx avx2 fma"


def fake_cpuinfo(tmp_path: Path, flags: str) -> Path:
    """Two processors, as /proc/cpuinfo lists them."""
    block = f"processor\t: {{n}}\nvendor_id\t: GenuineIntel\nflags\t\t: {flags}\nbogomips\t: 4000.00\n"
    path = tmp_path / "cpuinfo"
    path.write_text("\n".join(block.format(n=n) for n in range(2)))
    return path


def test_auto_takes_bfloat16_on_a_cpu_with_native_bf16(tmp_path: Path) -> None:
    flags = cpu_flags(fake_cpuinfo(tmp_path, SAPPHIRE_RAPIDS))
    assert {"avx512_bf16", "amx_bf16"} <= flags
    chosen = choose_precision("auto", flags)
    assert chosen.dtype == "bfloat16"
    assert chosen.reason == "bfloat16: auto, this CPU has amx_bf16 and avx512_bf16"


def test_auto_takes_bfloat16_with_either_flag(tmp_path: Path) -> None:
    only_avx512 = cpu_flags(fake_cpuinfo(tmp_path, "sse avx512f avx512_bf16"))
    assert choose_precision("auto", only_avx512).dtype == "bfloat16"


def test_auto_falls_back_to_float32_without_native_bf16(tmp_path: Path) -> None:
    chosen = choose_precision("auto", cpu_flags(fake_cpuinfo(tmp_path, ZEN3)))
    assert chosen.dtype == "float32"
    assert chosen.reason == "float32: auto, this CPU has neither avx512_bf16 nor amx_bf16"


def test_an_unreadable_cpuinfo_means_no_flags_and_float32(tmp_path: Path) -> None:
    assert cpu_flags(tmp_path / "missing") == frozenset()
    assert choose_precision("auto", cpu_flags(tmp_path / "missing")).dtype == "float32"


def test_arm_features_line_is_read(tmp_path: Path) -> None:
    path = tmp_path / "cpuinfo"
    path.write_text("processor\t: 0\nFeatures\t: fp asimd bf16 sve\n")
    assert "bf16" in cpu_flags(path)
    assert choose_precision("auto", cpu_flags(path)).dtype == "float32"  # torch's CPU bf16 wants x86 flags


def test_the_setting_overrides_the_cpu(tmp_path: Path) -> None:
    native = cpu_flags(fake_cpuinfo(tmp_path, SAPPHIRE_RAPIDS))
    assert choose_precision("float32", native).dtype == "float32"
    forced = choose_precision("bfloat16", frozenset())
    assert forced.dtype == "bfloat16"
    assert "emulated, slow" in forced.reason
    with pytest.raises(ValueError, match="unknown embedding precision 'fp8'"):
        choose_precision("fp8", native)


def test_the_setting_is_one_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().embed_precision == "auto"
    monkeypatch.setenv("SOURCEBOOK_EMBED_PRECISION", "bfloat16")
    assert Settings().embed_precision == "bfloat16"
    monkeypatch.setenv("SOURCEBOOK_EMBED_PRECISION", "half")
    with pytest.raises(ValueError, match="embed_precision"):
        Settings()


def test_this_machine_is_detected_from_its_own_cpuinfo() -> None:
    flags = cpu_flags()
    expected = "bfloat16" if flags & {"avx512_bf16", "amx_bf16"} else "float32"
    assert choose_precision("auto").dtype == expected


def test_create_embedder_passes_the_precision_on() -> None:
    model = create_embedder("minilm", "bfloat16")
    assert isinstance(model, MiniLMEmbedder) and model.precision == "bfloat16"
    assert create_embedder("hashing", "bfloat16").name == "hashing"  # the double has no precision


@pytest.mark.slow
def test_the_bfloat16_model_gives_float32_vectors_close_to_the_float32_ones() -> None:
    """It runs everywhere; it is only fast where the CPU has native bf16."""
    texts = [
        "Error E-104 means the internal temperature sensor failed.",
        "Hold the dial for ten seconds to reset the thermostat to its factory settings.",
    ]
    full = MiniLMEmbedder(precision="float32").embed(texts)
    half = MiniLMEmbedder(precision="bfloat16").embed(texts)
    assert half.dtype == np.float32 and half.shape == (2, 384)
    np.testing.assert_allclose(np.linalg.norm(half, axis=1), 1.0, rtol=1e-3)
    assert float(np.min(np.sum(full * half, axis=1))) > 0.99
