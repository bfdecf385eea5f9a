"""Request and answer shapes of the admin API (they document the OpenAPI schema).

The answer models are also what :mod:`gateway.admin.service` returns: the API sends them as they are, the CLI
and the console format the same objects.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

ReplayableStateName = Literal["dead", "cancelled"]  # service.REPLAYABLE (a unit test holds them equal)


class MessageSummary(BaseModel):
    """One outbox message as listed."""

    id: int
    kind: str = Field(description="deliver_dossier, supplement_dossier or province_callback")
    key: str = Field(description="ordering key: the MaHoSo, or callback:<MaHoSo> for province callbacks")
    state: str = Field(description="pending, in_flight, done, dead or cancelled")
    attempts: int
    nextAttemptAt: datetime | None = Field(description="when a pending message is next tried")
    lastError: str | None
    createdAt: datetime
    updatedAt: datetime
    finishedAt: datetime | None


class MessagePage(BaseModel):
    """A page of messages, newest first; pass ``next`` as ``cursor`` for the following page."""

    items: list[MessageSummary]
    next: str | None


class AttemptInfo(BaseModel):
    """One delivery attempt (redacted: the peer's status, error code and field-level reasons, no personal data)."""

    attempt: int
    startedAt: datetime
    durationMs: int
    outcome: str = Field(description="done, retry or dead")
    errorClass: str | None
    error: str | None
    httpStatus: int | None
    detail: dict[str, Any] | None
    worker: str


class MessageDetail(MessageSummary):
    """One message with its payload and every attempt, oldest first."""

    payload: dict[str, Any]
    lastErrorDetail: dict[str, Any] | None
    leaseOwner: str | None
    attemptsLog: list[AttemptInfo]


class BulkReplayRequest(BaseModel):
    """Which messages to replay: the list filters. An empty filter is refused unless ``all`` is true."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)  # a misspelt filter must not widen the replay

    state: ReplayableStateName | None = Field(default=None, description="default: dead")
    kind: str | None = None
    ma_ho_so: str | None = Field(default=None, alias="MaHoSo", max_length=128)
    since: str | None = Field(default=None, description="created at or after: ISO date/time (UTC if no offset), "
                                                        "or a duration ago such as 2h or 7d")
    until: str | None = Field(default=None, description="created before: same forms as since")
    error: str | None = Field(default=None, description="text contained in the last error (case-insensitive for "
                                                        "ASCII letters)")
    all: bool = Field(default=False, description="true to replay every dead message when no filter is given")


class ReplayResult(BaseModel):
    """How many messages went back to pending."""

    replayed: int


class ReplayOneResult(ReplayResult):
    """A replayed message, now pending."""

    message: MessageSummary


class CancelRequest(BaseModel):
    """Why the message is withdrawn (kept with the message and in the audit log)."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=500)


class CancelResult(BaseModel):
    """A cancelled message."""

    cancelled: int
    message: MessageSummary


class AuditEntryInfo(BaseModel):
    """One administrator action."""

    id: int
    at: datetime
    actor: str = Field(description="api:<API key name> or os:<OS user> (the CLI) or system:retention")
    action: str
    target: dict[str, Any] | None
    result: dict[str, Any] | None


class AuditPage(BaseModel):
    """A page of the audit log, newest first; pass ``next`` as ``before`` for the following page."""

    items: list[AuditEntryInfo]
    next: int | None


class OutboxStats(BaseModel):
    """The transaction log at a glance, as the database knows it."""

    byState: dict[str, int]
    byKind: dict[str, dict[str, int]]
    oldestUndeliveredAgeS: float | None
    oldestUndeliveredAgeSByKind: dict[str, float]
    deliveredPerMinute: float = Field(description="successful deliveries per minute over the last 10 minutes")


class Stats(OutboxStats):
    """The transaction log at a glance, and this process's circuits."""

    ministryCircuit: str = Field(description="closed, half_open, open, or not_running_here (no dispatcher in "
                                             "this process)")
    circuits: dict[str, str] = Field(description="each target's circuit state in this process")
