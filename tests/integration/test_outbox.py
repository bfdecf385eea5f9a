"""The outbox library on SQLite and on a real PostgreSQL: claim, lease, order, retry, dead letter, breaker."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select
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
    OutboxMessage,
    PermanentError,
    RetryPolicy,
    TransientError,
    enqueue,
    store,
)
from outbox.columns import utcnow

FAST = RetryPolicy(base_s=0.01, cap_s=0.05, max_attempts=5)


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = create_database(db_url)
    yield database
    database.dispose()


class Recorder:
    """A handler that records calls and fails as scripted: ``script[key]`` is a list of exceptions to raise."""

    kind = "test"
    target = "peer"

    def __init__(self, script: dict[str, list[Exception]] | None = None, delay: float = 0.0) -> None:
        self.script = script or {}
        self.delay = delay
        self.calls: list[tuple[str, int]] = []
        self.dead: list[tuple[int, str]] = []
        self.retried: list[int] = []

    async def handle(self, message: Message) -> Finish | None:
        self.calls.append((message.key, message.payload["n"]))
        if self.delay:
            await asyncio.sleep(self.delay)
        failures = self.script.get(message.key)
        if failures:
            raise failures.pop(0)
        return None

    def on_retry(self, session: Session, message: Message, error: DeliveryError) -> None:
        self.retried.append(message.id)

    def on_dead(self, session: Session, message: Message, error: DeliveryError) -> None:
        self.dead.append((message.id, error.message))


def add(db: Database, key: str, n: int, kind: str = "test") -> int:
    with db.session(write=True) as session:
        message_id = enqueue(session, kind, key, {"n": n}).id
    assert message_id is not None
    return message_id


def row(db: Database, message_id: int) -> OutboxMessage:
    with db.session() as session:
        found = session.get(OutboxMessage, message_id)
        assert found is not None
        session.expunge(found)
        return found


def states(db: Database) -> Counter[str]:
    with db.session() as session:
        return Counter(session.execute(select(OutboxMessage.state)).scalars())  # type: ignore[call-overload]


async def test_messages_are_delivered_once_and_marked_done(db: Database) -> None:
    ids = [add(db, f"k{i}", i) for i in range(5)]
    handler = Recorder()
    await Dispatcher(db.session, [handler], policy=FAST).run_until_idle()
    assert sorted(n for _, n in handler.calls) == list(range(5))
    for message_id in ids:
        message = row(db, message_id)
        assert (message.state, message.attempts, message.lease_owner) == ("done", 1, None)


async def test_messages_sharing_a_key_are_handled_in_enqueue_order_even_across_retries(db: Database) -> None:
    for n in range(4):
        add(db, "A", n)
    add(db, "B", 0)
    handler = Recorder({"A": [TransientError("down"), TransientError("still down")]})
    await Dispatcher(db.session, [handler], policy=FAST, config=DispatcherConfig(concurrency=4)).run_until_idle()
    a_calls = [n for key, n in handler.calls if key == "A"]
    assert a_calls == [0, 0, 0, 1, 2, 3]  # the first failed twice; nothing overtook it
    assert states(db) == {"done": 5}


async def test_retry_after_is_a_floor_and_the_error_is_kept(db: Database) -> None:
    message_id = add(db, "A", 0)
    handler = Recorder({"A": [TransientError("rate limited", retry_after=30, trips_breaker=False)]})
    dispatcher = Dispatcher(db.session, [handler], policy=FAST)
    before = utcnow()
    await dispatcher.run_until_idle()
    message = row(db, message_id)
    assert message.state == "pending" and message.attempts == 1
    assert message.next_attempt_at >= before + timedelta(seconds=30)
    assert message.last_error == "rate limited"
    assert message.last_error_detail == {"retry_after": 30}
    assert handler.retried == [message_id]
    # Not due yet: nothing is claimed.
    await dispatcher.run_until_idle()
    assert len(handler.calls) == 1


async def test_permanent_failure_goes_dead_at_once_with_its_reasons(db: Database) -> None:
    message_id = add(db, "A", 0)
    reasons = {"chiTiet": [{"truong": "doiTuong.maDanToc", "thongDiep": "sai"}]}
    handler = Recorder({"A": [PermanentError("DU_LIEU_KHONG_HOP_LE", detail=reasons)]})
    await Dispatcher(db.session, [handler], policy=FAST).run_until_idle()
    message = row(db, message_id)
    assert (message.state, message.attempts) == ("dead", 1)
    assert message.last_error_detail == reasons
    assert handler.dead == [(message_id, "DU_LIEU_KHONG_HOP_LE")]


async def test_transient_failures_go_dead_after_the_attempt_limit(db: Database) -> None:
    message_id = add(db, "A", 0)
    handler = Recorder({"A": [TransientError(f"fail {i}", trips_breaker=False) for i in range(10)]})
    await Dispatcher(db.session, [handler], policy=FAST).run_until_idle()
    message = row(db, message_id)
    assert (message.state, message.attempts, message.last_error) == ("dead", 5, "fail 4")
    assert len(handler.calls) == 5


async def test_a_handler_with_its_own_policy_retries_by_it(db: Database) -> None:
    patient, hasty = add(db, "A", 0, kind="patient"), add(db, "B", 0)

    class Patient(Recorder):
        kind = "patient"
        policy = RetryPolicy(base_s=0.01, cap_s=0.05, max_attempts=8)

    own = Patient({"A": [TransientError(f"fail {i}", trips_breaker=False) for i in range(10)]})
    other = Recorder({"B": [TransientError(f"fail {i}", trips_breaker=False) for i in range(10)]})
    await Dispatcher(db.session, [own, other], policy=FAST).run_until_idle()
    assert (row(db, patient).state, row(db, patient).attempts) == ("dead", 8)
    assert (row(db, hasty).state, row(db, hasty).attempts) == ("dead", 5)


async def test_a_bug_in_a_handler_is_retried_not_lost(db: Database) -> None:
    message_id = add(db, "A", 0)
    handler = Recorder({"A": [KeyError("oops")]})
    await Dispatcher(db.session, [handler], policy=FAST).run_until_idle()
    assert row(db, message_id).state == "done"
    assert len(handler.calls) == 2


async def test_a_crashed_workers_message_is_taken_over_when_its_lease_expires(db: Database) -> None:
    message_id = add(db, "A", 0)
    with db.session(write=True) as session:
        [claimed] = store.claim(session, owner="crashed-worker", kinds=["test"], limit=10, lease_s=0.2)
    handler = Recorder()
    dispatcher = Dispatcher(db.session, [handler], policy=FAST)
    await dispatcher.run_until_idle()
    assert handler.calls == []  # leased: not due
    await asyncio.sleep(0.3)
    await dispatcher.run_until_idle()
    assert handler.calls == [("A", 0)]
    message = row(db, message_id)
    assert (message.state, message.attempts) == ("done", 2)
    # The crashed worker, were it to wake up, cannot overwrite the outcome.
    with db.session(write=True) as session:
        assert store.complete(session, claimed.id, "crashed-worker") is False


async def test_two_dispatchers_never_handle_a_message_twice(db: Database) -> None:
    count = 120
    for i in range(count):
        add(db, f"k{i % 40}", i)
    first, second = Recorder(delay=0.002), Recorder(delay=0.002)
    config = DispatcherConfig(concurrency=6)
    await asyncio.gather(
        Dispatcher(db.session, [first], policy=FAST, config=config, owner="one").run_until_idle(60),
        Dispatcher(db.session, [second], policy=FAST, config=config, owner="two").run_until_idle(60),
    )
    handled = [n for _, n in first.calls + second.calls]
    assert sorted(handled) == list(range(count))
    assert states(db) == {"done": count}
    for key in {k for k, _ in first.calls + second.calls}:
        both = sorted([n for k, n in first.calls + second.calls if k == key])
        assert both == sorted(set(both))


async def test_the_breaker_stops_claims_while_the_peer_is_down_then_probes(db: Database) -> None:
    for i in range(6):
        add(db, f"k{i}", i)
    clock = [0.0]
    breaker = CircuitBreaker(threshold=3, cool_down_s=10, clock=lambda: clock[0])
    failures: dict[str, list[Exception]] = {f"k{i}": [TransientError("503")] for i in range(6)}
    handler = Recorder(failures)
    dispatcher = Dispatcher(db.session, [handler], policy=RetryPolicy(base_s=0.001, cap_s=0.001),
                            breakers={"peer": breaker}, config=DispatcherConfig(concurrency=1))
    with pytest.raises(TimeoutError):
        await dispatcher.run_until_idle(0.5)
    assert breaker.state is CircuitState.OPEN
    assert len(handler.calls) == 3  # opened after three failures; nothing claimed since
    assert dispatcher.circuit_states() == {"peer": CircuitState.OPEN}

    for remaining in failures.values():
        remaining.clear()  # the peer is back
    clock[0] = 11.0  # cool-down over: one probe, then all
    await dispatcher.run_until_idle()
    assert breaker.state is CircuitState.CLOSED
    assert states(db) == {"done": 6}


async def test_stop_hands_unfinished_messages_back(db: Database) -> None:
    message_id = add(db, "A", 0)
    handler = Recorder(delay=30)
    dispatcher = Dispatcher(db.session, [handler], policy=FAST,
                            config=DispatcherConfig(stop_grace_s=0.1, poll_s=0.05))
    task = asyncio.create_task(dispatcher.run())
    for _ in range(500):
        if handler.calls:
            break
        await asyncio.sleep(0.01)
    dispatcher.stop()
    await asyncio.wait_for(task, 5)
    message = row(db, message_id)
    assert (message.state, message.attempts, message.lease_owner) == ("pending", 0, None)


async def test_replay_makes_dead_messages_pending_again(db: Database) -> None:
    message_id = add(db, "A", 0)
    handler = Recorder({"A": [PermanentError("refused")]})
    dispatcher = Dispatcher(db.session, [handler], policy=FAST)
    await dispatcher.run_until_idle()
    with db.session(write=True) as session:
        assert store.replay(session, [message_id]) == 1
    await dispatcher.run_until_idle()
    message = row(db, message_id)
    assert (message.state, message.attempts) == ("done", 1)
    assert message.replayed_at is not None


def test_full_jitter_backoff_is_capped_and_spread() -> None:
    policy = RetryPolicy(base_s=1, cap_s=60)
    samples: dict[int, list[float]] = {n: [policy.backoff(n) for _ in range(200)] for n in (1, 3, 10)}
    for n, values in samples.items():
        assert all(0 <= v <= min(60, 2 ** n) for v in values)
        assert max(values) - min(values) > 0.2 * min(60, 2 ** n)  # jittered, not lock-step
    now = utcnow()
    assert policy.next_attempt(attempts=1, created_at=now, now=now, retry_after=120) >= now + timedelta(seconds=120)
    old = now - timedelta(days=4)
    assert policy.next_attempt(attempts=1, created_at=old, now=now) is None




async def test_every_attempt_is_logged_with_its_outcome(db: Database) -> None:
    from outbox.models import OutboxAttempt

    message_id = add(db, "A", 0)
    handler = Recorder({"A": [TransientError("503", detail={"status": 503}), PermanentError("refused")]})
    dispatcher = Dispatcher(db.session, [handler], policy=FAST)
    await dispatcher.run_until_idle()
    with db.session() as session:
        attempts = session.execute(
            select(OutboxAttempt).where(OutboxAttempt.message_id == message_id)  # type: ignore[arg-type]
            .order_by(OutboxAttempt.id)  # type: ignore[arg-type]
        ).scalars().all()
        logged = [(a.attempt, a.outcome, a.error_class, a.error, a.detail) for a in attempts]
    assert logged == [(1, "retry", "TransientError", "503", {"status": 503}),
                      (2, "dead", "PermanentError", "refused", None)]
