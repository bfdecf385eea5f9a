"""Answer shapes of the dossier routes (they document the OpenAPI schema)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from gateway.identity.schemas import IdentityState


class _Schema(BaseModel):
    """Built by field name in code, answered by alias (the contract's spelling)."""

    model_config = ConfigDict(populate_by_name=True)


class Links(_Schema):
    """Where to read the dossier."""

    self: str


class DossierReceipt(_Schema):
    """The answer to a submission."""

    id: str
    ma_ho_so: str = Field(alias="MaHoSo")
    revision: int
    state: str = Field(description="queued, delivering, delivered, failed, dead, held (identity check) or conflict "
                                   "(the ministry holds other content under this MaHoSo)")
    links: Links


class MinistryState(_Schema):
    """The dossier as the ministry sees it."""

    id: str | None
    status: str | None
    national_status: int | None = Field(alias="nationalStatus")


class AttachmentInfo(_Schema):
    """One stored file."""

    TepDinhKemId: str
    TenTepDinhKem: str
    MaThanhPhanHoSo: str
    content_type: str = Field(alias="contentType")
    size: int
    sha256: str


class HistoryEntry(_Schema):
    """One event in the dossier's life."""

    at: str
    event: str
    revision: int | None
    detail: dict[str, Any] | None
    note: str | None


class Decision(_Schema):
    """The ministry's decision (DA_PHE_DUYET), as structured fields."""

    number: str | None
    date: str | None = Field(description="YYYY-MM-DD")
    monthly_amount: int | None = Field(alias="monthlyAmount", description="VND per month")
    first_month: str | None = Field(alias="firstMonth", description="YYYY-MM")


class ConflictState(_Schema):
    """Why the latest revision waits for an administrator (delivery state ``conflict``): its create answered 409 and
    the ministry's dossier under this MaHoSo holds other content. Names only, never values."""

    revision: int
    reason: str = Field(description="fields_differ, files_differ, not_supplementable or unreadable")
    ministry_id: str | None = Field(alias="ministryId", description="the ministry's dossier that answered 409")
    ministry_status: str | None = Field(alias="ministryStatus", description="its trangThai when it was read")
    fields: list[str] = Field(default_factory=list,
                              description="the ministry body's field paths that differ (doiTuong.hoTen …)")
    missing: list[str] = Field(default_factory=list,
                               description="component codes of this revision's files the ministry lacks")
    extra: list[str] = Field(default_factory=list,
                             description="component codes of files the ministry holds that this revision lacks")
    at: str

    @classmethod
    def of(cls, revision: int | None, detail: dict[str, Any] | None, at: str) -> ConflictState:
        """From a ``delivery_conflict`` event's revision, detail and time."""
        detail = detail or {}
        comparison = detail.get("comparison") or {}
        return cls(revision=revision or 0, reason=str(detail.get("reason") or ""),
                   ministry_id=detail.get("ministry_id"), ministry_status=detail.get("status"),
                   fields=list(comparison.get("fields") or []), missing=list(comparison.get("missing") or []),
                   extra=list(comparison.get("extra") or []), at=at)


class DossierDetail(DossierReceipt):
    """The dossier as the gateway holds it."""

    ministry: MinistryState
    decision: Decision | None
    due_at: str | None = Field(alias="dueAt")
    overdue: bool
    created_at: str = Field(alias="createdAt")
    updated_at: str = Field(alias="updatedAt")
    content: dict[str, Any]
    identity: IdentityState = Field(description="the latest revision's check against the population database")
    conflict: ConflictState | None = Field(default=None,
                                           description="while the state is conflict: what the ministry holds "
                                                       "differently, and why no supplement could fix it")
    attachments: list[AttachmentInfo]
    history: list[HistoryEntry]


class DossierSummary(_Schema):
    """One line of a dossier listing."""

    ma_ho_so: str = Field(alias="MaHoSo")
    state: str
    ministry: MinistryState
    due_at: str | None = Field(alias="dueAt")
    overdue: bool
    updated_at: str = Field(alias="updatedAt")


class DossierList(_Schema):
    """A page of dossiers."""

    items: list[DossierSummary]
    count: int = Field(description="how many match, all pages together")
