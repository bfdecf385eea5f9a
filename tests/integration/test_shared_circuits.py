"""Circuit breakers shared through the database: every worker learns an outage from the first, one probes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from sqlmodel import Session

from gateway.db import Database, create_database
from outbox import (
    CircuitBreaker,
    CircuitState,
    DeliveryError,
    Dispatcher,
    DispatcherConfig,
    Finish,
    Message,
    RetryPolicy,
    TransientError,
    enqueue,
)
from outbox.circuits import SharedCircuits, Verdict
from outbox.columns import utcnow

RETRY_NOW = RetryPolicy(base_s=0.001, cap_s=0.001)


class Peer:
    """The peer every worker calls: down (503) or up; it counts every call it gets, from whom."""

    def __init__(self) -> None:
        self.down = True
        self.calls: list[str] = []


PEER = Peer()
CLOCK = [1000.0]  # the wall clock the breakers read (moved by the tests)


class Caller:
    kind = "test"
    target = "peer"

    def __init__(self, name: str) -> None:
        self.name = name

    async def handle(self, message: Message) -> Finish | None:
        PEER.calls.append(self.name)
        await asyncio.sleep(0.01)
        if PEER.down:
            raise TransientError("503 from the peer")
        return None

    def on_retry(self, session: Session, message: Message, error: DeliveryError) -> None: ...

    def on_dead(self, session: Session, message: Message, error: DeliveryError) -> None: ...


def reset() -> Peer:
    PEER.down, PEER.calls = True, []
    CLOCK[0] = 1000.0
    return PEER


@pytest.fixture
def two_databases(db_url: str) -> Iterator[tuple[Database, Database]]:
    """Two engines on one database, as two worker processes have."""
    first, second = create_database(db_url), create_database(db_url)
    yield first, second
    first.dispose()
    second.dispose()


def worker(db: Database, name: str) -> Dispatcher:
    circuits = SharedCircuits(clock=lambda: CLOCK[0])
    breaker = CircuitBreaker(threshold=3, cool_down_s=10, clock=circuits.clock)
    return Dispatcher(db.session, [Caller(name)], policy=RETRY_NOW, breakers={"peer": breaker},
                      config=DispatcherConfig(concurrency=4, poll_s=0.05), owner=name, circuits=circuits)


async def run_for(seconds: float, *workers: tuple[Database, str],
                  until: Callable[[], bool] | None = None) -> dict[str, CircuitState]:
    """Run a fresh dispatcher per (database, name) (all it knows is in the database) for ``seconds``, or with
    ``until``, until that holds (within 20 s) and ``seconds`` more; their circuit states then, by name."""
    dispatchers = {name: worker(db, name) for db, name in workers}
    tasks = [asyncio.create_task(d.run()) for d in dispatchers.values()]
    if until is not None:
        deadline = time.monotonic() + 20
        while not until() and time.monotonic() < deadline:  # noqa: ASYNC110 (a condition on a plain list)
            await asyncio.sleep(0.02)
    await asyncio.sleep(seconds)
    states = {name: d.circuit_states()["peer"] for name, d in dispatchers.items()}
    for d in dispatchers.values():
        d.stop()
    await asyncio.gather(*tasks)
    return states


async def test_an_outage_seen_by_one_worker_stops_the_others_and_one_probe_goes_per_cool_down(
        two_databases: tuple[Database, Database]) -> None:
    first_db, second_db = two_databases
    with first_db.session(write=True) as session:
        for n in range(8):
            enqueue(session, "test", f"k{n}", {"n": n})
    peer = reset()
    a, b = (first_db, "a"), (second_db, "b")

    # a alone: three failures open the circuit (a few more may have started meanwhile: four run at once)
    assert await run_for(0.2, a, until=lambda: len(peer.calls) >= 3) == {"a": CircuitState.OPEN}
    assert peer.calls == ["a"] * len(peer.calls) and len(peer.calls) >= 3
    seen = len(peer.calls)

    # Both, fresh (as after a restart): they learn the outage from the database and send nothing.
    assert await run_for(0.6, a, b) == {"a": CircuitState.OPEN, "b": CircuitState.OPEN}
    assert len(peer.calls) == seen

    CLOCK[0] += 11  # the cool-down is over for both: one probe between them; it fails: open again, for 20 s
    assert await run_for(0.4, a, b, until=lambda: len(peer.calls) > seen) == {
        "a": CircuitState.OPEN, "b": CircuitState.OPEN}
    assert len(peer.calls) == seen + 1

    CLOCK[0] += 11  # within the doubled cool-down: nothing
    await run_for(0.3, a, b)
    assert len(peer.calls) == seen + 1

    peer.down = False
    CLOCK[0] += 10  # past it: one probe, it succeeds, both claim freely
    assert await run_for(0.2, a, b, until=lambda: len(peer.calls) >= seen + 1 + 8) == {
        "a": CircuitState.CLOSED, "b": CircuitState.CLOSED}
    assert len(peer.calls) == seen + 1 + 8  # every message delivered, once


async def test_a_probe_whose_worker_died_is_taken_over_when_its_lease_runs_out(
        two_databases: tuple[Database, Database]) -> None:
    first_db, second_db = two_databases
    with first_db.session(write=True) as session:
        enqueue(session, "test", "k", {"n": 0})
    peer = reset()
    circuits = SharedCircuits(clock=lambda: CLOCK[0])
    template = CircuitBreaker(threshold=1, cool_down_s=10, clock=circuits.clock)
    with first_db.session(write=True) as session:  # the circuit opened; worker "x" took the probe, then died
        circuits.record(session, template, "peer", Verdict.FAILURE, owner="x")
    CLOCK[0] += 11
    with first_db.session(write=True) as session:
        assert circuits.take_probe(session, "peer", "x", lease_s=60) is not None
    with second_db.session(write=True) as session:
        assert circuits.take_probe(session, "peer", "y", lease_s=60) is None  # x probes

    peer.down = False
    await run_for(0.3, (second_db, "b"))
    assert peer.calls == []  # x's probe lease still runs
    CLOCK[0] += 61
    assert await run_for(0.1, (second_db, "b"), until=lambda: bool(peer.calls)) == {"b": CircuitState.CLOSED}
    assert peer.calls == ["b"]


async def test_a_half_open_circuit_with_nothing_due_yet_probes_when_a_message_falls_due(
        two_databases: tuple[Database, Database]) -> None:
    first_db, second_db = two_databases
    with first_db.session(write=True) as session:
        # its retry is not due yet when the cool-down ends
        enqueue(session, "test", "k", {"n": 0}, not_before=utcnow() + timedelta(seconds=0.5))
    peer = reset()
    peer.down = False
    circuits = SharedCircuits(clock=lambda: CLOCK[0])
    with first_db.session(write=True) as session:
        circuits.record(session, CircuitBreaker(threshold=1, clock=circuits.clock), "peer", Verdict.FAILURE,
                        owner="x")
    CLOCK[0] += 11
    assert await run_for(0.1, (second_db, "b"), until=lambda: bool(peer.calls)) == {"b": CircuitState.CLOSED}
    assert peer.calls == ["b"]
