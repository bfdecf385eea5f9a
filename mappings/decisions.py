"""What an approval (``DA_PHE_DUYET``, ministry-api.md §6, §9, §10) means in money: pure.

The decision's ``mucHuongThang`` is checked against the amount of the decision's month; the months owed
(truy lĩnh) run from ``thangBatDauHuong`` to the month before ``thangChiTraDauTien`` (the first monthly
list that carries the person), each at its own amount. The province hears both in the callback's
``QuyetDinh`` (``TruyLinh``, province-api.md §6).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mappings.money import (
    AmountCheck,
    BirthDate,
    Span,
    check_decision,
    children_from_decision,
    month_or_none,
    months_owed,
)

PER_CHILD = "DON_THAN_NGHEO"


@dataclass(frozen=True)
class DecisionMoney:
    """An approval's amount check and the back-payment it implies (None: nothing owed or unknown)."""

    check: AmountCheck | None  # None when the decision carries no usable amount or month
    owed: Span | None
    reason: str | None = None  # why no back-payment could be computed, when one may be owed


def _month(value: Any) -> str | None:
    """The month of a ``YYYY-MM`` or ISO date value (``quyetDinh.ngay`` is a date), or None."""
    return month_or_none(str(value)[:7]) if value is not None else None


def decision_money(group: str, birth_date: BirthDate, decision: dict[str, Any],
                   first_paid_month: Any) -> DecisionMoney:
    """The money of ``decision`` (``quyetDinh``) for a beneficiary of ``group`` born ``birth_date``;
    ``first_paid_month``: the change's ``thangChiTraDauTien`` (None when the ministry did not send it)."""
    amount = decision.get("mucHuongThang")
    decided_in = _month(decision.get("ngay"))
    check = None
    if isinstance(amount, int) and not isinstance(amount, bool) and decided_in is not None:
        check = check_decision(group, birth_date, decided_in, amount)
    start, first = _month(decision.get("thangBatDauHuong")), _month(first_paid_month)
    if start is None or first is None:
        return DecisionMoney(check, None, None if first_paid_month is None else "invalid_month")
    try:
        children = None
        if group == PER_CHILD:
            if check is None or decided_in is None or not isinstance(amount, int):
                return DecisionMoney(check, None, "children_required")
            children = children_from_decision(group, birth_date, decided_in, amount)
        return DecisionMoney(check, months_owed(group, birth_date, start_month=start, first_paid_month=first,
                                                children=children))
    except ValueError as exc:
        return DecisionMoney(check, None, str(exc))


def back_payment_for_province(owed: Span | None) -> dict[str, Any] | None:
    """``QuyetDinh.TruyLinh`` (province-api.md §6): ``{"TuThang", "DenThang", "SoTien", "ChiTiet"}`` or None."""
    if owed is None or not owed.months:
        return None
    return {"TuThang": owed.months[0][0], "DenThang": owed.months[-1][0], "SoTien": owed.total,
            "ChiTiet": [{"Thang": m, "SoTien": a} for m, a in owed.months]}
