"""The outbox's batch operations: many messages enqueued or completed in one statement, as one by one would."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlmodel import col

from gateway.db import Database, create_database
from outbox import OutboxMessage, store
from outbox.columns import utcnow


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = create_database(db_url)
    yield database
    database.dispose()


def _rows(db: Database) -> list[OutboxMessage]:
    with db.session() as session:
        found = list(session.execute(select(OutboxMessage).order_by(col(OutboxMessage.id))).scalars())
        session.expunge_all()
        return found


def test_enqueue_many_writes_the_rows_enqueue_writes_in_order(db: Database) -> None:
    with db.session(write=True) as session:
        store.enqueue(session, "test", "k1", {"n": 0})
        store.enqueue_many(session, [("test", "k2", {"n": 1}), ("test", "k1", {"n": 2})])
        store.enqueue_many(session, [])
    one, *many = _rows(db)
    assert [(m.key, m.payload["n"]) for m in many] == [("k2", 1), ("k1", 2)]
    ignored = {"id", "key", "payload", "next_attempt_at", "created_at", "updated_at"}
    for message in many:
        assert message.model_dump(exclude=ignored) == one.model_dump(exclude=ignored)
        assert message.next_attempt_at == message.created_at == message.updated_at
    with db.session(write=True) as session:  # per-key order holds across both ways of enqueueing
        claimed = store.claim(session, owner="w", kinds=["test"], limit=10, lease_s=60)
    assert [(m.key, m.payload["n"]) for m in claimed] == [("k1", 0), ("k2", 1)]


def test_complete_many_completes_only_messages_still_leased_by_the_caller(db: Database) -> None:
    with db.session(write=True) as session:
        store.enqueue_many(session, [("test", f"k{n}", {"n": n}) for n in range(4)])
    with db.session(write=True) as session:
        mine = store.claim(session, owner="me", kinds=["test"], limit=3, lease_s=60)
    with db.session(write=True) as session:
        [theirs] = store.claim(session, owner="them", kinds=["test"], limit=3, lease_s=60)
    with db.session(write=True) as session:  # one of mine was taken over after its lease expired
        stolen = mine[0].id
        session.execute(OutboxMessage.__table__.update().where(col(OutboxMessage.id) == stolen)  # type: ignore[attr-defined]
                        .values(lease_owner="them"))
    with db.session(write=True) as session:
        kept = store.complete_many(session, [m.id for m in mine] + [theirs.id], "me")
        assert store.complete_many(session, [], "me") == set()
    assert kept == {m.id for m in mine[1:]}
    states = {m.id: (m.state, m.lease_owner, m.finished_at is not None) for m in _rows(db)}
    assert [states[m.id] for m in mine[1:]] == [("done", None, True)] * 2
    assert states[stolen] == ("in_flight", "them", False)
    assert states[theirs.id] == ("in_flight", "them", False)


def test_expired_leases_and_pending_messages_are_claimed_together_earliest_due_first(db: Database) -> None:
    now = utcnow()
    with db.session(write=True) as session:  # a worker takes "lapsed", then dies: its lease ends in a second
        store.enqueue(session, "test", "lapsed", {"n": 0}, not_before=now - timedelta(minutes=5))
    with db.session(write=True) as session:
        [crashed] = store.claim(session, owner="dead", kinds=["test"], limit=1, lease_s=1, now=now)
    with db.session(write=True) as session:
        store.enqueue(session, "test", "early", {"n": 1}, not_before=now - timedelta(minutes=10))
        store.enqueue(session, "test", "late", {"n": 2}, not_before=now - timedelta(minutes=1))
    later = now + timedelta(seconds=5)
    with db.session(write=True) as session:
        first = store.claim(session, owner="alive", kinds=["test"], limit=2, lease_s=60, now=later)
    with db.session(write=True) as session:
        rest = store.claim(session, owner="alive", kinds=["test"], limit=2, lease_s=60, now=later)
    assert crashed.key == "lapsed"
    assert [(m.key, m.attempts) for m in first] == [("early", 1), ("lapsed", 2)]
    assert [m.key for m in rest] == ["late"]
