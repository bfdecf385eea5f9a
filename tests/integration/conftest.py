"""Fixtures of the in-process integration tests: the test's database and the app over it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from gateway.app import create_app
from gateway.db import Database, create_database
from gateway.settings import Settings


@pytest.fixture
def db(settings: Settings) -> Iterator[Database]:
    """The test's database (SQLite or PostgreSQL, per the ``db_url`` parameter)."""
    database = create_database(settings.database_url)
    yield database
    database.dispose()


@pytest.fixture
def client(settings: Settings, db: Database) -> Iterator[TestClient]:
    """The gateway app over that database, lifespan run."""
    with TestClient(create_app(settings, database=db)) as test_client:
        yield test_client
