"""Admin operations over the outbox, each audited in the same transaction as the action.

Shared by the admin API, the web console and the CLI. ``actor`` names who acts: ``api:<key name>``
for the API and the console, ``os:<user>`` for the CLI. Reads return the answer models of
:mod:`gateway.admin.schemas`, which the API sends as they are and the CLI and the console format.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Collection, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import and_, case, delete, func, or_, select, update
from sqlmodel import Session, col

from gateway.admin.filters import MessageFilter  # re-exported: service.MessageFilter
from gateway.admin.schemas import (
    AttemptInfo,
    AuditEntryInfo,
    MessageDetail,
    MessagePage,
    MessageSummary,
    OutboxStats,
)
from gateway.blobs import GC_IDLE, BlobStore
from gateway.db import Database
from gateway.death_notices import repository as notices
from gateway.dossiers import repository as dossiers
from gateway.models import AuditEntry
from gateway.vocabulary import callback_key
from outbox import store
from outbox.columns import utcnow
from outbox.models import MessageState, OutboxAttempt, OutboxMessage

log = structlog.get_logger(__name__)

REPLAYABLE = (MessageState.DEAD.value, MessageState.CANCELLED.value)
CANCELLABLE = (MessageState.PENDING.value, MessageState.DEAD.value)
UNDELIVERED = (MessageState.PENDING.value, MessageState.IN_FLIGHT.value)
BATCH = 500


def filter_conditions(filt: MessageFilter) -> list[Any]:
    """SQL conditions of a filter (a dossier code matches its deliveries and its callbacks)."""
    out: list[Any] = []
    if filt.state:
        out.append(col(OutboxMessage.state) == filt.state)
    if filt.kind:
        out.append(col(OutboxMessage.kind) == filt.kind)
    if filt.key:
        out.append(or_(col(OutboxMessage.key) == filt.key, col(OutboxMessage.key) == callback_key(filt.key)))
    if filt.since:
        out.append(col(OutboxMessage.created_at) >= filt.since)
    if filt.until:
        out.append(col(OutboxMessage.created_at) < filt.until)
    if filt.error:
        # Case-insensitive on both engines (SQLite LIKE already is, for ASCII letters only; PostgreSQL not).
        out.append(col(OutboxMessage.last_error).icontains(filt.error, autoescape=True))
    return out


def _summary_fields(m: OutboxMessage) -> dict[str, Any]:
    return {
        "id": m.id, "kind": m.kind, "key": m.key, "state": m.state, "attempts": m.attempts,
        "nextAttemptAt": m.next_attempt_at if m.state == MessageState.PENDING.value else None,
        "lastError": m.last_error, "createdAt": m.created_at, "updatedAt": m.updated_at,
        "finishedAt": m.finished_at,
    }


def message_summary(m: OutboxMessage) -> MessageSummary:
    """One message as listed."""
    return MessageSummary(**_summary_fields(m))


def _encode_cursor(message_id: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"id": message_id}).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> int:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        decoded = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))["id"]
        if not isinstance(decoded, int) or isinstance(decoded, bool) or decoded < 1:
            raise ValueError("invalid cursor")
        return decoded
    except (ValueError, KeyError, TypeError, IndexError) as exc:  # UnicodeError and binascii.Error are ValueErrors
        raise ValueError("invalid cursor") from exc


def list_messages(db: Database, filt: MessageFilter, *, limit: int = 50, cursor: str | None = None) -> MessagePage:
    """Messages newest first, ``limit`` per page; ``next`` is the cursor of the following page (or None).

    Raises ValueError for a cursor this function did not produce, or a ``limit`` below 1.
    """
    if limit < 1:
        raise ValueError("limit must be at least 1")
    conditions = filter_conditions(filt)
    if cursor:
        conditions.append(col(OutboxMessage.id) < _decode_cursor(cursor))
    with db.session() as session:
        rows = session.execute(
            select(OutboxMessage).where(and_(True, *conditions)).order_by(col(OutboxMessage.id).desc())
            .limit(limit + 1)
        ).scalars().all()
    items = [message_summary(m) for m in rows[:limit]]
    more = len(rows) > limit
    return MessagePage(items=items, next=_encode_cursor(int(rows[limit - 1].id or 0)) if more else None)


def _attempt_info(a: OutboxAttempt) -> AttemptInfo:
    return AttemptInfo(attempt=a.attempt, startedAt=a.started_at, durationMs=a.duration_ms, outcome=a.outcome,
                       errorClass=a.error_class, error=a.error, httpStatus=(a.detail or {}).get("status"),
                       detail=a.detail, worker=a.owner)


def _detail(message: OutboxMessage, attempts: Sequence[OutboxAttempt]) -> MessageDetail:
    return MessageDetail(**_summary_fields(message), payload=message.payload,
                         lastErrorDetail=message.last_error_detail, leaseOwner=message.lease_owner,
                         attemptsLog=[_attempt_info(a) for a in attempts])


DOSSIER_MESSAGES = 500
"""At most this many messages of one dossier on its timeline (a dossier has a handful; a replay storm more)."""


def dossier_messages(session: Session, ma_ho_so: str) -> list[MessageDetail]:
    """Every message about dossier ``ma_ho_so`` (its steps under its code, its callbacks under
    ``callback:<MaHoSo>``), oldest first, each with its attempts; at most :data:`DOSSIER_MESSAGES`."""
    messages = session.execute(
        select(OutboxMessage).where(col(OutboxMessage.key).in_([ma_ho_so, callback_key(ma_ho_so)]))
        .order_by(col(OutboxMessage.id)).limit(DOSSIER_MESSAGES)
    ).scalars().all()
    by_message: dict[int, list[OutboxAttempt]] = {}
    ids = [int(m.id or 0) for m in messages]
    for start in range(0, len(ids), BATCH):
        for attempt in session.execute(
                select(OutboxAttempt).where(col(OutboxAttempt.message_id).in_(ids[start:start + BATCH]))
                .order_by(col(OutboxAttempt.id))).scalars():
            by_message.setdefault(attempt.message_id, []).append(attempt)
    return [_detail(m, by_message.get(int(m.id or 0), [])) for m in messages]


DOSSIER_AUDIT_SCAN = 500
"""How many of the latest replay and cancel entries are searched for a dossier's message ids."""


