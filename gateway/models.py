"""The gateway's own tables: dossiers, their revisions, attachments and status events."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Double,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlmodel import Field, SQLModel

from outbox.columns import UTCDateTime, utcnow


def new_id() -> str:
    """A random identifier for rows the outside world may see."""
    return uuid.uuid4().hex


class DeliveryState:
    """The dossier's delivery state as reported to the province (contract: province-api.md §3)."""

    QUEUED = "queued"
    DELIVERING = "delivering"
    DELIVERED = "delivered"
    FAILED = "failed"
    DEAD = "dead"
    HELD = "held"  # the population database disagrees: not delivered until corrected or released
    CONFLICT = "conflict"  # the ministry holds other content under this MaHoSo (a 409): an administrator decides


class RevisionState:
    """What became of one revision."""

    PENDING = "pending"  # waiting to be delivered
    SUPERSEDED = "superseded"  # replaced by a newer revision before delivery
    DELIVERED = "delivered"
    DEAD = "dead"


class Dossier(SQLModel, table=True):
    """One dossier, identified by the province's ``MaHoSo``; its content lives in revisions."""

    __tablename__ = "dossier"
    # The reconciler finds a change's dossier by the ministry's id (a page of them at a time).
    __table_args__ = (Index("ix_dossier_ministry_id", "ministry_id"),)

    id: str = Field(default_factory=new_id, sa_column=Column(String(32), primary_key=True))
    ma_ho_so: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    procedure_code: str = Field(sa_column=Column(String(16), nullable=False))
    current_revision: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    delivered_revision: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    delivery_state: str = Field(default=DeliveryState.QUEUED, sa_column=Column(String(16), nullable=False))
    ministry_id: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    ministry_status: str | None = Field(default=None, sa_column=Column(String(32), nullable=True))
    national_status: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    due_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    # When the ministry's status last changed (the change feed's thoiDiem): older changes never overwrite it.
    ministry_status_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    is_final: bool = Field(default=False, sa_column=Column(Boolean, nullable=False, server_default=false()))
    # DA_CHUYEN_BO told to the province (by the delivery, or by the reconciler if the feed was first).
    announced: bool = Field(default=False, sa_column=Column(Boolean, nullable=False, server_default=false()))
    # The ministry's decision (DA_PHE_DUYET quyetDinh), as structured fields.
    decision_number: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    decision_date: str | None = Field(default=None, sa_column=Column(String(10), nullable=True))  # YYYY-MM-DD
    monthly_amount: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))  # VND
    first_month: str | None = Field(default=None, sa_column=Column(String(7), nullable=True))  # YYYY-MM
    client_name: str = Field(sa_column=Column(String(64), nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))


class DossierRevision(SQLModel, table=True):
    """The content of a dossier as posted once; a changed post makes the next revision."""

    __tablename__ = "dossier_revision"
    __table_args__ = (UniqueConstraint("dossier_id", "revision", name="uq_revision_dossier_revision"),)

    id: str = Field(default_factory=new_id, sa_column=Column(String(32), primary_key=True))
    dossier_id: str = Field(sa_column=Column(String(32), ForeignKey("dossier.id"), nullable=False))
    revision: int = Field(sa_column=Column(Integer, nullable=False))
    fingerprint: str = Field(sa_column=Column(String(64), nullable=False))
    content: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    state: str = Field(default=RevisionState.PENDING, sa_column=Column(String(16), nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))


class Attachment(SQLModel, table=True):
    """One file of one revision; the bytes are in the blob store under ``sha256``."""

    __tablename__ = "attachment"
    __table_args__ = (UniqueConstraint("revision_id", "file_id", name="uq_attachment_revision_file"),
                      Index("ix_attachment_sha256", "sha256"))  # the blob garbage collector's question

    id: str = Field(default_factory=new_id, sa_column=Column(String(32), primary_key=True))
    revision_id: str = Field(sa_column=Column(String(32), ForeignKey("dossier_revision.id"), nullable=False))
    file_id: str = Field(sa_column=Column(String(128), nullable=False))
    file_name: str = Field(sa_column=Column(String(255), nullable=False))
    component_code: str = Field(sa_column=Column(String(64), nullable=False))
    content_type: str = Field(sa_column=Column(String(64), nullable=False))
    size: int = Field(sa_column=Column(BigInteger, nullable=False))
    sha256: str = Field(sa_column=Column(String(64), nullable=False))
    # The ministry's id for the uploaded file ("TT-…"), kept so that a retried delivery skips finished uploads.
    ministry_file_id: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))


