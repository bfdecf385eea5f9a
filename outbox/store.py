"""Writing to the outbox inside the caller's transaction."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Integer, String, and_, bindparam, exists, insert, literal_column, select, union_all, update
from sqlmodel import Session, col

from outbox.columns import UTCDateTime, utcnow
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


def enqueue_many(session: Session, messages: Sequence[tuple[str, str, dict[str, Any]]]) -> None:
    """Add ``(kind, key, payload)`` messages in the caller's open transaction, in this order (ids follow it),
    in one statement: rows exactly as :func:`enqueue` writes them."""
    if not messages:
        return
    rows = []
    for kind, key, payload in messages:
        now = utcnow()
        rows.append({"kind": kind, "key": key, "payload": payload, "state": MessageState.PENDING.value,
                     "attempts": 0, "next_attempt_at": now, "lease_owner": None, "lease_expires_at": None,
                     "last_error": None, "last_error_detail": None, "created_at": now, "updated_at": now,
                     "finished_at": None, "replayed_at": None})
    session.connection().execute(insert(_table()), rows)


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
    died: the message is retried, never lost); the earliest due first. A message is not due while
    an earlier message with the same key is pending or in flight, so that messages sharing a key
    are handled in order. On PostgreSQL rows are locked ``FOR UPDATE SKIP LOCKED`` so
    that workers never wait on one another nor take the same row; on SQLite the write transaction
    (BEGIN IMMEDIATE) already makes the claim single-writer.
    """
    if not kinds or limit <= 0:
        return []
    now = now or utcnow()
    connection = session.connection()
    claimed = list(connection.execute(_claim_statement(connection.dialect.name), {
        "c_now": now, "c_kinds": list(kinds), "c_limit": limit, "c_owner": owner,
        "c_until": now + timedelta(seconds=lease_s)}))
    claimed.sort(key=lambda r: (r.next_attempt_at, r.id))
    return [Message(r.id, r.kind, r.key, dict(r.payload), r.attempts, r.created_at, r.replayed_at or r.created_at)
            for r in claimed]


def _literal(state: MessageState) -> Any:
    """A state written into the SQL rather than bound: plans can then match the partial index's predicate."""
    return literal_column(f"'{state.value}'", String())


@functools.cache
def _claim_statement(dialect: str) -> Any:
    """Lease up to ``c_limit`` messages of ``c_kinds`` due at ``c_now`` (expired leases and pending messages),
    not blocked by an earlier message of their key, the earliest due first; RETURNING what a handler needs.

    The two kinds of due message are picked by two arms of a UNION ALL rather than one OR, so that each walks
    its own index in due order and stops at the limit (the OR made PostgreSQL scan, anti-join and sort the
    whole table at every claim). Built once per dialect, with bound parameters: building it at every claim
    cost more than running it.
    """
    m = _table()
    now = bindparam("c_now", type_=UTCDateTime())
    # The limit and the states are written into the SQL: a prepared statement's generic plan can then use the
    # partial index and the limit, and PostgreSQL stops planning the claim afresh at every execution.
    limit = bindparam("c_limit", type_=Integer(), literal_execute=True)

    def arm(name: str, due: Any) -> Any:
        candidate = m.alias(name)
        earlier = m.alias(f"{name}_earlier")
        blocked = exists().where(
            earlier.c.key == candidate.c.key,
            earlier.c.id < candidate.c.id,
            earlier.c.state.in_([_literal(MessageState.PENDING), _literal(MessageState.IN_FLIGHT)]),
        )
        pick = (
            select(candidate.c.id, candidate.c.next_attempt_at)
            .where(due(candidate.c), candidate.c.kind.in_(bindparam("c_kinds", expanding=True)), ~blocked)
            .order_by(candidate.c.next_attempt_at, candidate.c.id)
            .limit(limit)
        )
        if dialect == "postgresql":
            pick = pick.with_for_update(skip_locked=True, of=candidate)
        ids = pick.subquery(f"{name}_ids")
        return select(ids.c.id, ids.c.next_attempt_at)

    picked = union_all(
        arm("lapsed", lambda c: and_(c.state == _literal(MessageState.IN_FLIGHT), c.lease_expires_at < now)),
        arm("due", lambda c: and_(c.state == _literal(MessageState.PENDING), c.next_attempt_at <= now)),
    ).subquery("picked")
    # Each arm brings its first ``limit``: the first ``limit`` of both together are those of the whole (the few
    # rows an arm locked in excess stay as they were, and are free again at commit).
    first = select(picked.c.id).order_by(picked.c.next_attempt_at, picked.c.id).limit(limit)
    return (
        update(m)
        .where(m.c.id.in_(first))
        .values(state=MessageState.IN_FLIGHT.value, lease_owner=bindparam("c_owner", type_=String()),
                lease_expires_at=bindparam("c_until", type_=UTCDateTime()), attempts=m.c.attempts + 1,
                updated_at=now)
        .returning(m.c.id, m.c.kind, m.c.key, m.c.payload, m.c.attempts, m.c.created_at, m.c.replayed_at,
                   m.c.next_attempt_at)
    )


