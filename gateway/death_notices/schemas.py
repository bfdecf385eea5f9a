"""Answer shapes of the death-notice routes (province-api.md §5): states, ids, months and amounts only."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from gateway.dossiers.schemas import Links


class NoticeReceipt(BaseModel):
    """The answer to a notice: 202 the first time, 200 for the same content again."""

    id: str
    MaHoSoLienThong: str
    state: str = Field(description="queued, in_progress, done or failed")
    links: Links


class LookupStep(BaseModel):
    """``lookup``: the deceased among the ministry's beneficiaries."""

    state: str = Field(description="pending, done or failed")
    at: str | None = None
    found: bool | None = None
    active: bool | None = None
    beneficiaryId: str | None = None
    status: str | None = Field(default=None, description="the ministry's trangThaiHuong")
    reason: str | None = None


class StopStep(BaseModel):
    """``stop``: the allowance stopped, and what was recovered."""

    state: str = Field(description="pending, done, not_needed, already_stopped or failed")
    at: str | None = None
    stopMonth: str | None = Field(default=None, description="thangThoiHuong: the first month not owed")
    recovery: dict[str, Any] | None = Field(default=None, description="truyThu as sent: soTien, chiTiet")
    ministry: dict[str, Any] | None = None
    reason: str | None = None
    detail: dict[str, Any] | None = Field(default=None, description="the ministry's reasons when it refused")


class FuneralStep(BaseModel):
    """``funeral_dossier``: the funeral-support dossier, then followed as any dossier."""

    state: str = Field(description="pending, created (then: its delivery state), or conflict")
    at: str | None = None
    MaHoSo: str | None = None
    delivery: str | None = Field(default=None, description="the dossier's delivery state")
    ministryId: str | None = None
    ministryStatus: str | None = None


class NoticeSteps(BaseModel):
    """Each step of the notice's workflow, in order."""

    lookup: LookupStep
    stop: StopStep
    funeral_dossier: FuneralStep


class NoticeDetail(NoticeReceipt):
    """A notice and each of its steps."""

    steps: NoticeSteps
    createdAt: str
    updatedAt: str
