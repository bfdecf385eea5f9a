"""Circuit breakers shared by every dispatcher on one database (owner of ``outbox_circuit``).

Each process keeps its :class:`~outbox.breaker.CircuitBreaker` per target as a cache of the row: a
claim round reads the rows in its claiming transaction (no lock: a read of a few rows), so a process
learns an outage another one saw at its next round; an attempt's verdict on the peer (failure,
success after failures, a Retry-After, a probe ended) is written under the row's lock, through the
same state machine. When the cool-down is over, the one process whose conditional update takes the
probe lease sends the probe; the others claim nothing for that target until it ends or its lease runs
out (its process died). A success on a clean circuit writes nothing: the row is not a hot spot.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from enum import StrEnum

from sqlalchemy import or_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from outbox.breaker import CircuitBreaker, CircuitSnapshot
from outbox.columns import utcnow
from outbox.models import OutboxCircuit


class Verdict(StrEnum):
    """What one attempt says about its target's health."""

    SUCCESS = "success"
    FAILURE = "failure"
    NEUTRAL = "neutral"


def _snapshot(row: OutboxCircuit) -> CircuitSnapshot:
    return CircuitSnapshot(row.failures, row.opened_at, row.cool_down_s, row.held_until, row.probe_owner,
                           row.probe_until)


class SharedCircuits:
    """The ``outbox_circuit`` rows; times on the wall clock (``clock``), as every breaker given must be."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock

    def read(self, session: Session) -> dict[str, CircuitSnapshot]:
        """Every target's state as last written (targets never written are absent: closed, clean)."""
        return {row.target: _snapshot(row) for row in session.exec(select(OutboxCircuit)).all()}

    def take_probe(self, session: Session, target: str, owner: str, lease_s: float) -> CircuitSnapshot | None:
        """Take the probe of ``target``'s half-open circuit for ``lease_s``: its new state, or None when the
        circuit is not half-open or another process probes (one conditional update: no lock waited for)."""
        now = self.clock()
        taken = session.execute(
            update(OutboxCircuit)
            .where(col(OutboxCircuit.target) == target, col(OutboxCircuit.opened_at).is_not(None),
                   col(OutboxCircuit.opened_at) + col(OutboxCircuit.cool_down_s) <= now,
                   col(OutboxCircuit.probe_until) <= now, col(OutboxCircuit.held_until) <= now)
            .values(probe_owner=owner, probe_until=now + lease_s, updated_at=utcnow())
        )
        if taken.rowcount != 1:  # type: ignore[attr-defined]
            return None
        row = session.get(OutboxCircuit, target, populate_existing=True)
        return None if row is None else _snapshot(row)

    def release_probe(self, session: Session, target: str, owner: str) -> None:
        """Give back a probe taken in this transaction that found no message to send."""
        session.execute(update(OutboxCircuit)
                        .where(col(OutboxCircuit.target) == target, col(OutboxCircuit.probe_owner) == owner)
                        .values(probe_owner=None, probe_until=0.0))

    def record(self, session: Session, breaker: CircuitBreaker, target: str, verdict: Verdict, *,
               owner: str, retry_after: float | None = None) -> CircuitSnapshot:
        """Apply an attempt's verdict (and the peer's Retry-After) to the shared state; returns it.

        ``breaker`` gives the thresholds (each process configures the same). A success on a circuit
        nobody wrote costs nothing.
        """
        if verdict is Verdict.SUCCESS and not retry_after:
            session.execute(
                update(OutboxCircuit)
                .where(col(OutboxCircuit.target) == target,
                       or_(col(OutboxCircuit.failures) > 0, col(OutboxCircuit.opened_at).is_not(None),
                           col(OutboxCircuit.probe_until) > 0))
                .values(failures=0, opened_at=None, cool_down_s=breaker.base_cool_down_s, probe_owner=None,
                        probe_until=0.0, updated_at=utcnow())
            )
            row = session.get(OutboxCircuit, target, populate_existing=True)
            return CircuitSnapshot() if row is None else _snapshot(row)
        row = self._locked(session, target)
        scratch = CircuitBreaker(threshold=breaker.threshold, cool_down_s=breaker.base_cool_down_s,
                                 max_cool_down_s=breaker.max_cool_down_s, clock=self.clock)
        scratch.restore(_snapshot(row))
        if verdict is Verdict.SUCCESS:
            scratch.record_success()
        elif verdict is Verdict.FAILURE:
            scratch.record_failure()
        else:
            scratch.record_neutral(owner)
        if retry_after:
            scratch.hold(retry_after)
        state = scratch.snapshot()
        row.failures, row.opened_at, row.cool_down_s = state.failures, state.opened_at, state.cool_down_s
        row.held_until, row.probe_owner, row.probe_until = state.held_until, state.probe_owner, state.probe_until
        row.updated_at = utcnow()
        session.add(row)
        return state

    def _locked(self, session: Session, target: str) -> OutboxCircuit:
        postgres = session.get_bind().dialect.name == "postgresql"
        query = select(OutboxCircuit).where(col(OutboxCircuit.target) == target)
        row = session.exec(query.with_for_update() if postgres else query).first()
        if row is None:
            insert = pg_insert if postgres else sqlite_insert
            session.execute(insert(OutboxCircuit).values(target=target, failures=0, held_until=0.0, probe_until=0.0,
                                                         updated_at=utcnow())
                            .on_conflict_do_nothing(index_elements=["target"]))
            row = session.exec((query.with_for_update() if postgres else query).execution_options(
                populate_existing=True)).one()
        return row

