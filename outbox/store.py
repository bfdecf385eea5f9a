"""Writing to the outbox inside the caller's transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col

from outbox.columns import utcnow
from outbox.models import MessageState, OutboxMessage


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
