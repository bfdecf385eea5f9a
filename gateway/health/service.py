"""Readiness: the database answers and is migrated, the blob store is writable."""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import col

from gateway.blobs import BlobStore
from gateway.db import Database
from gateway.dossiers.service import count_overdue
from gateway.metrics import DOSSIERS_OVERDUE, OUTBOX_MESSAGES
from gateway.migrate import NotMigratedError, ensure_migrated
from outbox.columns import utcnow
from outbox.models import MessageState, OutboxMessage


def readiness(db: Database, blobs: BlobStore, circuit: str = "unknown") -> tuple[bool, dict[str, Any]]:
    """(ready, report). A ministry outage never makes the gateway unready: buffering is its job."""
    components: dict[str, Any] = {}
    oldest_age: float | None = None
    try:
        ensure_migrated(db.engine)
        with db.session() as session:
            oldest: datetime | None = session.execute(
                select(func.min(col(OutboxMessage.created_at))).where(
                    col(OutboxMessage.state).in_([MessageState.PENDING.value, MessageState.IN_FLIGHT.value])
                )
            ).scalar_one()
        components["database"] = {"status": "ok", "dialect": db.dialect}
        if oldest is not None:
            if oldest.tzinfo is None:  # raw aggregate on SQLite bypasses the column type
                oldest = datetime.fromisoformat(str(oldest)).replace(tzinfo=utcnow().tzinfo)
            oldest_age = max(0.0, (utcnow() - oldest).total_seconds())
    except NotMigratedError as exc:
        components["database"] = {"status": "not_migrated", "detail": str(exc)}
    except SQLAlchemyError as exc:
        components["database"] = {"status": "unavailable", "detail": exc.__class__.__name__}
    writable = blobs.check_writable()
    components["blob_store"] = {"status": "ok" if writable else "not_writable"}
    components["ministry"] = {"circuit": circuit}
    ready = components["database"]["status"] == "ok" and writable
    if ready:
        _refresh_outbox_gauges(db)
    return ready, {
        "status": "ready" if ready else "unready",
        "components": components,
        "oldest_undelivered_age_s": oldest_age,
    }


def _refresh_outbox_gauges(db: Database) -> None:
    """Messages by kind and state, for /metrics (refreshed on probes and scrapes)."""
    with db.session() as session:
        rows = session.execute(
            select(col(OutboxMessage.kind), col(OutboxMessage.state), func.count())
            .group_by(col(OutboxMessage.kind), col(OutboxMessage.state))
        ).all()
    OUTBOX_MESSAGES.clear()
    for kind, state, count in rows:
        OUTBOX_MESSAGES.labels(kind, state).set(count)


def refresh_metrics(db: Database) -> None:
    """Bring the database-backed gauges up to date (best effort: a scrape never fails on it)."""
    with contextlib.suppress(SQLAlchemyError):
        _refresh_outbox_gauges(db)
        DOSSIERS_OVERDUE.set(count_overdue(db))
