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
    state: str = Field(description="queued, delivering, delivered, failed or dead")
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
