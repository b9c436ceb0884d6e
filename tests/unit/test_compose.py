"""docker-compose.yml, checked without Docker: it parses, every service has a health check and a
pinned image, and every SOURCEBOOK_ variable it sets is a setting the code knows."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from core.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
SERVICES = {"qdrant", "redis", "postgres", "api", "worker", "ui"}


def _ui_reads(name: str) -> bool:
    """The Streamlit app reads a few variables of its own (the API's URL), not the settings class."""
    return any(name in path.read_text() for path in (ROOT / "ui").rglob("*.py"))


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return loaded


def test_the_stack_has_every_service_with_a_health_check(compose: dict[str, Any]) -> None:
    assert set(compose["services"]) == SERVICES
    for name, service in compose["services"].items():
        check = service.get("healthcheck", {})
        assert check.get("test"), f"{name} has no health check"
        assert not check.get("disable"), name


def test_images_are_pinned_to_a_version(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        image = service["image"]
        repository, _, tag = image.rpartition(":")
        assert repository and tag, f"{name}: {image} has no tag"
        assert tag != "latest" and re.search(r"\d+\.\d+", tag), f"{name}: {image} is not pinned"


def test_data_lives_in_named_volumes(compose: dict[str, Any]) -> None:
    named = set(compose["volumes"])
    for name in ("qdrant", "redis", "postgres", "api", "worker"):
        mounts = compose["services"][name].get("volumes", [])
        assert mounts, f"{name} keeps its data in the container"
        assert all(m.split(":")[0] in named for m in mounts), name


def test_the_worker_scales_and_waits_for_a_migrated_catalog(compose: dict[str, Any]) -> None:
    worker = compose["services"]["worker"]
    assert "container_name" not in worker and "ports" not in worker, "--scale worker=N would clash"
    assert worker["depends_on"]["api"]["condition"] == "service_healthy"
    assert worker["command"][:4] == ["celery", "-A", "sourcebook.worker", "worker"]
    assert "ocr" in worker["command"][worker["command"].index("-Q") + 1].split(",")


def _environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    return dict(env) if isinstance(env, dict) else dict(e.split("=", 1) for e in env)


def test_every_sourcebook_variable_is_a_known_setting(compose: dict[str, Any]) -> None:
    known = {f"SOURCEBOOK_{name.upper()}" for name in Settings.model_fields}
    seen = set()
    for name, service in compose["services"].items():
        for key in _environment(service):
            if key.startswith("SOURCEBOOK_") and key not in known:
                assert name == "ui" and _ui_reads(key), f"{name} sets {key}, which nothing reads"
            seen.add(key)
    assert {"SOURCEBOOK_EXECUTOR", "SOURCEBOOK_API_URL"} <= seen


def test_the_cluster_environment_passes_the_settings_validator(compose: dict[str, Any]) -> None:
    """With the secrets filled in, the API's and workers' environment is a valid cluster topology."""
    env = _environment(compose["services"]["worker"])

    def interpolate(value: str) -> str:  # ${X:-default} takes its default, ${X:?why} a secret
        value = re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", value)
        return re.sub(r"\$\{[A-Z_]+:\?[^}]*\}", "secret", value)

    values = {
        key.removeprefix("SOURCEBOOK_").lower(): interpolate(value)
        for key, value in env.items()
        if key.startswith("SOURCEBOOK_")
    }
    settings = Settings(**values)
    assert (settings.executor, settings.vector_store) == ("celery", "server")


def test_the_env_example_sets_every_variable_the_file_requires(compose: dict[str, Any]) -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    required = set(re.findall(r"\$\{([A-Z_]+):\?", text))
    example = {
        line.split("=", 1)[0]
        for line in (ROOT / ".env.example").read_text().splitlines()
        if line and not line.startswith("#")
    }
    assert required <= example


def test_the_image_installs_the_cpu_torch_before_anything_else() -> None:
    lines = [line.strip() for line in (ROOT / "Dockerfile").read_text().splitlines()]
    installs = [line for line in lines if "pip install" in line]
    assert "torch==2.13.0" in installs[0] and "download.pytorch.org/whl/cpu" in installs[0]
