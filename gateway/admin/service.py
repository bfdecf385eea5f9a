"""Admin operations over the outbox, each audited in the same transaction as the action.

Shared by the admin API, the web console and the CLI. ``actor`` names who acts: ``api:<key name>``
for the API and the console, ``os:<user>`` for the CLI.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, func, or_, select, update
from sqlmodel import Session, col

from gateway.db import Database
from gateway.models import AuditEntry
from outbox import store
from outbox.columns import utcnow
from outbox.models import MessageState, OutboxAttempt, OutboxMessage

REPLAYABLE = (MessageState.DEAD.value, MessageState.CANCELLED.value)
CANCELLABLE = (MessageState.PENDING.value, MessageState.DEAD.value)
BATCH = 500


@dataclass(frozen=True)
class MessageFilter:
    """Which messages: every field optional, all given ones must hold."""

    state: str | None = None
    kind: str | None = None
    key: str | None = None  # MaHoSo (the ministry deliveries' key; callbacks are matched too)
    since: datetime | None = None  # created at or after
    until: datetime | None = None  # created before
    error: str | None = None  # substring of the last error

    def conditions(self) -> list[Any]:
        """SQL conditions of this filter."""
        out: list[Any] = []
        if self.state:
            out.append(col(OutboxMessage.state) == self.state)
        if self.kind:
            out.append(col(OutboxMessage.kind) == self.kind)
        if self.key:
            out.append(or_(col(OutboxMessage.key) == self.key, col(OutboxMessage.key) == f"callback:{self.key}"))
        if self.since:
            out.append(col(OutboxMessage.created_at) >= self.since)
        if self.until:
            out.append(col(OutboxMessage.created_at) < self.until)
        if self.error:
            out.append(col(OutboxMessage.last_error).contains(self.error, autoescape=True))
        return out

    def as_dict(self) -> dict[str, Any]:
        """The filter as JSON (for the audit log)."""
        return {k: (v.isoformat() if isinstance(v, datetime) else v)
                for k, v in self.__dict__.items() if v is not None}


def message_summary(m: OutboxMessage) -> dict[str, Any]:
    """One message as listed."""
    return {
        "id": m.id, "kind": m.kind, "key": m.key, "state": m.state, "attempts": m.attempts,
        "nextAttemptAt": m.next_attempt_at.isoformat() if m.state == MessageState.PENDING.value else None,
        "lastError": m.last_error, "createdAt": m.created_at.isoformat(), "updatedAt": m.updated_at.isoformat(),
        "finishedAt": m.finished_at.isoformat() if m.finished_at else None,
    }


def _encode_cursor(message_id: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"id": message_id}).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> int:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        return int(json.loads(base64.urlsafe_b64decode(padded))["id"])
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError("invalid cursor") from exc


def list_messages(db: Database, filt: MessageFilter, *, limit: int = 50, cursor: str | None = None) -> dict[str, Any]:
    """Messages newest first, ``limit`` per page; ``next`` is the cursor of the following page (or None).

    Raises ValueError for a cursor this function did not produce.
    """
    conditions = filt.conditions()
    if cursor:
        conditions.append(col(OutboxMessage.id) < _decode_cursor(cursor))
    with db.session() as session:
        rows = session.execute(
            select(OutboxMessage).where(and_(True, *conditions)).order_by(col(OutboxMessage.id).desc())
            .limit(limit + 1)
        ).scalars().all()
    items = [message_summary(m) for m in rows[:limit]]
    more = len(rows) > limit
    return {"items": items, "next": _encode_cursor(int(rows[limit - 1].id or 0)) if more else None}


def get_message(db: Database, message_id: int) -> dict[str, Any] | None:
    """One message with its payload (personal data stays out: payloads hold ids and callback bodies) and
    every attempt, oldest first; None if unknown."""
    with db.session() as session:
        message = session.get(OutboxMessage, message_id)
        if message is None:
            return None
        attempts = session.execute(
            select(OutboxAttempt).where(col(OutboxAttempt.message_id) == message_id).order_by(col(OutboxAttempt.id))
        ).scalars().all()
        return {
            **message_summary(message),
            "payload": message.payload,
            "lastErrorDetail": message.last_error_detail,
            "leaseOwner": message.lease_owner,
            "attemptsLog": [
                {"attempt": a.attempt, "startedAt": a.started_at.isoformat(), "durationMs": a.duration_ms,
                 "outcome": a.outcome, "errorClass": a.error_class, "error": a.error,
                 "httpStatus": (a.detail or {}).get("status"), "detail": a.detail, "worker": a.owner}
                for a in attempts
            ],
        }


def audit(session: Session, actor: str, action: str, target: dict[str, Any] | None,
          result: dict[str, Any] | None = None) -> None:
    """Write an audit entry in the caller's transaction (the same one as the action)."""
    session.add(AuditEntry(at=utcnow(), actor=actor, action=action, target=target, result=result))


def replay(db: Database, message_ids: Sequence[int], actor: str) -> int:
    """Replay dead or cancelled messages by id; returns how many were replayed (others are left as they are)."""
    with db.session(write=True) as session:
        count = store.replay(session, list(message_ids))
        audit(session, actor, "replay", {"ids": list(message_ids)}, {"replayed": count})
    return count