class DossierEvent(SQLModel, table=True):
    """The dossier's history: received revisions, deliveries, ministry status changes, failures."""

    __tablename__ = "dossier_event"
    __table_args__ = (Index("ix_dossier_event_dossier", "dossier_id", "id"),)

    id: int | None = Field(
        default=None,
        sa_column=Column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    )
    dossier_id: str = Field(sa_column=Column(String(32), ForeignKey("dossier.id"), nullable=False))
    kind: str = Field(sa_column=Column(String(32), nullable=False))
    revision: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    detail: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    note: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))


class IdentityCheck(SQLModel, table=True):
    """A revision's beneficiary checked against the population database, once, and what was done with it.

    No personal value is kept: which fields disagreed (the province's field paths), never what they held.
    """

    __tablename__ = "identity_check"
    __table_args__ = (
        UniqueConstraint("revision_id", name="uq_identity_check_revision"),
        Index("ix_identity_check_checked_at", "checked_at"),
    )

    id: str = Field(default_factory=new_id, sa_column=Column(String(32), primary_key=True))
    dossier_id: str = Field(sa_column=Column(String(32), ForeignKey("dossier.id"), nullable=False))
    ma_ho_so: str = Field(sa_column=Column(String(64), nullable=False))
    revision_id: str = Field(sa_column=Column(String(32), ForeignKey("dossier_revision.id"), nullable=False))
    revision: int = Field(sa_column=Column(Integer, nullable=False))
    outcome: str = Field(sa_column=Column(String(16), nullable=False))  # mappings.identity.IdentityOutcome
    fields: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    deceased: bool = Field(default=False, sa_column=Column(Boolean, nullable=False, server_default=false()))
    request_id: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))  # maYeuCau
    action: str = Field(sa_column=Column(String(16), nullable=False))  # mappings.identity.IdentityAction
    commune_code: str = Field(sa_column=Column(String(8), nullable=False))  # in force, for the communes' report
    reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))  # why unverified, or released
    checked_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    released_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    released_by: str | None = Field(default=None, sa_column=Column(String(128), nullable=True))


class DeathNotice(SQLModel, table=True):
    """A death registered through the linked procedure (province-api.md §5) and its workflow's steps.

    ``steps`` holds what each step (``lookup``, ``stop``, ``funeral_dossier``) did and what the ministry
    answered (no personal value: states, ids, months, amounts); ``files`` the notice's attachments
    (their bytes in the blob store), which become the funeral dossier's.
    """

    __tablename__ = "death_notice"

    id: str = Field(default_factory=new_id, sa_column=Column(String(32), primary_key=True))
    ma_ho_so_lien_thong: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    fingerprint: str = Field(sa_column=Column(String(64), nullable=False))
    content: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    files: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    steps: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    dossier_id: str | None = Field(default=None, sa_column=Column(String(32), nullable=True))  # the funeral dossier
    client_name: str = Field(sa_column=Column(String(64), nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))


class PaymentAdjustment(SQLModel, table=True):
    """A recovery (truy thu) or back-payment (truy lĩnh) computed and sent: what the payment list reads.

    ``months`` is the per-month detail ``[{"thang", "soTien"}]``; ``ministry_answer`` what the ministry said.
    """

    __tablename__ = "payment_adjustment"
    __table_args__ = (Index("ix_payment_adjustment_month", "list_month", "kind"),)

    id: str = Field(default_factory=new_id, sa_column=Column(String(32), primary_key=True))
    kind: str = Field(sa_column=Column(String(16), nullable=False))  # truy_thu | truy_linh
    ma_ho_so: str = Field(sa_column=Column(String(64), nullable=False))  # the dossier or MaHoSoLienThong
    beneficiary_id: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))  # the ministry's
    commune_code: str | None = Field(default=None, sa_column=Column(String(8), nullable=True))
    first_month: str = Field(sa_column=Column(String(7), nullable=False))
    last_month: str = Field(sa_column=Column(String(7), nullable=False))
    amount: int = Field(sa_column=Column(BigInteger, nullable=False))  # VND, the months' sum
    months: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    list_month: str = Field(sa_column=Column(String(7), nullable=False))  # the payment list it belongs to
    ministry_answer: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))


class MinistryChange(SQLModel, table=True):
    """One entry of the ministry's change feed, recorded once however often the feed repeats it."""

    __tablename__ = "ministry_change"
    __table_args__ = (Index("ix_ministry_change_ministry_id", "ministry_id"),)

    change_key: str = Field(sa_column=Column(String(64), primary_key=True))  # sha256 of id|trangThai|thoiDiem
    ministry_id: str = Field(sa_column=Column(String(64), nullable=False))
    ma_ho_so: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    status: str = Field(sa_column=Column(String(32), nullable=False))
    at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    raw: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    dossier_id: str | None = Field(default=None, sa_column=Column(String(32), nullable=True))
    recorded_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))


