"""Alerts decided through the database: a dead message's alert in its burial's transaction, outages and
backlog seen by the periodic check, each alert enqueued once however many workers look (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update
from sqlmodel import Session, col, select

from gateway.alerts.service import Alerting, AlertOptions
from gateway.db import Database, create_database
from gateway.vocabulary import AlertKind, MessageKind
from outbox import (
    CircuitBreaker,
    DeliveryError,
    Dispatcher,
    DispatcherConfig,
    Finish,
    Message,
    PermanentError,
    RetryPolicy,
    enqueue,
)
from outbox.circuits import SharedCircuits, Verdict
from outbox.columns import utcnow
from outbox.models import MessageState, OutboxMessage


class Refused:
    """A handler whose peer refuses everything: each message goes dead at once."""

    kind = "test_refused"
    target = "peer"

    async def handle(self, message: Message) -> Finish | None:
        raise PermanentError("ministry refused: SAI_MA_XA", detail={"status": 400, "maLoi": "SAI_MA_XA"})

    def on_retry(self, session: Session, message: Message, error: DeliveryError) -> None: ...

    def on_dead(self, session: Session, message: Message, error: DeliveryError) -> None: ...


@pytest.fixture
def two_databases(db_url: str) -> Iterator[tuple[Database, Database]]:
    """Two engines on one database, as two worker processes have."""
    first, second = create_database(db_url), create_database(db_url)
    yield first, second
    first.dispose()
    second.dispose()


def alerts(db: Database) -> list[dict[str, Any]]:
    with db.session() as session:
        rows = session.exec(select(OutboxMessage).where(col(OutboxMessage.kind) == MessageKind.SEND_ALERT)
                            .order_by(col(OutboxMessage.id))).all()
        return [row.payload["body"] for row in rows]


def bury(db: Database, alerting: Alerting, count: int) -> None:
    with db.session(write=True) as session:
        for n in range(count):
            enqueue(session, Refused.kind, f"000.00.12.H56-240115-{n:04d}", {})
    dispatcher = Dispatcher(db.session, [Refused()], config=DispatcherConfig(concurrency=2),
                            policy=RetryPolicy(base_s=0.001, cap_s=0.001), on_dead=alerting.on_dead)
    asyncio.run(dispatcher.run_until_idle())


def test_dead_messages_raise_one_alert_with_the_reason_then_the_rest_grouped(db: Database) -> None:
    alerting = Alerting(AlertOptions(repeat_s=0.5))
    bury(db, alerting, 3)
    (first,) = alerts(db)
    assert first["kind"] == AlertKind.MESSAGE_DEAD and first["state"] == "firing"
    assert first["target"] == Refused.kind and first["count"] == 1
    assert first["detail"]["last_error"] == "ministry refused: SAI_MA_XA"
    assert first["detail"]["reason"] == "SAI_MA_XA"
    assert first["detail"]["key"].startswith("000.00.12.H56-240115-")
    assert alerting.check(db) == 0  # the other two wait for the window
    time.sleep(0.6)
    assert alerting.check(db) == 1
    second = alerts(db)[1]
    assert second["count"] == 2 and second["alert_id"] != first["alert_id"]
    assert alerting.check(db) == 0


def test_a_dead_alert_raises_no_alert(db: Database) -> None:
    alerting = Alerting(AlertOptions())
    with db.session(write=True) as session:
        message = enqueue(session, MessageKind.SEND_ALERT, "alert:x", {"body": {"alert_id": "a", "kind": "backlog",
                                                                                "state": "firing"}})
        snapshot = Message(message.id, message.kind, message.key, message.payload, 9, utcnow(), utcnow())
        alerting.on_dead(session, snapshot, PermanentError("webhook answered HTTP 500"))
    assert len(alerts(db)) == 1  # only the one that died


def open_circuit(db: Database, target: str, opened_ago_s: float) -> None:
    circuits = SharedCircuits(clock=lambda: time.time() - opened_ago_s)
    breaker = CircuitBreaker(threshold=1, cool_down_s=10, clock=circuits.clock)
    with db.session(write=True) as session:
        circuits.record(session, breaker, target, Verdict.FAILURE, owner="test")


def close_circuit(db: Database, target: str) -> None:
    circuits = SharedCircuits()
    with db.session(write=True) as session:
        circuits.record(session, CircuitBreaker(threshold=1, cool_down_s=10), target, Verdict.SUCCESS, owner="test")


def test_an_outage_past_its_threshold_alerts_once_then_its_recovery_once(db: Database) -> None:
    alerting = Alerting(AlertOptions(outage_s=600))
    open_circuit(db, "ministry", opened_ago_s=100)
    assert alerting.check(db) == 0  # open, not for long enough
    open_circuit(db, "population", opened_ago_s=700)
    assert alerting.check(db) == 1
    assert alerting.check(db) == 0
    close_circuit(db, "population")
    assert alerting.check(db) == 1
    assert alerting.check(db) == 0
    fired, resolved = alerts(db)
    assert (fired["kind"], fired["target"], fired["state"]) == ("peer_outage", "population", "firing")
    assert (resolved["kind"], resolved["target"], resolved["state"]) == ("peer_outage", "population", "resolved")
    assert resolved["started_at"] == fired["sent_at"]


def test_an_old_undelivered_message_is_a_backlog_until_it_goes(db: Database) -> None:
    alerting = Alerting(AlertOptions(backlog_s=3600))
    with db.session(write=True) as session:
        message = enqueue(session, "test_refused", "k", {})
        session.execute(update(OutboxMessage).where(col(OutboxMessage.id) == message.id)
                        .values(created_at=utcnow() - timedelta(hours=2)))
        enqueue(session, MessageKind.SEND_ALERT, "alert:old", {"body": {}})  # alerts waiting are not the backlog
    assert alerting.check(db) == 1
    (fired,) = alerts(db)[1:]
    assert fired["kind"] == "backlog" and fired["detail"]["oldest_undelivered_age_s"] >= 7200
    with db.session(write=True) as session:
        session.execute(update(OutboxMessage).where(col(OutboxMessage.id) == message.id)
                        .values(state=MessageState.DONE.value))
    assert alerting.check(db) == 1
    assert alerts(db)[-1]["state"] == "resolved"


def test_two_workers_checking_at_once_enqueue_each_alert_once(two_databases: tuple[Database, Database]) -> None:
    first, second = two_databases
    open_circuit(first, "ministry", opened_ago_s=700)
    workers = [Alerting(AlertOptions(outage_s=600)) for _ in range(2)]
    barrier = threading.Barrier(2)
    counts: list[int] = []

    def look(alerting: Alerting, db: Database) -> None:
        barrier.wait()
        for _ in range(5):
            counts.append(alerting.check(db))

    threads = [threading.Thread(target=look, args=(w, d)) for w, d in zip(workers, two_databases, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(counts) == 1
    assert [(a["kind"], a["target"]) for a in alerts(second)] == [("peer_outage", "ministry")]
