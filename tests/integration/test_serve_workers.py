"""``gateway serve --workers N``: the option's wiring, and N processes sharing one database for real."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from adapters.province.samples import numbered_dossier
from gateway import cli
from gateway.settings import get_settings
from tests.conftest import API_KEYS, PROVINCE_KEY
from tests.support.intake import auth, sample_files, with_base64
from tests.support.procs import gateway_env, serve_gateway


@pytest.fixture
def uvicorn_calls(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[list[tuple[Any, dict[str, Any]]]]:
    """``uvicorn.run`` recorded instead of serving; the migration check skipped."""
    import uvicorn

    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    calls: list[tuple[Any, dict[str, Any]]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: calls.append((app, options)))
    monkeypatch.setattr(cli, "_require_migrated", lambda _settings: None)
    monkeypatch.setenv("GATEWAY_DATABASE_URL", f"sqlite:///{tmp_path / 'gw.db'}")
    monkeypatch.setenv("GATEWAY_BLOB_DIR", str(tmp_path / "blobs"))
    get_settings.cache_clear()
    yield calls
    get_settings.cache_clear()
    root.handlers[:] = handlers  # serve pointed logging at the runner's (now closed) stderr
    root.setLevel(level)


def test_one_worker_serves_the_app_in_process(uvicorn_calls: list[tuple[Any, dict[str, Any]]]) -> None:
    result = CliRunner().invoke(cli.app, ["serve", "--port", "8123"])
    assert result.exit_code == 0, result.output
    ((app, options),) = uvicorn_calls
    assert not isinstance(app, str) and "workers" not in options
    assert options["port"] == 8123 and options["http"] == "h11"


def test_several_workers_import_the_app_by_name(uvicorn_calls: list[tuple[Any, dict[str, Any]]]) -> None:
    result = CliRunner().invoke(cli.app, ["serve", "--workers", "3"])
    assert result.exit_code == 0, result.output
    ((app, options),) = uvicorn_calls
    assert app == "gateway.cli:served_app" and options["factory"] is True and options["workers"] == 3
    # The same server settings as one worker: h11 with the bounded head.
    assert options["http"] == "h11" and options["h11_max_incomplete_event_size"] == 2 * 32 * 1024
    module, _, name = app.partition(":")
    assert module == "gateway.cli" and callable(getattr(cli, name))


def test_workers_must_be_at_least_one(uvicorn_calls: list[tuple[Any, dict[str, Any]]]) -> None:
    assert CliRunner().invoke(cli.app, ["serve", "--workers", "0"]).exit_code == 2
    assert uvicorn_calls == []


def test_two_workers_share_one_database(db_url: str, tmp_path: Path) -> None:
    env = gateway_env(db_url, tmp_path / "blobs", API_KEYS, GATEWAY_LOG_LEVEL="INFO")
    dossiers = [numbered_dossier(3000 + n) for n in range(24)]
    with serve_gateway(env, tmp_path / "gateway.log", args=("--workers", "2")) as gateway:
        def post(dossier: dict[str, Any]) -> int:
            with httpx.Client(base_url=gateway.base_url, timeout=30) as http:
                return http.post("/api/v1/dossiers", json=with_base64(dossier, sample_files(dossier)),
                                 headers=auth(PROVINCE_KEY)).status_code

        with ThreadPoolExecutor(8) as pool:
            assert list(pool.map(post, dossiers)) == [202] * len(dossiers)
        listed = httpx.get(f"{gateway.base_url}/api/v1/dossiers", params={"limit": 100},
                           headers=auth(PROVINCE_KEY), timeout=30).json()
        # The first process to listen answers everything while a loaded machine still starts the second.
        deadline = time.monotonic() + 60
        while gateway.log().count('"gateway_started"') < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        log = gateway.log()
    assert listed["count"] == len(dossiers)
    assert {item["MaHoSo"] for item in listed["items"]} == {d["MaHoSo"] for d in dossiers}
    started = [json.loads(line) for line in log.splitlines() if '"gateway_started"' in line]
    assert len(started) == 2, log[-3000:]  # each worker process built the app from the environment
