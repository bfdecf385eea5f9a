"""GATEWAY_BLOB_STORE: ``fs`` by default; ``postgresql`` refused at start-up on SQLite, with the reason."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from gateway import cli
from gateway.settings import Settings, get_settings


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[pytest.MonkeyPatch]:
    monkeypatch.setenv("GATEWAY_DATABASE_URL", f"sqlite:///{tmp_path / 'gw.db'}")
    monkeypatch.setenv("GATEWAY_BLOB_DIR", str(tmp_path / "blobs"))
    get_settings.cache_clear()
    yield monkeypatch
    get_settings.cache_clear()


def test_files_are_the_default_store(tmp_path: Path) -> None:
    assert Settings(database_url=f"sqlite:///{tmp_path / 'gw.db'}").blob_store == "fs"


def test_the_database_store_needs_postgresql(tmp_path: Path) -> None:
    with pytest.raises(ValidationError) as caught:
        Settings(database_url=f"sqlite:///{tmp_path / 'gw.db'}", blob_store="postgresql")
    assert "GATEWAY_BLOB_STORE=postgresql" in str(caught.value) and "GATEWAY_BLOB_STORE=fs" in str(caught.value)
    assert Settings(database_url="postgresql+psycopg://gw@db.example/gw", blob_store="postgresql").blob_store \
        == "postgresql"
    with pytest.raises(ValidationError):
        Settings(blob_store="s3")  # type: ignore[arg-type]


@pytest.mark.parametrize("command", [["serve"], ["worker"]])
def test_serve_and_worker_refuse_to_start_with_it_on_sqlite(environment: pytest.MonkeyPatch,
                                                            command: list[str]) -> None:
    environment.setenv("GATEWAY_BLOB_STORE", "postgresql")
    result = CliRunner().invoke(cli.app, command)
    assert result.exit_code == 2
    assert "invalid configuration" in result.output and "GATEWAY_BLOB_STORE=postgresql" in result.output
