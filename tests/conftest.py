"""Fixtures shared by the whole suite: databases on SQLite AND a real PostgreSQL, the app, API keys."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from gateway.migrate import upgrade
from gateway.settings import Settings
from tests.support.pg import PgCluster, PostgresUnavailableError, start_cluster

IN_CI = os.environ.get("CI", "").lower() == "true"

# pytest-xdist's workers inherit COLUMNS=80/LINES=24, and rich fixes a console's width from COLUMNS when the
# console is made (gateway.cli makes its own at import): without them, the CLI tests' COLUMNS=200 applies.
os.environ.pop("COLUMNS", None)
os.environ.pop("LINES", None)

PROVINCE_KEY = "test-province-key"
READER_KEY = "test-reader-key"
ADMIN_KEY = "test-admin-key"
MONITOR_KEY = "test-monitor-key"
API_KEYS = (
    f"province:{PROVINCE_KEY}:dossiers:write+dossiers:read,"
    f"reader:{READER_KEY}:dossiers:read,"
    f"admin:{ADMIN_KEY}:admin,"
    f"monitor:{MONITOR_KEY}:monitor"
)


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    """One throw-away PostgreSQL cluster for the session; in CI its absence is a failure."""
    try:
        cluster = start_cluster()
    except PostgresUnavailableError as exc:
        if IN_CI:
            pytest.fail(f"CI=true and PostgreSQL is missing: {exc}")
        pytest.skip(f"PostgreSQL not available: {exc}")
    try:
        with psycopg.connect(f"host=127.0.0.1 port={cluster.port} user=postgres dbname=postgres",
                             autocommit=True) as conn:
            conn.execute("CREATE DATABASE gw_template")
        upgrade(cluster.url("gw_template"))
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test."""
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> Iterator[str]:
    """A fresh migrated database on each engine: the same test runs on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        target = tmp_path / "gateway.db"
        shutil.copyfile(sqlite_template, target)
        yield f"sqlite:///{target}"
        return
    yield from _fresh_pg_database(request.getfixturevalue("pg_cluster"))


@pytest.fixture
def pg_url(pg_cluster: PgCluster) -> Iterator[str]:
    """A fresh migrated PostgreSQL database, for tests about PostgreSQL alone (mark them ``postgres``)."""
    yield from _fresh_pg_database(pg_cluster)


def _fresh_pg_database(cluster: PgCluster) -> Iterator[str]:
    name = f"t_{uuid.uuid4().hex[:12]}"
    dsn = f"host=127.0.0.1 port={cluster.port} user=postgres dbname=postgres"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name} TEMPLATE gw_template")
    yield cluster.url(name)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    """Settings for one test: its own database and blob store, the test API keys."""
    return Settings(
        database_url=db_url,
        blob_dir=tmp_path / "blobs",
        api_keys=API_KEYS,  # type: ignore[arg-type]
        embedded_worker=False,
        log_format="json",
    )