def dossier_audit(session: Session, ma_ho_so: str, message_ids: Collection[int]) -> list[AuditEntryInfo]:
    """The audit entries about dossier ``ma_ho_so``, oldest first: the decisions naming it (release, conflict) and
    the replays and cancels of its messages (among the latest :data:`DOSSIER_AUDIT_SCAN` of those)."""
    named = session.execute(
        select(AuditEntry).where(AuditEntry.target["MaHoSo"].as_string() == ma_ho_so)  # type: ignore[index]
    ).scalars().all()
    wanted = {int(i) for i in message_ids}
    touching: list[AuditEntry] = []
    if wanted:
        recent = session.execute(
            select(AuditEntry).where(col(AuditEntry.action).in_(("replay", "bulk_replay", "cancel")))
            .order_by(col(AuditEntry.id).desc()).limit(DOSSIER_AUDIT_SCAN)).scalars().all()
        touching = [e for e in recent if wanted & {int(i) for i in (e.target or {}).get("ids") or ()}]
    entries = sorted({int(e.id or 0): e for e in [*named, *touching]}.values(), key=lambda e: int(e.id or 0))
    return [AuditEntryInfo(id=e.id, at=e.at, actor=e.actor, action=e.action, target=_about(e.target, wanted),
                           result=e.result) for e in entries]


def _about(target: dict[str, Any] | None, ids: set[int]) -> dict[str, Any] | None:
    """An audit target cut to what concerns one dossier (a bulk replay's other message ids are not its business)."""
    if not target or "ids" not in target:
        return target
    return {**target, "ids": [i for i in target["ids"] if int(i) in ids]}


def get_message(db: Database, message_id: int) -> MessageDetail | None:
    """One message with its payload (personal data stays out: payloads hold ids and callback bodies) and
    every attempt, oldest first; None if unknown."""
    with db.session() as session:
        message = session.get(OutboxMessage, message_id)
        if message is None:
            return None
        attempts = session.execute(
            select(OutboxAttempt).where(col(OutboxAttempt.message_id) == message_id).order_by(col(OutboxAttempt.id))
        ).scalars().all()
        return _detail(message, attempts)


def audit(session: Session, actor: str, action: str, target: dict[str, Any] | None,
          result: dict[str, Any] | None = None) -> None:
    """Write an audit entry in the caller's transaction (the same one as the action)."""
    session.add(AuditEntry(at=utcnow(), actor=actor, action=action, target=target, result=result))


