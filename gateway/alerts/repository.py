"""Every read and write of ``alert_state``: one row per alert condition (kind, target), taken under its lock."""

from __future__ import annotations

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from gateway.models import AlertStateRow
from outbox.columns import utcnow


def locked(session: Session, kind: str, target: str) -> AlertStateRow:
    """The row of (``kind``, ``target``), created if absent, locked until the caller's transaction ends.

    On PostgreSQL ``FOR UPDATE``: two workers deciding the same alert take turns, and the second sees what
    the first wrote. On SQLite the write transaction (BEGIN IMMEDIATE) is already the only writer.
    """
    postgres = session.get_bind().dialect.name == "postgresql"
    insert = pg_insert if postgres else sqlite_insert
    session.execute(insert(AlertStateRow).values(kind=kind, target=target, unsent=0, updated_at=utcnow())
                    .on_conflict_do_nothing(index_elements=["kind", "target"]))
    query = select(AlertStateRow).where(col(AlertStateRow.kind) == kind, col(AlertStateRow.target) == target)
    if postgres:
        query = query.with_for_update()
    return session.exec(query.execution_options(populate_existing=True)).one()


def save(session: Session, row: AlertStateRow) -> None:
    """Write back a row taken with :func:`locked` (nothing when nothing changed: a quiet check writes nothing)."""
    if not session.is_modified(row):
        return
    row.updated_at = utcnow()
    session.add(row)
    session.flush()


def targets(session: Session, kind: str) -> list[str]:
    """The targets that have a row of ``kind`` (conditions seen, firing or not)."""
    return list(session.exec(select(AlertStateRow.target).where(col(AlertStateRow.kind) == kind)
                             .order_by(col(AlertStateRow.target))).all())  # one lock order: no deadlock


def all_rows(session: Session) -> list[AlertStateRow]:
    """Every condition's row (the operators' view, tests)."""
    return list(session.exec(select(AlertStateRow).order_by(col(AlertStateRow.kind), col(AlertStateRow.target))))
