"""The reconciler: reads the ministry change feed in batches, one process at a time, cursor stored last.

Only the holder of the cursor's lease reads the feed, so several workers on one PostgreSQL never
advance it concurrently. Each page is applied and its cursor stored in ONE transaction, fenced by
the lease: a reconciler that lost its lease cannot move the cursor.
"""

from __future__ import annotations

import asyncio
from contextlib import suppress
from datetime import timedelta

import structlog
from sqlalchemy import or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import col

from adapters.ministry.client import MinistryClient
from adapters.ministry.errors import MinistryError
from adapters.ministry.models import ChangePage
from gateway.db import Database
from gateway.models import SyncCursor
from gateway.reconcile.apply import ChangeOutcome, apply_changes
from outbox.columns import utcnow
from outbox.dispatcher import default_owner

log = structlog.get_logger(__name__)

FEED = "ministry_changes"


def feed_read_age_s(db: Database) -> float | None:
    """Seconds since the change feed was last read successfully by any reconciler on this database (each page
    read stamps the cursor row); before the first success, since reconciliation first tried. None when it
    never ran here."""
    with db.session() as session:
        stamped = session.execute(
            select(col(SyncCursor.updated_at)).where(col(SyncCursor.name) == FEED)
        ).scalar_one_or_none()
    return None if stamped is None else max(0.0, (utcnow() - stamped).total_seconds())


class LeaseLostError(RuntimeError):
    """Another reconciler holds the feed now."""


class Reconciler:
    """Polls the change feed every ``interval_s`` while it holds the feed lease."""

    def __init__(self, db: Database, client: MinistryClient, *, interval_s: float, batch: int = 200,
                 notify: bool = False, owner: str | None = None, lease_s: float | None = None) -> None:
        self.db = db
        self.client = client
        self.interval_s = interval_s
        self.batch = batch
        self.notify = notify
        self.owner = owner or default_owner()
        # Longer than a poll interval (each poll renews it), short enough that a crashed holder's
        # successor takes over within seconds of the next interval.
        self.lease_s = lease_s or 2 * interval_s + 5.0
        self._failures = 0
        self._stopping = asyncio.Event()
        self._wake = asyncio.Event()

    def stop(self) -> None:
        """Finish the page under way, then return from :meth:`run`."""
        self._stopping.set()
        self._wake.set()

    def wake(self) -> None:
        """Read the feed now rather than at the next interval."""
        self._wake.set()

    async def run(self) -> None:
        """Poll until stopped; failures are logged and retried at the next interval."""
        while not self._stopping.is_set():
            try:
                await self.run_once()
                self._failures = 0
            except MinistryError as exc:
                self._failures += 1
                log.warning("reconcile_failed", error=str(exc), failures=self._failures)
            except LeaseLostError:
                log.info("reconcile_lease_lost", owner=self.owner)
            except Exception:
                self._failures += 1
                log.exception("reconcile_error")
            self._wake.clear()
            # While the ministry fails, poll less often (doubling, up to 5 minutes).
            wait = self.interval_s * 2 ** min(self._failures, 10) if self._failures else self.interval_s
            with suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=min(wait, max(self.interval_s, 300.0)))
        await asyncio.to_thread(self._release)

    async def run_once(self) -> int:
        """Read pages until the feed has no more; returns how many changes were newly applied (0 when
        another reconciler holds the lease)."""
        cursor_holder = await asyncio.to_thread(self._acquire)
        if cursor_holder is None:
            return 0
        cursor = cursor_holder[0]
        applied = 0
        while not self._stopping.is_set():
            page = await self.client.changes(cursor, self.batch)
            applied += await asyncio.to_thread(self._apply_page, cursor, page)
            cursor = page.cursor
            if not page.more or not page.changes:
                break
        return applied

    def _ensure_row(self) -> None:
        table = SyncCursor.__table__  # type: ignore[attr-defined]
        with self.db.session(write=True) as session:
            insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
            session.execute(insert(table).values(name=FEED, updated_at=utcnow())
                            .on_conflict_do_nothing(index_elements=["name"]))

    def _acquire(self) -> tuple[str | None] | None:
        """Take or renew the lease; the stored cursor when we hold it, None when someone else does."""
        self._ensure_row()
        now = utcnow()
        with self.db.session(write=True) as session:
            result = session.execute(
                update(SyncCursor)
                .where(col(SyncCursor.name) == FEED,
                       or_(col(SyncCursor.lease_owner).is_(None), col(SyncCursor.lease_owner) == self.owner,
                           col(SyncCursor.lease_expires_at) < now))
                .values(lease_owner=self.owner, lease_expires_at=now + timedelta(seconds=self.lease_s))
            )
            if not result.rowcount:  # type: ignore[attr-defined]
                return None
            value = session.execute(select(col(SyncCursor.value)).where(col(SyncCursor.name) == FEED)).scalar_one()
            return (value,)

    def _apply_page(self, expected_cursor: str | None, page: ChangePage) -> int:
        now = utcnow()
        with self.db.session(write=True) as session:
            row = session.execute(
                select(SyncCursor).where(col(SyncCursor.name) == FEED).with_for_update()
            ).scalar_one()
            if row.lease_owner != self.owner or row.value != expected_cursor:
                raise LeaseLostError(FEED)
            outcomes = apply_changes(session, page.changes, notify=self.notify)
            row.value = page.cursor
            row.lease_expires_at = now + timedelta(seconds=self.lease_s)
            row.updated_at = now
            session.add(row)
        applied = outcomes.count(ChangeOutcome.APPLIED)
        if page.changes:
            log.info("reconcile_page", changes=len(page.changes), applied=applied,
                     duplicates=outcomes.count(ChangeOutcome.DUPLICATE),
                     unknown=outcomes.count(ChangeOutcome.UNKNOWN_DOSSIER))
        else:  # the idle poll, every interval: not worth a line at INFO
            log.debug("reconcile_page_empty", more=page.more)
        return applied

    def _release(self) -> None:
        with suppress(Exception), self.db.session(write=True) as session:
            session.execute(update(SyncCursor)
                            .where(col(SyncCursor.name) == FEED, col(SyncCursor.lease_owner) == self.owner)
                            .values(lease_owner=None, lease_expires_at=None))