@functools.cache
def _finish_statement(keys: tuple[str, ...]) -> Any:
    """``UPDATE`` of the columns ``keys`` of a message still leased by ``f_owner`` (built once per set of keys)."""
    m = _table()
    return (
        update(m)
        .where(m.c.id == bindparam("f_id"), m.c.lease_owner == bindparam("f_owner", type_=String()),
               m.c.state == _literal(MessageState.IN_FLIGHT))
        .values({key: bindparam(f"v_{key}", type_=m.c[key].type) for key in keys})
    )


def _finish(session: Session, message_id: int, owner: str, **values: Any) -> bool:
    """Update a message still leased by ``owner``; False when the lease was lost (someone took over)."""
    values["updated_at"] = utcnow()
    result = session.connection().execute(
        _finish_statement(tuple(sorted(values))),
        {"f_id": message_id, "f_owner": owner, **{f"v_{key}": value for key, value in values.items()}},
    )
    return bool(result.rowcount)


def complete(session: Session, message_id: int, owner: str) -> bool:
    """Mark a leased message done."""
    now = utcnow()
    return _finish(session, message_id, owner, state=MessageState.DONE.value, lease_owner=None,
                   lease_expires_at=None, finished_at=now)


def complete_many(session: Session, message_ids: Sequence[int], owner: str) -> set[int]:
    """Mark leased messages done in one statement; returns the ids whose lease was still ours (the others
    were taken over: their outcome is someone else's)."""
    if not message_ids:
        return set()
    now = utcnow()
    rows = session.connection().execute(_complete_many_statement(), {
        "f_ids": list(message_ids), "f_owner": owner, "f_now": now})
    return {row[0] for row in rows}


@functools.cache
def _complete_many_statement() -> Any:
    m = _table()
    now = bindparam("f_now", type_=UTCDateTime())
    return (
        update(m)
        .where(m.c.id.in_(bindparam("f_ids", expanding=True)), m.c.lease_owner == bindparam("f_owner", type_=String()),
               m.c.state == _literal(MessageState.IN_FLIGHT))
        .values(state=MessageState.DONE.value, lease_owner=None, lease_expires_at=None, finished_at=now,
                updated_at=now)
        .returning(m.c.id)
    )


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


@dataclass(frozen=True)
class Attempt:
    """One attempt at a message, as logged in ``outbox_attempt``."""

    message: Message
    owner: str
    started_at: datetime
    duration_ms: int
    outcome: str
    error_class: str | None = None
    error: str | None = None
    detail: dict[str, Any] | None = None


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
    record_attempts(session, [Attempt(message, owner, started_at, duration_ms, outcome, error_class, error, detail)])


def record_attempts(session: Session, attempts: Sequence[Attempt]) -> None:
    """Log attempts in the transaction that records their outcomes (one statement for the lot)."""
    if not attempts:
        return
    # A Core insert: the ORM's unit of work cost more than the insert itself at every attempt.
    session.connection().execute(insert(OutboxAttempt.__table__), [{  # type: ignore[attr-defined]
        "message_id": a.message.id, "attempt": a.message.attempts, "owner": a.owner, "started_at": a.started_at,
        "duration_ms": a.duration_ms, "outcome": a.outcome, "error_class": a.error_class,
        "error": a.error[:2000] if a.error else None, "detail": a.detail,
    } for a in attempts])
