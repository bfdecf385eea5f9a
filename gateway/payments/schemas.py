"""Answer shapes of the payment adjustments (gateway-operations.md: ``/api/v1/admin/payment-adjustments``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class MonthAmount(BaseModel):
    """One month of an adjustment."""

    thang: str
    soTien: int


class Adjustment(BaseModel):
    """A recovery (truy_thu) or back-payment (truy_linh) computed and sent."""

    id: str
    kind: str = Field(description="truy_thu or truy_linh")
    MaHoSo: str = Field(description="the dossier, or a death notice's MaHoSoLienThong")
    beneficiaryId: str | None = Field(description="the ministry's doiTuong id")
    maXa: str | None
    firstMonth: str
    lastMonth: str
    months: list[MonthAmount]
    amount: int = Field(description="VND, the months' sum")
    listMonth: str = Field(description="the payment list it belongs to (YYYY-MM)")
    ministryAnswer: dict[str, Any] | None
    createdAt: datetime


class CommuneTotal(BaseModel):
    """The listed adjustments of one commune and kind, summed (the communes' payment lists)."""

    maXa: str | None
    kind: str
    count: int
    amount: int


class AdjustmentPage(BaseModel):
    """Adjustments, newest first, their total, and the totals per commune and kind."""

    items: list[Adjustment]
    count: int
    total: int = Field(description="VND, the listed adjustments' sum")
    byCommune: list[CommuneTotal] = Field(default_factory=list)


class DecisionCheck(BaseModel):
    """An approval whose monthly amount is not the amount of its month (ministry-api.md §10), as recorded."""

    MaHoSo: str
    at: datetime
    decided: int | None
    expected: int | None
    reason: str | None
