"""Reliability suite: the marker, the size knob, per-test databases and sandboxes, and the run's figures.

``RELIABILITY_SCALE=small`` (default, inside ``make test``) or ``soak`` (``make soak``): see ``harness.SCALES``.
Every scenario records its figures; they are printed in the terminal summary and written to
``tests/reliability/last-run.json``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from adapters.ministry.sandbox.app import create_app as create_ministry
from adapters.ministry.sandbox.config import RateLimitSettings, SandboxConfig
from adapters.province.sandbox.app import create_app as create_province
from adapters.province.sandbox.config import ProvinceSandboxConfig
from tests.conftest import PROVINCE_KEY
from tests.contract.ministry_support import SandboxHandle
from tests.e2e.conftest import CLIENT_ID, CLIENT_SECRET
from tests.e2e.test_lifecycle import Province
from tests.reliability.harness import CALLBACK_SECRET, FIGURES, Recorder, scale
from tests.support.pg import PgCluster
from tests.support.servers import run_server

LAST_RUN = Path(__file__).with_name("last-run.json")


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``reliability`` marker (pyproject.toml is not ours to edit)."""
    config.addinivalue_line("markers", "reliability: crash, fault, database and disk tests of the running system")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Write the figures of the scenarios that ran."""
    if FIGURES:
        LAST_RUN.write_text(json.dumps({"scale": scale().name, "exit_status": int(exitstatus),
                                        "scenarios": FIGURES}, indent=2, ensure_ascii=False) + "\n")


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Print the figures at the end of the run, one line per scenario."""
    if not FIGURES:
        return
    terminalreporter.section("reliability figures")
    for name, figures in FIGURES.items():
        terminalreporter.write_line(f"{name}: " + ", ".join(f"{k}={v}" for k, v in figures.items()))


@pytest.fixture
def pg_db(pg_cluster: PgCluster) -> Iterator[str]:
    """A fresh migrated database in the session's cluster."""
    name = f"rel_{uuid.uuid4().hex[:12]}"
    dsn = f"host=127.0.0.1 port={pg_cluster.port} user=postgres dbname=postgres"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name} TEMPLATE gw_template")
    yield pg_cluster.url(name)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


class RecordedSandbox(SandboxHandle):
    """A ministry sandbox whose requests are also timed precisely by a :class:`Recorder`."""

    def __init__(self, app: Any, base_url: str, recorder: Recorder) -> None:
        super().__init__(app, base_url)
        self.recorder = recorder


@pytest.fixture
def ministry() -> Iterator[RecordedSandbox]:
    """A ministry sandbox of this test alone (its faults and request log are not shared)."""
    app = create_ministry(SandboxConfig(clients={CLIENT_ID: CLIENT_SECRET},
                                        rate_limit=RateLimitSettings(enabled=False),
                                        request_log_limit=1_000_000))
    recorder = Recorder(app)
    with run_server(recorder, graceful_shutdown_seconds=0.5) as base_url:
        handle = RecordedSandbox(app, base_url, recorder)
        yield handle
        handle.close()


@pytest.fixture
def province() -> Iterator[Province]:
    """A province sandbox receiving signed callbacks."""
    app = create_province(ProvinceSandboxConfig(callback_secret=CALLBACK_SECRET, api_key=PROVINCE_KEY))
    with run_server(app, graceful_shutdown_seconds=0.5) as base_url:
        handle = Province(app, base_url)
        yield handle
        handle.http.close()
