"""Fixtures of the security tests: one SQLite database per test (the matrix does not depend on the engine)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from gateway.settings import Settings
from tests.conftest import API_KEYS


@pytest.fixture
def sqlite_settings(tmp_path: Path, sqlite_template: Path) -> Settings:
    """Settings on a fresh migrated SQLite copy, with the suite's API keys."""
    target = tmp_path / "gateway.db"
    shutil.copyfile(sqlite_template, target)
    return Settings(
        database_url=f"sqlite:///{target}",
        blob_dir=tmp_path / "blobs",
        api_keys=API_KEYS,  # type: ignore[arg-type]
        embedded_worker=False,
        log_format="json",
        session_secret="test-session-secret",  # type: ignore[arg-type]
    )