def _replayable_ids(session: Session, message_ids: Sequence[int]) -> list[int]:
    """Those of ``message_ids`` that are dead or cancelled, locked until the transaction ends."""
    query = (select(col(OutboxMessage.id))
             .where(col(OutboxMessage.id).in_(list(message_ids)), col(OutboxMessage.state).in_(REPLAYABLE))
             .order_by(col(OutboxMessage.id)))
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    return [int(i) for i in session.execute(query).scalars()]


def replay(db: Database, message_ids: Sequence[int], actor: str) -> int:
    """Replay dead or cancelled messages by id; returns how many were replayed (others are left as they are).

    The audit entry names the messages actually replayed; when none was, nothing happened and nothing is
    audited."""
    requested = sorted({int(i) for i in message_ids})
    if not requested:
        return 0
    with db.session(write=True) as session:
        ids = _replayable_ids(session, requested)
        if not ids:
            return 0
        count = store.replay(session, ids)
        audit(session, actor, "replay", {"ids": ids, "requested": requested}, {"replayed": count})
    log.info("admin_action", action="replay", actor=actor, message_ids=ids, count=count)
    return count


def bulk_replay(db: Database, filt: MessageFilter, actor: str,
                progress: Callable[[int, int], None] | None = None) -> int:
    """Replay every dead (or, if the filter says so, cancelled) message matching ``filt``, in batches of
    :data:`BATCH`, each batch with its audit entry. Safe to repeat: a replayed message is no longer dead.
    ``progress(done, total)`` is called after each batch. Returns how many were replayed.

    Only the messages that match when the call starts are considered (a message that goes dead again
    meanwhile is not replayed twice). Raises ValueError for a ``state`` other than dead or cancelled."""
    if filt.state is not None and filt.state not in REPLAYABLE:
        raise ValueError(f"only dead or cancelled messages can be replayed, not {filt.state!r}")
    states = [filt.state or MessageState.DEAD.value]
    conditions = [*filter_conditions(replace(filt, state=None)), col(OutboxMessage.state).in_(states)]
    with db.session() as session:
        total, upto = session.execute(
            select(func.count(), func.max(col(OutboxMessage.id))).select_from(OutboxMessage).where(*conditions)
        ).one()
    total = int(total)
    done = 0
    last_id = 0
    while upto is not None:
        with db.session(write=True) as session:
            query = (select(col(OutboxMessage.id))
                     .where(*conditions, col(OutboxMessage.id) > last_id, col(OutboxMessage.id) <= upto)
                     .order_by(col(OutboxMessage.id)).limit(BATCH))
            if session.get_bind().dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            ids = [int(i) for i in session.execute(query).scalars()]
            if not ids:
                break
            count = store.replay(session, ids)
            audit(session, actor, "bulk_replay", {"filter": filt.as_dict(), "ids": ids}, {"replayed": count})
        done += count
        last_id = ids[-1]
        if progress is not None:
            progress(done, max(total, done))
    if done:
        log.info("admin_action", action="bulk_replay", actor=actor, filter=filt.as_dict(), count=done)
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
        if not changed:  # nothing was done: nothing to audit
            return False
        audit(session, actor, "cancel", {"ids": [message_id], "reason": reason}, {"cancelled": 1})
    log.info("admin_action", action="cancel", actor=actor, message_ids=[message_id], count=1)
    return True


def message_state(db: Database, message_id: int) -> str | None:
    """A message's state, None when there is no such message."""
    with db.session() as session:
        found: str | None = session.execute(
            select(col(OutboxMessage.state)).where(col(OutboxMessage.id) == message_id)
        ).scalar_one_or_none()
    return found


def audit_log(db: Database, *, limit: int = 100, before_id: int | None = None, action: str | None = None,
              actor: str | None = None) -> list[AuditEntryInfo]:
    """The audit log, newest first; ``before_id`` pages on, ``action`` and ``actor`` filter."""
    with db.session() as session:
        query = select(AuditEntry).order_by(col(AuditEntry.id).desc()).limit(limit)
        if before_id is not None:
            query = query.where(col(AuditEntry.id) < before_id)
        if action:
            query = query.where(col(AuditEntry.action) == action)
        if actor:
            query = query.where(col(AuditEntry.actor) == actor)
        return [AuditEntryInfo(id=e.id, at=e.at, actor=e.actor, action=e.action, target=e.target, result=e.result)
                for e in session.execute(query).scalars()]


