"""The peers' rate budgets, shared by every process using this database (owner of ``peer_budget``).

Each ``gateway worker`` and ``serve`` paces its calls to a peer with a
:class:`adapters.common.ratebudget.RateBudget`; with :class:`DatabaseSlots` as its store they take
their slots from one bucket per peer, so together they stay within what the peer allows one client.
A reservation is one short write transaction (the row locked on PostgreSQL; the writer's turn on
SQLite) and serves every call of the process waiting at that moment. Times are the database server's
clock on PostgreSQL, so processes on several machines agree; SQLite's processes share one machine's.
"""

from __future__ import annotations

import asyncio
import time

from sqlalchemy import text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, select

from adapters.common.ratebudget import BucketState, Grant, Pace, hold, take
from gateway.db import Database
from gateway.models import PeerBudget


class DatabaseSlots:
    """The :class:`~adapters.common.ratebudget.SlotStore` of ``peer``'s budget in ``db``."""

    def __init__(self, db: Database, peer: str) -> None:
        self.db = db
        self.peer = peer

    async def reserve(self, count: int, pace: Pace, max_wait: float) -> Grant:
        """Reserve up to ``count`` slots (one transaction)."""
        return await asyncio.to_thread(self._reserve, count, pace, max_wait)

    async def hold(self, seconds: float, pace: Pace) -> None:
        """Nothing goes to the peer, from any process, before ``seconds`` from now."""
        await asyncio.to_thread(self._hold, seconds, pace)

    def _reserve(self, count: int, pace: Pace, max_wait: float) -> Grant:
        with self.db.session(write=True) as session:
            row, now = self._locked(session)
            state, grant = take(BucketState(row.tat, row.not_before), now, count, pace, max_wait)
            row.tat, row.not_before = state.tat, state.not_before
        return grant

    def _hold(self, seconds: float, pace: Pace) -> None:
        with self.db.session(write=True) as session:
            row, now = self._locked(session)
            state = hold(BucketState(row.tat, row.not_before), now, seconds, pace)
            row.tat, row.not_before = state.tat, state.not_before

    def _locked(self, session: Session) -> tuple[PeerBudget, float]:
        """The peer's row, locked for this transaction (created on first use), and the time now."""
        postgres = self.db.dialect == "postgresql"
        query = select(PeerBudget).where(PeerBudget.peer == self.peer)
        row = session.exec(query.with_for_update() if postgres else query).first()
        if row is None:
            insert = pg_insert if postgres else sqlite_insert
            session.execute(insert(PeerBudget).values(peer=self.peer, tat=0.0, not_before=0.0)
                            .on_conflict_do_nothing(index_elements=["peer"]))
            row = session.exec(query.with_for_update() if postgres else query).one()
        if postgres:
            now = float(session.execute(text("SELECT extract(epoch FROM clock_timestamp())")).scalar_one())
        else:
            now = time.time()
        return row, now
