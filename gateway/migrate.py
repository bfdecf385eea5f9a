"""Applying and checking database migrations (Alembic)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


class NotMigratedError(RuntimeError):
    """The database is not at the migration head the code expects."""


def alembic_config(url: str) -> Config:
    """An Alembic config that needs no ini file: script location inside the installed package."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def head_revision() -> str:
    """The newest migration this code ships."""
    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or None when it was never migrated."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(url: str, revision: str = "head") -> None:
    """Apply migrations up to ``revision``."""
    command.upgrade(alembic_config(url), revision)


def ensure_migrated(engine: Engine) -> None:
    """Raise :class:`NotMigratedError` with an actionable message unless the database is at head."""
    try:
        current = current_revision(engine)
    except SQLAlchemyError as exc:
        raise NotMigratedError(f"cannot read the database's migration state: {exc.__class__.__name__}") from exc
    head = head_revision()
    if current != head:
        state = "has never been migrated" if current is None else f"is at migration {current}"
        raise NotMigratedError(
            f"the database {state}, this gateway needs migration {head}: run `gateway migrate` first"
        )