def _aware(value: Any, now: datetime) -> datetime:
    """A MIN() of a date-time column as an aware datetime (on SQLite the aggregate bypasses the column type)."""
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value
    return datetime.fromisoformat(str(value)).replace(tzinfo=now.tzinfo)


def oldest_undelivered_by_kind(db: Database) -> dict[str, float]:
    """Per kind, the age in seconds of the oldest pending or in-flight message (kinds with none are absent)."""
    now = utcnow()
    with db.session() as session:
        rows = session.execute(
            select(col(OutboxMessage.kind), func.min(col(OutboxMessage.created_at)))
            .where(col(OutboxMessage.state).in_(UNDELIVERED)).group_by(col(OutboxMessage.kind))
        ).all()
    return {kind: max(0.0, (now - _aware(oldest, now)).total_seconds()) for kind, oldest in rows if oldest is not None}


def stats(db: Database) -> OutboxStats:
    """Counts by kind and state, the oldest undelivered message's age (overall and per kind), deliveries in the
    last minutes."""
    now = utcnow()
    with db.session() as session:
        counts = session.execute(
            select(col(OutboxMessage.kind), col(OutboxMessage.state), func.count())
            .group_by(col(OutboxMessage.kind), col(OutboxMessage.state))
        ).all()
        recent = session.execute(
            select(func.count()).select_from(OutboxAttempt)
            .where(col(OutboxAttempt.outcome) == "done", col(OutboxAttempt.started_at) >= now - timedelta(minutes=10))
        ).scalar_one()
    oldest_by_kind = oldest_undelivered_by_kind(db)
    by_state: dict[str, int] = {}
    by_kind: dict[str, dict[str, int]] = {}
    for kind, state, count in counts:
        by_state[state] = by_state.get(state, 0) + int(count)
        by_kind.setdefault(kind, {})[state] = int(count)
    return OutboxStats(
        byState=by_state,
        byKind=by_kind,
        oldestUndeliveredAgeS=max(oldest_by_kind.values()) if oldest_by_kind else None,
        oldestUndeliveredAgeSByKind=oldest_by_kind,
        deliveredPerMinute=round(int(recent) / 10, 2),
    )