class SyncCursor(SQLModel, table=True):
    """A feed cursor, and the lease that lets only one reconciler advance it at a time."""

    __tablename__ = "sync_cursor"

    name: str = Field(sa_column=Column(String(64), primary_key=True))
    value: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    lease_owner: str | None = Field(default=None, sa_column=Column(String(128), nullable=True))
    lease_expires_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))


class AuditEntry(SQLModel, table=True):
    """One administrator action: who (API key name or OS user), what, when, on which messages."""

    __tablename__ = "audit_entry"
    __table_args__ = (Index("ix_audit_entry_at", "at"),)

    id: int | None = Field(
        default=None,
        sa_column=Column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    )
    at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    actor: str = Field(sa_column=Column(String(128), nullable=False))  # "api:<key name>" or "os:<user>"
    action: str = Field(sa_column=Column(String(64), nullable=False))  # replay, bulk_replay, cancel, purge, login
    target: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))  # ids, filters
    result: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))  # counts


class PeerBudget(SQLModel, table=True):
    """A peer's client-side rate budget, shared by every process on this database (``gateway.pacing``).

    The generic cell rate algorithm's whole state, in seconds on the database's clock: nothing in it is
    worth keeping across a crash (a lost row is a full bucket again), so it is written often and cheaply.
    """

    __tablename__ = "peer_budget"

    peer: str = Field(sa_column=Column(String(32), primary_key=True))
    tat: float = Field(default=0.0, sa_column=Column(Double, nullable=False))  # theoretical arrival time
    not_before: float = Field(default=0.0, sa_column=Column(Double, nullable=False))  # a Retry-After's end


class Blob(SQLModel, table=True):
    """Attachment bytes kept in the database (``GATEWAY_BLOB_STORE=postgresql``): one row per content.

    Inserted in the transaction that writes all its ``blob_chunk`` rows, so a blob is visible whole or not
    at all. ``used_at``: the last time an intake committed these bytes (the garbage collector spares blobs
    used recently). Owned by ``gateway/blobs/postgresql.py``; the table exists on SQLite too, unused.
    """

    __tablename__ = "blob"
    __table_args__ = (Index("ix_blob_used_at", "used_at"),)

    sha256: str = Field(sa_column=Column(String(64), primary_key=True))
    size: int = Field(sa_column=Column(BigInteger, nullable=False))
    chunk_size: int = Field(sa_column=Column(Integer, nullable=False))  # every chunk's length but the last's
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    used_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))


class BlobChunk(SQLModel, table=True):
    """Bytes ``seq × chunk_size`` onwards of a blob."""

    __tablename__ = "blob_chunk"

    sha256: str = Field(sa_column=Column(String(64), ForeignKey("blob.sha256", ondelete="CASCADE"),
                                         primary_key=True))
    seq: int = Field(sa_column=Column(Integer, primary_key=True, autoincrement=False))
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class ConsoleSessionRevoked(SQLModel, table=True):
    """A console session ended by its logout before its cookie expired (``gateway.admin.console_store``).

    Checked on every console request, so a copy of the cookie is refused after logout; a row is useless
    once ``expires_at`` has passed (the signed cookie has expired too) and is deleted then.
    """

    __tablename__ = "console_session_revoked"
    __table_args__ = (Index("ix_console_session_revoked_expires_at", "expires_at"),)

    session_id: str = Field(sa_column=Column(String(64), primary_key=True))
    expires_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))


class ConsoleLoginThrottle(SQLModel, table=True):
    """Wrong console login keys from one client address, shared by every process (``gateway.admin.console_store``).

    ``failures`` counts the wrong keys since ``window_start``; ``locked_until`` is the end of a lockout. A
    successful login deletes the row; rows idle past the window and any lockout are deleted.
    """

    __tablename__ = "console_login_throttle"
    __table_args__ = (Index("ix_console_login_throttle_updated_at", "updated_at"),)

    address: str = Field(sa_column=Column(String(64), primary_key=True))
    failures: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    window_start: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    locked_until: datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))


class AlertStateRow(SQLModel, table=True):
    """One alert condition (kind, target) as every process on this database sees it (``gateway/alerts``).

    ``observed_since``: when a check first saw the condition hold (an outage counts from it, not from the
    circuit's latest re-opening); ``firing_since``: when its firing alert was enqueued (None: not firing);
    ``last_sent_at``: the last alert of this kind and target enqueued (the grouping window counts from it);
    ``unsent``: dead messages counted since that alert and not yet told. Owned by ``gateway/alerts/repository.py``.
    """

    __tablename__ = "alert_state"

    kind: str = Field(sa_column=Column(String(32), primary_key=True))
    target: str = Field(sa_column=Column(String(64), primary_key=True))
    observed_since: datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    firing_since: datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    last_sent_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    unsent: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    first_unsent_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    last_detail: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
