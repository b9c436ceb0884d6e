"""Shared fixtures: settings in a temp home, a fresh PostgreSQL database, the eval data."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples" / "acme-support"
SHARED = ROOT.parent / "shared" / "eval-data"
POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/"


def shared(*parts: str) -> Path:
    """A path under ../shared/eval-data, or a skip saying what is missing."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"needs {path} (the shared eval data is not on this machine)")
    return path


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home", embedder="hashing", workers=2, document_timeout_s=120)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A new, empty PostgreSQL database, dropped afterwards."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import OperationalError

    admin = create_engine(POSTGRES + "postgres", isolation_level="AUTOCOMMIT")
    # Parallel checkouts on one server each set their own prefix, so none drops another's.
    prefix = os.environ.get("SOURCEBOOK_TEST_PG_PREFIX", "sourcebook_test_")
    name = f"{prefix}{uuid.uuid4().hex[:10]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError as exc:
        admin.dispose()
        pytest.skip(f"PostgreSQL is not reachable on 127.0.0.1:5432: {exc.orig}")
    try:
        yield POSTGRES + name
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def catalog_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Run a test on both catalogs the product supports."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'catalog.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url
