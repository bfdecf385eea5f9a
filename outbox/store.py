"""Writing to the outbox inside the caller's transaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, or_, select, update
from sqlmodel import Session, col

from outbox.columns import utcnow
from outbox.models import MessageState, OutboxAttempt, OutboxMessage


def enqueue(
    session: Session,
    kind: str,
    key: str,
    payload: dict[str, Any],
    *,
    not_before: datetime | None = None,
) -> OutboxMessage:
    """Add a message in the caller's open transaction: it exists if and only if that transaction commits."""
    now = utcnow()
    message = OutboxMessage(
        kind=kind,
        key=key,
        payload=payload,
        state=MessageState.PENDING.value,
        next_attempt_at=not_before or now,
        created_at=now,
        updated_at=now,
    )
    session.add(message)
    session.flush()
    return message


def cancel_pending(session: Session, kind: str, key: str, reason: str) -> int:
    """Cancel the not-yet-claimed messages of a kind and key (in the caller's transaction).

    Messages already in flight are left alone: their handler decides what the newer state means.
    Returns how many were cancelled.
    """
    now = utcnow()
    result = session.execute(
        update(OutboxMessage)
        .where(
            col(OutboxMessage.kind) == kind,
            col(OutboxMessage.key) == key,
            col(OutboxMessage.state) == MessageState.PENDING.value,
        )
        .values(state=MessageState.CANCELLED.value, last_error=reason, updated_at=now, finished_at=now)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Message:
    """A claimed message as a handler sees it (a snapshot, detached from any session)."""

    id: int
    kind: str
    key: str
    payload: dict[str, Any]
    attempts: int  # including the one now under way
    created_at: datetime
    age_from: datetime  # when the message was written, or last replayed: the retry policy's max age counts from it


def _table() -> Any:
    return OutboxMessage.__table__  # type: ignore[attr-defined]


def claim(
    session: Session,
    *,
    owner: str,
    kinds: Sequence[str],
    limit: int,
    lease_s: float,
    now: datetime | None = None,
) -> list[Message]:
    """Take up to ``limit`` due messages of ``kinds`` under a lease, in the caller's write transaction.

    Due: pending with ``next_attempt_at`` passed, or in flight with an expired lease (its worker
    died: the message is retried, never lost). A message is not due while an earlier message with
    the same key is pending or in flight, so that messages sharing a key are handled in order.
    On PostgreSQL rows are locked ``FOR UPDATE SKIP LOCKED`` so that workers never wait on one
    another nor take the same row; on SQLite the write transaction (BEGIN IMMEDIATE) already makes
    the claim single-writer.
    """
    if not kinds or limit <= 0:
        return []
    now = now or utcnow()
    m = _table()
    earlier = m.alias("earlier")
    blocked = exists().where(
        earlier.c.key == m.c.key,
        earlier.c.id < m.c.id,
        earlier.c.state.in_([MessageState.PENDING.value, MessageState.IN_FLIGHT.value]),
    )
    due = or_(
        and_(m.c.state == MessageState.PENDING.value, m.c.next_attempt_at <= now),
        and_(m.c.state == MessageState.IN_FLIGHT.value, m.c.lease_expires_at < now),
    )
    query = (
        select(m.c.id)
        .where(due, m.c.kind.in_(list(kinds)), ~blocked)
        .order_by(m.c.next_attempt_at, m.c.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True, of=m)
    ids = [row[0] for row in session.execute(query)]
    if not ids:
        return []
    session.execute(
        update(m)
        .where(m.c.id.in_(ids))
        .values(
            state=MessageState.IN_FLIGHT.value,
            lease_owner=owner,
            lease_expires_at=now + timedelta(seconds=lease_s),
            attempts=m.c.attempts + 1,
            updated_at=now,
        )
    )
    rows = session.execute(
        select(m.c.id, m.c.kind, m.c.key, m.c.payload, m.c.attempts, m.c.created_at, m.c.replayed_at)
        .where(m.c.id.in_(ids))
        .order_by(m.c.next_attempt_at, m.c.id)
    )
    return [Message(r.id, r.kind, r.key, dict(r.payload), r.attempts, r.created_at, r.replayed_at or r.created_at)
            for r in rows]


def _finish(session: Session, message_id: int, owner: str, **values: Any) -> bool:
    """Update a message still leased by ``owner``; False when the lease was lost (someone took over)."""
    m = _table()
    result = session.execute(
        update(m)
        .where(m.c.id == message_id, m.c.lease_owner == owner, m.c.state == MessageState.IN_FLIGHT.value)
        .values(updated_at=utcnow(), **values)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def complete(session: Session, message_id: int, owner: str) -> bool:
    """Mark a leased message done."""
    now = utcnow()
    return _finish(session, message_id, owner, state=MessageState.DONE.value, lease_owner=None,
                   lease_expires_at=None, finished_at=now)


def reschedule(
    session: Session, message_id: int, owner: str, *, at: datetime, error: str, detail: dict[str, Any] | None
) -> bool:
    """Put a leased message back to pending, due at ``at``, remembering why it failed."""
    return _finish(session, message_id, owner, state=MessageState.PENDING.value, next_attempt_at=at,
                   lease_owner=None, lease_expires_at=None, last_error=error[:2000], last_error_detail=detail)


def bury(session: Session, message_id: int, owner: str, *, error: str, detail: dict[str, Any] | None) -> bool:
    """Give up on a leased message: dead, with its last error, until an administrator replays it."""
    now = utcnow()
    return _finish(session, message_id, owner, state=MessageState.DEAD.value, lease_owner=None,
                   lease_expires_at=None, last_error=error[:2000], last_error_detail=detail, finished_at=now)


def release(session: Session, message_ids: Sequence[int], owner: str) -> int:
    """Hand leased messages back at once (a worker shutting down), without counting the attempt."""
    if not message_ids:
        return 0
    m = _table()
    result = session.execute(
        update(m)
        .where(m.c.id.in_(list(message_ids)), m.c.lease_owner == owner, m.c.state == MessageState.IN_FLIGHT.value)
        .values(state=MessageState.PENDING.value, lease_owner=None, lease_expires_at=None,
                attempts=m.c.attempts - 1, updated_at=utcnow())
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def renew(session: Session, message_ids: Sequence[int], owner: str, lease_s: float) -> set[int]:
    """Extend the leases of messages still being handled; returns the ids whose lease is still ours."""
    if not message_ids:
        return set()
    m = _table()
    now = utcnow()
    session.execute(
        update(m)
        .where(m.c.id.in_(list(message_ids)), m.c.lease_owner == owner, m.c.state == MessageState.IN_FLIGHT.value)
        .values(lease_expires_at=now + timedelta(seconds=lease_s), updated_at=now)
    )
    kept = session.execute(
        select(m.c.id).where(m.c.id.in_(list(message_ids)), m.c.lease_owner == owner,
                             m.c.state == MessageState.IN_FLIGHT.value)
    )
    return {row[0] for row in kept}


def replay(session: Session, message_ids: Sequence[int]) -> int:
    """Make dead (or cancelled) messages pending again, due now, with a fresh attempt count."""
    if not message_ids:
        return 0
    m = _table()
    now = utcnow()
    result = session.execute(
        update(m)
        .where(m.c.id.in_(list(message_ids)),
               m.c.state.in_([MessageState.DEAD.value, MessageState.CANCELLED.value]))
        .values(state=MessageState.PENDING.value, attempts=0, next_attempt_at=now, replayed_at=now,
                finished_at=None, updated_at=now)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def next_due(session: Session, kinds: Sequence[str]) -> datetime | None:
    """When the earliest pending message of ``kinds`` falls due (None when there is none)."""
    m = _table()
    found = session.execute(
        select(m.c.next_attempt_at)
        .where(m.c.state == MessageState.PENDING.value, m.c.kind.in_(list(kinds)))
        .order_by(m.c.next_attempt_at)
        .limit(1)
    ).first()
    return found[0] if found else None


def record_attempt(
    session: Session,
    message: Message,
    *,
    owner: str,
    started_at: datetime,
    duration_ms: int,
    outcome: str,
    error_class: str | None = None,
    error: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Log one attempt in the transaction that records its outcome."""
    session.add(OutboxAttempt(
        message_id=message.id, attempt=message.attempts, owner=owner, started_at=started_at,
        duration_ms=duration_ms, outcome=outcome, error_class=error_class,
        error=error[:2000] if error else None, detail=detail,
    ))
