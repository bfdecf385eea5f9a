"""The dispatcher's batching: claiming ahead of free slots, completing successes together, handing back
what it holds on stop, and one failing finish step costing the other messages of its batch nothing."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest
from sqlalchemy import select
from sqlmodel import Session

from gateway.db import Database
from outbox import Dispatcher, DispatcherConfig, Finish, Message, OutboxMessage, RetryPolicy, enqueue, store
from outbox.dispatcher import _Done
from outbox.models import OutboxAttempt

FAST = RetryPolicy(base_s=0.01, cap_s=0.05, max_attempts=5)


class Slow:
    """A handler that takes ``delay`` seconds per message and records what it handled."""

    kind = "test"
    target = "peer"

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.handled: list[int] = []

    async def handle(self, message: Message) -> Finish | None:
        self.handled.append(message.payload["n"])
        await asyncio.sleep(self.delay)
        return None

    def on_retry(self, session: Session, message: Message, error: Any) -> None:
        pass

    def on_dead(self, session: Session, message: Message, error: Any) -> None:
        pass


def add(db: Database, count: int) -> None:
    with db.session(write=True) as session:
        for n in range(count):
            enqueue(session, "test", f"k{n}", {"n": n})


def states(db: Database) -> Counter[str]:
    with db.session() as session:
        return Counter(session.execute(select(OutboxMessage.state)).scalars())  # type: ignore[call-overload]


async def test_one_claim_serves_the_free_slots_and_as_many_again(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    add(db, 40)
    claims: list[int] = []
    real_claim = store.claim

    def counting(session: Session, **kwargs: Any) -> list[Message]:
        claimed = real_claim(session, **kwargs)
        claims.append(len(claimed))
        return claimed

    monkeypatch.setattr(store, "claim", counting)
    handler = Slow(0.005)
    await Dispatcher(db.session, [handler], policy=FAST, config=DispatcherConfig(concurrency=4)).run_until_idle()
    assert sorted(handler.handled) == list(range(40))
    assert states(db) == {"done": 40}
    assert claims[0] == 8  # four to start, four held for the next free slots
    assert len([c for c in claims if c]) <= 40 // 4  # not a claim per message


async def test_stop_hands_back_held_messages_with_the_running_ones(db: Database) -> None:
    add(db, 10)
    handler = Slow(30)
    dispatcher = Dispatcher(db.session, [handler], policy=FAST,
                            config=DispatcherConfig(concurrency=2, prefetch=3, stop_grace_s=0.1, poll_s=0.05))
    task = asyncio.create_task(dispatcher.run())
    for _ in range(500):
        if len(handler.handled) == 2:
            break
        await asyncio.sleep(0.01)
    assert states(db) == {"in_flight": 5, "pending": 5}  # two running, three held
    dispatcher.stop()
    await asyncio.wait_for(task, 5)
    with db.session() as session:
        rows = session.execute(select(OutboxMessage)).scalars().all()
    assert {(m.state, m.attempts, m.lease_owner) for m in rows} == {("pending", 0, None)}


async def test_no_prefetch_claims_only_the_free_slots(db: Database) -> None:
    add(db, 6)
    handler = Slow(30)
    dispatcher = Dispatcher(db.session, [handler], policy=FAST,
                            config=DispatcherConfig(concurrency=2, prefetch=0, stop_grace_s=0.1, poll_s=0.05))
    task = asyncio.create_task(dispatcher.run())
    for _ in range(500):
        if len(handler.handled) == 2:
            break
        await asyncio.sleep(0.01)
    assert states(db) == {"in_flight": 2, "pending": 4}
    dispatcher.stop()
    await asyncio.wait_for(task, 5)


async def test_a_failing_finish_step_costs_the_rest_of_its_batch_nothing(db: Database) -> None:
    add(db, 3)
    dispatcher = Dispatcher(db.session, [Slow()], policy=FAST)
    with db.session(write=True) as session:
        claimed = store.claim(session, owner=dispatcher.owner, kinds=["test"], limit=3, lease_s=60)

    def broken(session: Session) -> None:
        raise RuntimeError("a bug in a finish step")

    loop = asyncio.get_running_loop()
    batch = [_Done(m, broken if m.payload["n"] == 1 else None, m.created_at, loop.create_future())
             for m in claimed]
    results = await asyncio.to_thread(dispatcher._complete_batch, batch)
    assert [r if isinstance(r, str) else type(r) for r in results] == ["done", RuntimeError, "done"]
    with db.session() as session:
        by_n = {m.payload["n"]: m.state for m in session.execute(select(OutboxMessage)).scalars()}
        logged = session.execute(select(OutboxAttempt.message_id)).scalars().all()  # type: ignore[call-overload]
    # The failed one stays leased, as when it fails alone: the lease expires and it is tried again.
    assert by_n == {0: "done", 1: "in_flight", 2: "done"}
    assert sorted(logged) == sorted(m.id for m in claimed if m.payload["n"] != 1)


async def test_successes_arriving_together_share_one_completing_transaction(db: Database) -> None:
    add(db, 12)
    dispatcher = Dispatcher(db.session, [Slow()], policy=FAST, config=DispatcherConfig(concurrency=12))
    sizes: list[int] = []
    real = dispatcher._complete_batch

    def spy(batch: list[_Done]) -> list[str | BaseException]:
        sizes.append(len(batch))
        return real(batch)

    dispatcher._complete_batch = spy  # type: ignore[method-assign]
    await dispatcher.run_until_idle()
    assert states(db) == {"done": 12}
    assert sum(sizes) == 12 and len(sizes) < 12
