"""Answer shapes of the identity check (the dossier detail, the admin report, a release): no personal values."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from gateway.models import IdentityCheck


class IdentityState(BaseModel):
    """The latest revision's check against the population database."""

    status: str = Field(description="not_checked (no check configured), pending, verified, mismatch, not_found, "
                                    "deceased or unverified")
    action: str | None = Field(default=None, description="delivered, held, warned, unverified, released, corrected")
    checkedAt: datetime | None = None
    requestId: str | None = Field(default=None, description="the population service's maYeuCau")
    fields: list[str] = Field(default_factory=list, description="the field paths at fault, never their values")
    deceased: bool = False
    reason: str | None = Field(default=None, description="why unverified, or why an administrator released it")
    releasedAt: datetime | None = None
    releasedBy: str | None = None

    @classmethod
    def of(cls, check: IdentityCheck | None, *, configured: bool, delivered: bool) -> IdentityState:
        """What the dossier detail says of its latest revision's check (none yet: pending or not_checked)."""
        if check is None:
            return cls(status="pending" if configured and not delivered else "not_checked")
        return cls(status=check.outcome, action=check.action, checkedAt=check.checked_at, requestId=check.request_id,
                   fields=list(check.fields), deceased=check.deceased, reason=check.reason,
                   releasedAt=check.released_at, releasedBy=check.released_by)


class Mismatch(BaseModel):
    """One revision the population database disagreed with (the communes' data-cleaning report)."""

    MaHoSo: str
    revision: int
    maXa: str = Field(description="the beneficiary's commune, code in force")
    outcome: str = Field(description="mismatch, not_found or deceased")
    fields: list[str] = Field(description="the field paths at fault (DuLieuToKhai.NgaySinh …), never their values")
    deceased: bool
    action: str = Field(description="held, warned (delivered with a note), released or corrected")
    checkedAt: datetime
    requestId: str | None


class MismatchPage(BaseModel):
    """Disagreements, newest first."""

    items: list[Mismatch]
    count: int = Field(description="how many match, all pages together")


class ReleaseRequest(BaseModel):
    """Why a held dossier goes to the ministry anyway (audited; written in the ministry's ghiChu)."""

    reason: str = Field(min_length=1, max_length=500)


class ReleaseResult(BaseModel):
    """A released dossier: its revision is queued for delivery."""

    MaHoSo: str
    revision: int
    state: str
