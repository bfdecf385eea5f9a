"""The console's security records, shared by every gateway process on the database (owner of
``console_session_revoked`` and ``console_login_throttle``): sessions ended by logout, and each client
address's wrong login keys (the rules: :mod:`gateway.admin.login_throttle`).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, select

from gateway.admin.login_throttle import Record, ThrottlePolicy, Verdict, after_failure, stale_before, verdict
from gateway.db import Database
from gateway.models import ConsoleLoginThrottle, ConsoleSessionRevoked
from outbox.columns import utcnow

# --- sessions ended by logout ------------------------------------------------------------------------------

def revoke_session(db: Database, session_id: str, expires_at: datetime, *, now: datetime | None = None) -> None:
    """Record that the session ``session_id`` has ended (until ``expires_at``, when its cookie expires anyway);
    the records already past their expiry are deleted in the same transaction."""
    now = now or utcnow()
    insert = pg_insert if db.dialect == "postgresql" else sqlite_insert
    with db.session(write=True) as session:
        session.execute(delete(ConsoleSessionRevoked).where(ConsoleSessionRevoked.expires_at < now))  # type: ignore[arg-type]
        session.execute(insert(ConsoleSessionRevoked).values(session_id=session_id, expires_at=expires_at)
                        .on_conflict_do_nothing(index_elements=["session_id"]))


def is_revoked(db: Database, session_id: str) -> bool:
    """True when the session ``session_id`` was ended by a logout."""
    with db.session() as session:
        return session.get(ConsoleSessionRevoked, session_id) is not None


# --- the login throttle ------------------------------------------------------------------------------------

def _record(row: ConsoleLoginThrottle | None) -> Record | None:
    return Record(row.failures, row.window_start, row.locked_until) if row is not None else None


def _locked_row(db: Database, session: Session, address: str) -> ConsoleLoginThrottle | None:
    query = select(ConsoleLoginThrottle).where(ConsoleLoginThrottle.address == address)
    return session.exec(query.with_for_update() if db.dialect == "postgresql" else query).first()


def login_verdict(db: Database, address: str, policy: ThrottlePolicy, *, now: datetime | None = None) -> Verdict:
    """Whether a login attempt from ``address`` is refused (locked out) or must wait first."""
    with db.session() as session:
        row = session.get(ConsoleLoginThrottle, address)
        return verdict(_record(row), now or utcnow(), policy)


def record_login_failure(db: Database, address: str, policy: ThrottlePolicy, *,
                         now: datetime | None = None) -> Record:
    """Count a wrong key from ``address`` (one transaction, the row locked on PostgreSQL so two processes count
    both); returns the address's record, locked out when this failure reached the limit. Records of addresses
    quiet for longer than the window and the lockout are deleted in the same transaction."""
    now = now or utcnow()
    insert = pg_insert if db.dialect == "postgresql" else sqlite_insert
    with db.session(write=True) as session:
        session.execute(delete(ConsoleLoginThrottle)
                        .where(ConsoleLoginThrottle.updated_at < stale_before(now, policy)))  # type: ignore[arg-type]
        session.execute(insert(ConsoleLoginThrottle)
                        .values(address=address, failures=0, window_start=now, locked_until=None, updated_at=now)
                        .on_conflict_do_nothing(index_elements=["address"]))
        row = _locked_row(db, session, address)
        assert row is not None  # just inserted, or already there
        updated = after_failure(_record(row) if row.failures else None, now, policy)
        row.failures, row.window_start, row.locked_until = updated.failures, updated.window_start, updated.locked_until
        row.updated_at = now
        session.add(row)
        return updated


def forget_login_failures(db: Database, address: str) -> None:
    """A successful login from ``address``: its wrong keys are forgotten."""
    with db.session(write=True) as session:
        session.execute(delete(ConsoleLoginThrottle).where(ConsoleLoginThrottle.address == address))  # type: ignore[arg-type]
