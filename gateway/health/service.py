"""Readiness: the database answers and is migrated, the blob store is writable."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import col

from gateway.admin.service import oldest_undelivered_by_kind
from gateway.blobs import BlobStore
from gateway.db import Database
from gateway.delivery.conflicts import count as count_conflicts
from gateway.dossiers.service import count_overdue
from gateway.identity.service import held_summary
from gateway.metrics import (
    CIRCUIT_STATE,
    DOSSIERS_IN_CONFLICT,
    DOSSIERS_OVERDUE,
    IDENTITY_HELD,
    IDENTITY_OLDEST_HELD,
    OLDEST_UNDELIVERED,
    OUTBOX_MESSAGES,
    RECONCILER_LAG,
)
from gateway.migrate import NotMigratedError, ensure_migrated
from gateway.reconcile.reconciler import feed_read_age_s
from outbox.columns import utcnow
from outbox.models import MessageState, OutboxMessage


def readiness(db: Database, blobs: BlobStore, circuit: str = "unknown",
              population: str | None = None) -> tuple[bool, dict[str, Any]]:
    """(ready, report). A ministry or population-service outage never makes the gateway unready: buffering
    is its job. ``population``: that service's circuit, when identity checks are configured (informational)."""
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
    components["blob_store"] = {"status": "ok" if writable else "not_writable", "kind": blobs.kind}
    components["ministry"] = {"circuit": circuit}
    if population is not None:
        components["population"] = {"circuit": population}
    ready = components["database"]["status"] == "ok" and writable
    return ready, {
        "status": "ready" if ready else "unready",
        "components": components,
        "oldest_undelivered_age_s": oldest_age,
    }


CIRCUIT_VALUES = {"closed": 0, "half_open": 1, "open": 2}


def _refresh_outbox_gauges(db: Database) -> None:
    """Messages by kind and state, and per kind the oldest undelivered age (0 for a kind with nothing
    undelivered, so that an alert on it resolves), for /metrics (refreshed on probes and scrapes)."""
    with db.session() as session:
        rows = session.execute(
            select(col(OutboxMessage.kind), col(OutboxMessage.state), func.count())
            .group_by(col(OutboxMessage.kind), col(OutboxMessage.state))
        ).all()
    oldest = oldest_undelivered_by_kind(db)
    OUTBOX_MESSAGES.clear()
    for kind, state, count in rows:
        OUTBOX_MESSAGES.labels(kind, state).set(count)
    OLDEST_UNDELIVERED.clear()
    for kind in {kind for kind, _state, _count in rows} | set(oldest):
        OLDEST_UNDELIVERED.labels(kind).set(oldest.get(kind, 0.0))


def refresh_circuit_gauge(circuits: Mapping[str, str]) -> None:
    """This process's breakers (none reported when it runs no dispatcher)."""
    CIRCUIT_STATE.clear()
    for target, state in circuits.items():
        CIRCUIT_STATE.labels(target).set(CIRCUIT_VALUES.get(state, math.nan))


def refresh_metrics(db: Database, circuits: Mapping[str, str] | None = None) -> None:
    """Bring the database-backed gauges and the circuit states up to date (best effort: a scrape never fails
    on it)."""
    refresh_circuit_gauge(circuits or {})
    with contextlib.suppress(SQLAlchemyError):
        _refresh_outbox_gauges(db)
        DOSSIERS_OVERDUE.set(count_overdue(db))
        DOSSIERS_IN_CONFLICT.set(count_conflicts(db))
        held, oldest_held = held_summary(db)
        IDENTITY_HELD.set(held)
        IDENTITY_OLDEST_HELD.set(oldest_held)
        lag = feed_read_age_s(db)
        RECONCILER_LAG.set(lag if lag is not None else math.nan)