def bulk_replay(db: Database, filt: MessageFilter, actor: str,
                progress: Callable[[int, int], None] | None = None) -> int:
    """Replay every dead (or, if the filter says so, cancelled) message matching ``filt``, in batches of
    :data:`BATCH`, each batch with its audit entry. Safe to repeat: a replayed message is no longer dead.
    ``progress(done, total)`` is called after each batch. Returns how many were replayed."""
    states = [filt.state] if filt.state in REPLAYABLE else [MessageState.DEAD.value]
    conditions = [*MessageFilter(**{**filt.__dict__, "state": None}).conditions(),
                  col(OutboxMessage.state).in_(states)]
    with db.session() as session:
        total = int(session.execute(select(func.count()).select_from(OutboxMessage).where(*conditions)).scalar_one())
    done = 0
    last_id = 0
    while True:
        with db.session(write=True) as session:
            ids = [int(i) for i in session.execute(
                select(OutboxMessage.id).where(*conditions, col(OutboxMessage.id) > last_id)  # type: ignore[call-overload]
                .order_by(col(OutboxMessage.id)).limit(BATCH)
            ).scalars()]
            if not ids:
                break
            count = store.replay(session, ids)
            audit(session, actor, "bulk_replay", {"filter": filt.as_dict(), "ids": ids}, {"replayed": count})
        done += count
        last_id = ids[-1]
        if progress is not None:
            progress(done, max(total, done))
    return done


def cancel(db: Database, message_id: int, actor: str, reason: str) -> bool:
    """Withdraw a pending or dead message (it will not be delivered unless replayed); False if not cancellable."""
    now = utcnow()
    with db.session(write=True) as session:
        result = session.execute(
            update(OutboxMessage)
            .where(col(OutboxMessage.id) == message_id, col(OutboxMessage.state).in_(CANCELLABLE))
            .values(state=MessageState.CANCELLED.value, last_error=f"cancelled: {reason}"[:2000], updated_at=now,
                    finished_at=now)
        )
        changed = bool(result.rowcount)  # type: ignore[attr-defined]
        audit(session, actor, "cancel", {"ids": [message_id], "reason": reason}, {"cancelled": int(changed)})
    return changed


def audit_log(db: Database, *, limit: int = 100, before_id: int | None = None) -> list[dict[str, Any]]:
    """The audit log, newest first."""
    with db.session() as session:
        query = select(AuditEntry).order_by(col(AuditEntry.id).desc()).limit(limit)
        if before_id is not None:
            query = query.where(col(AuditEntry.id) < before_id)
        return [{"id": e.id, "at": e.at.isoformat(), "actor": e.actor, "action": e.action, "target": e.target,
                 "result": e.result} for e in session.execute(query).scalars()]


def stats(db: Database) -> dict[str, Any]:
    """Counts by kind and state, the oldest undelivered message's age, deliveries in the last minutes."""
    now = utcnow()
    with db.session() as session:
        counts = session.execute(
            select(col(OutboxMessage.kind), col(OutboxMessage.state), func.count())
            .group_by(col(OutboxMessage.kind), col(OutboxMessage.state))
        ).all()
        oldest = session.execute(
            select(func.min(col(OutboxMessage.created_at))).where(
                col(OutboxMessage.state).in_([MessageState.PENDING.value, MessageState.IN_FLIGHT.value]))
        ).scalar_one()
        recent = session.execute(
            select(func.count()).select_from(OutboxAttempt)
            .where(col(OutboxAttempt.outcome) == "done", col(OutboxAttempt.started_at) >= now - timedelta(minutes=10))
        ).scalar_one()
    if oldest is not None and oldest.tzinfo is None:  # a raw aggregate on SQLite bypasses the column type
        oldest = datetime.fromisoformat(str(oldest)).replace(tzinfo=now.tzinfo)
    by_state: dict[str, int] = {}
    by_kind: dict[str, dict[str, int]] = {}
    for kind, state, count in counts:
        by_state[state] = by_state.get(state, 0) + int(count)
        by_kind.setdefault(kind, {})[state] = int(count)
    return {
        "byState": by_state,
        "byKind": by_kind,
        "oldestUndeliveredAgeS": (now - oldest).total_seconds() if oldest is not None else None,
        "deliveredPerMinute": round(int(recent) / 10, 2),
    }


def purge(db: Database, older_than: timedelta, actor: str) -> int:
    """Delete done (and cancelled) messages finished before ``older_than`` ago, with their attempts; dead
    messages are never purged. Returns how many messages were deleted."""
    cutoff = utcnow() - older_than
    removed = 0
    while True:
        with db.session(write=True) as session:
            ids = [int(i) for i in session.execute(
                select(OutboxMessage.id).where(  # type: ignore[call-overload]
                    col(OutboxMessage.state).in_([MessageState.DONE.value, MessageState.CANCELLED.value]),
                    col(OutboxMessage.finished_at) < cutoff,
                ).limit(BATCH)
            ).scalars()]
            if not ids:
                break
            session.execute(delete(OutboxAttempt).where(col(OutboxAttempt.message_id).in_(ids)))
            session.execute(delete(OutboxMessage).where(col(OutboxMessage.id).in_(ids)))
            audit(session, actor, "purge", {"older_than_s": older_than.total_seconds(), "count": len(ids)},
                  {"deleted": len(ids)})
        removed += len(ids)
    return removed