def _bucket_ends(now: datetime, span: timedelta, bucket: timedelta) -> list[datetime]:
    """The ends of the ``span / bucket`` buckets up to ``now``: on the clock's bucket boundaries (a quarter hour
    reads 08:15), the last one the first boundary at or after ``now`` (the current bucket, partly elapsed)."""
    count = int(span / bucket)
    epoch = datetime(2000, 1, 1, tzinfo=now.tzinfo)
    last = epoch + bucket * -((epoch - now) // bucket)  # ceiling to a boundary
    return [last - bucket * (count - 1 - i) for i in range(count)]


def finished_series(db: Database, now: datetime, *, span: timedelta = timedelta(hours=24),
                    bucket: timedelta = timedelta(minutes=15)) -> list[tuple[datetime, int]]:
    """(bucket end, how many messages finished done in the bucket) over ``span`` before ``now``, oldest first.

    One aggregate over the messages finished in the span (a CASE per bucket: the same SQL on both engines)."""
    ends = _bucket_ends(now, span, bucket)
    finished = col(OutboxMessage.finished_at)
    sums = [func.sum(case((and_(finished > end - bucket, finished <= end), 1), else_=0)) for end in ends]
    with db.session() as session:
        row = session.execute(select(*sums).where(col(OutboxMessage.state) == MessageState.DONE.value,
                                                  finished > ends[0] - bucket, finished <= now)).one()
    return [(end, int(n or 0)) for end, n in zip(ends, row, strict=True)]


def backlog_series(db: Database, now: datetime, *, span: timedelta = timedelta(hours=24),
                   bucket: timedelta = timedelta(minutes=15)) -> list[tuple[datetime, int]]:
    """(moment, how many messages were undelivered then) at each bucket end over ``span`` before ``now``.

    Undelivered at t: created at or before t and not finished by t (done, dead or cancelled later, or not yet).
    Reconstructed from the messages' created and finished times, so a replayed message counts from its creation
    to its last finish, and purged messages are gone from the past. One aggregate over the messages alive in the
    span."""
    ends = _bucket_ends(now, span, bucket)
    created, finished = col(OutboxMessage.created_at), col(OutboxMessage.finished_at)
    sums = [func.sum(case((and_(created <= end, or_(finished.is_(None), finished > end)), 1), else_=0))
            for end in ends]
    with db.session() as session:
        row = session.execute(select(*sums).where(created <= now,
                                                  or_(finished.is_(None), finished > ends[0]))).one()
    return [(end, int(n or 0)) for end, n in zip(ends, row, strict=True)]


PURGEABLE = (MessageState.DONE.value, MessageState.CANCELLED.value)


def _purgeable(cutoff: datetime) -> list[Any]:
    return [col(OutboxMessage.state).in_(PURGEABLE), col(OutboxMessage.finished_at).is_not(None),
            col(OutboxMessage.finished_at) < cutoff]


def purgeable_count(db: Database, older_than: timedelta) -> int:
    """How many messages :func:`purge` would delete now."""
    with db.session() as session:
        return int(session.execute(
            select(func.count()).select_from(OutboxMessage).where(*_purgeable(utcnow() - older_than))
        ).scalar_one())


def purge(db: Database, older_than: timedelta, actor: str, *,
          should_stop: Callable[[], bool] | None = None, blobs: BlobStore | None = None) -> int:
    """Delete done (and cancelled) messages finished before ``older_than`` ago, with their attempts, in batches
    (each with its audit entry); dead messages are never purged. ``should_stop()`` is asked between batches.
    With ``blobs``, then collect that store's unreferenced attachments (:func:`collect_blobs`).
    Returns how many messages were deleted."""
    if older_than < timedelta(0):
        raise ValueError("older_than must not be negative")
    cutoff = utcnow() - older_than
    removed = 0
    while should_stop is None or not should_stop():
        with db.session(write=True) as session:
            query = (select(col(OutboxMessage.id)).where(*_purgeable(cutoff))
                     .order_by(col(OutboxMessage.id)).limit(BATCH))
            if session.get_bind().dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)  # several workers purging share the work
            ids = [int(i) for i in session.execute(query).scalars()]
            if not ids:
                break
            session.execute(delete(OutboxAttempt).where(col(OutboxAttempt.message_id).in_(ids)))
            # Re-checked in the DELETE: a message replayed since the SELECT is no longer finished.
            result = session.execute(delete(OutboxMessage).where(col(OutboxMessage.id).in_(ids),
                                                                 *_purgeable(cutoff)))
            deleted = int(result.rowcount or 0)  # type: ignore[attr-defined]
            if deleted:
                audit(session, actor, "purge", {"older_than_s": older_than.total_seconds(), "count": deleted,
                                                "ids_from": ids[0], "ids_to": ids[-1]}, {"deleted": deleted})
        removed += deleted
    if removed:
        log.info("admin_action", action="purge", actor=actor, older_than_s=older_than.total_seconds(), count=removed)
    if blobs is not None and (should_stop is None or not should_stop()):
        collect_blobs(db, blobs, actor, should_stop=should_stop)
    return removed


def referenced_blobs(db: Database) -> Callable[[Collection[str]], set[str]]:
    """The question the blob garbage collector asks: which of these digests does a live row still need?

    An attachment row of any revision (rows are never deleted: delivered, pending, superseded or dead
    alike) or a death notice's files. A pending or in-flight message needs blobs only through such rows
    (its payload names a revision or a notice, never a digest), so it is covered by them.
    """
    def referenced(digests: Collection[str]) -> set[str]:
        with db.session() as session:
            needed = dossiers.referenced_blobs(session, digests)
            rest = [d for d in digests if d not in needed]
            return needed | notices.referenced_blobs(session, rest) if rest else needed

    return referenced


def collect_blobs(db: Database, blobs: BlobStore, actor: str, *, idle_for: timedelta = GC_IDLE,
                  should_stop: Callable[[], bool] | None = None) -> int:
    """Delete the attachment bytes no row needs (see :func:`referenced_blobs`) and unused for ``idle_for``
    (bytes an intake committed just before writing its rows are never taken); audited when any went.
    Returns how many blobs were deleted."""
    removed = blobs.collect_garbage(referenced_blobs(db), idle_for=idle_for, should_stop=should_stop)
    if removed:
        with db.session(write=True) as session:
            audit(session, actor, "collect_blobs", {"store": blobs.kind, "idle_for_s": idle_for.total_seconds()},
                  {"deleted": removed})
        log.info("admin_action", action="collect_blobs", actor=actor, store=blobs.kind, count=removed)
    return removed
