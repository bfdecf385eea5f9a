"""The outbox message table: one row per message to deliver to a peer."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Double, Index, Integer, String, Text, text
from sqlmodel import Field, SQLModel

from outbox.columns import UTCDateTime, utcnow


class MessageState(StrEnum):
    """Where a message is in its life."""

    PENDING = "pending"  # waiting for its next attempt
    IN_FLIGHT = "in_flight"  # claimed by a worker under a lease
    DONE = "done"  # delivered
    DEAD = "dead"  # given up; waits for an administrator's replay
    CANCELLED = "cancelled"  # withdrawn before delivery (e.g. superseded by a newer revision)


class OutboxMessage(SQLModel, table=True):
    """A message of a kind, to be handed to the handler registered for that kind.

    ``key`` orders messages: those sharing a key are delivered in enqueue (id) order.
    """

    __tablename__ = "outbox_message"
    __table_args__ = (
        # The claim query's index: due pending rows only, so it stays small however long the log grows.
        Index(
            "ix_outbox_due",
            "next_attempt_at",
            postgresql_where=text("state = 'pending'"),
            sqlite_where=text("state = 'pending'"),
        ),
        Index("ix_outbox_key_id", "key", "id"),
        Index("ix_outbox_state_kind", "state", "kind"),
    )

    id: int | None = Field(
        default=None,
        sa_column=Column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    )
    kind: str = Field(sa_column=Column(String(64), nullable=False))
    key: str = Field(sa_column=Column(String(128), nullable=False))
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    state: str = Field(default=MessageState.PENDING.value, sa_column=Column(String(16), nullable=False))
    attempts: int = Field(default=0, sa_column=Column(Integer, nullable=False, server_default="0"))
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    lease_owner: str | None = Field(default=None, sa_column=Column(String(128), nullable=True))
    lease_expires_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    last_error_detail: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    finished_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    replayed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))


class OutboxAttempt(SQLModel, table=True):
    """One attempt at delivering a message: when, how long, how it ended, and why (no personal data)."""

    __tablename__ = "outbox_attempt"
    __table_args__ = (Index("ix_outbox_attempt_message", "message_id", "id"),)

    id: int | None = Field(
        default=None,
        sa_column=Column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    )
    message_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    attempt: int = Field(sa_column=Column(Integer, nullable=False))
    owner: str = Field(sa_column=Column(String(128), nullable=False))
    started_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    duration_ms: int = Field(sa_column=Column(Integer, nullable=False))
    outcome: str = Field(sa_column=Column(String(16), nullable=False))  # done | retry | dead
    error_class: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    detail: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))


class OutboxCircuit(SQLModel, table=True):
    """A target's circuit breaker as every dispatcher on this database sees it (``outbox.circuits``).

    Times are seconds since the epoch: the processes sharing it may run on several machines.
    """

    __tablename__ = "outbox_circuit"

    target: str = Field(sa_column=Column(String(64), primary_key=True))
    failures: int = Field(default=0, sa_column=Column(Integer, nullable=False))  # consecutive, every process's
    opened_at: float | None = Field(default=None, sa_column=Column(Double, nullable=True))
    cool_down_s: float | None = Field(default=None, sa_column=Column(Double, nullable=True))
    held_until: float = Field(default=0.0, sa_column=Column(Double, nullable=False))  # a Retry-After's end
    probe_owner: str | None = Field(default=None, sa_column=Column(String(128), nullable=True))
    probe_until: float = Field(default=0.0, sa_column=Column(Double, nullable=False))  # the probe's lease
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
