"""The sole owner of the ``payment_adjustment`` table."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session, col

from gateway.models import PaymentAdjustment
from mappings.dates import VN_TZ
from mappings.money import Span


class AdjustmentKind(StrEnum):
    """What an adjustment is (gateway-operations.md: ``kind=truy_linh|truy_thu``)."""

    RECOVERY = "truy_thu"  # paid after the allowance stopped: to recover
    BACK_PAYMENT = "truy_linh"  # owed and not yet carried by a payment list


@dataclass(frozen=True)
class NewAdjustment:
    """One adjustment as a step records it."""

    kind: AdjustmentKind
    ma_ho_so: str
    span: Span
    beneficiary_id: str | None = None
    commune_code: str | None = None
    list_month: str | None = None  # the payment list it belongs to; default: the month it is recorded (VN)
    ministry_answer: dict[str, Any] | None = None


def record(session: Session, adjustment: NewAdjustment, at: datetime) -> None:
    """Store ``adjustment`` (a non-empty span) in the caller's transaction."""
    pairs = adjustment.span.months
    months: list[dict[str, Any]] = [{"thang": m, "soTien": a} for m, a in pairs]
    session.add(PaymentAdjustment(
        kind=adjustment.kind, ma_ho_so=adjustment.ma_ho_so, beneficiary_id=adjustment.beneficiary_id,
        commune_code=adjustment.commune_code, first_month=pairs[0][0], last_month=pairs[-1][0],
        amount=adjustment.span.total, months=months,
        list_month=adjustment.list_month or at.astimezone(VN_TZ).strftime("%Y-%m"),
        ministry_answer=adjustment.ministry_answer, created_at=at))


def page(session: Session, *, month: str | None, kind: str | None, ma_ho_so: str | None = None,
         commune: str | None = None, limit: int = 1000, offset: int = 0) -> tuple[int, Sequence[PaymentAdjustment]]:
    """(how many, a page) of adjustments, newest first, filtered by payment-list month, kind, dossier, commune."""
    where = []
    if commune is not None:
        where.append(col(PaymentAdjustment.commune_code) == commune)
    if month is not None:
        where.append(col(PaymentAdjustment.list_month) == month)
    if kind is not None:
        where.append(col(PaymentAdjustment.kind) == kind)
    if ma_ho_so is not None:
        where.append(col(PaymentAdjustment.ma_ho_so) == ma_ho_so)
    total = int(session.execute(select(func.count()).select_from(PaymentAdjustment).where(*where)).scalar_one())
    rows = session.execute(
        select(PaymentAdjustment).where(*where)
        .order_by(PaymentAdjustment.created_at.desc(), PaymentAdjustment.id)  # type: ignore[attr-defined]
        .limit(limit).offset(offset)).scalars().all()
    return total, rows
