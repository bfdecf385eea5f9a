"""A month's allowance, as the ministry computes it (ministry-api.md §10): the one place an amount is made.

amount(month) = the base level in force on the first day of the month (``data/base_levels.csv``)
× the group's coefficient for the person's age in whole years on that day
(``data/coefficients.csv``, age variants included), in whole VND.

Errors follow :mod:`mappings.dates`: :class:`ValueError` whose single argument is a stable code
(``unknown_beneficiary_group`` as in ``errors.yaml``, ``invalid_date``, ``invalid_month``,
``born_after_month``, ``children_required``, ``children_not_applicable``, ``invalid_children``,
``amount_not_per_child``), so a caller can map ``str(exc)`` onto its own report. The lookups of
:mod:`mappings.tables` return None for an unknown code because validators collect misses; an amount
is computed for a validated group, so a miss here is a fault, not a finding.

Rounding: §10 says "in whole VND" and names no rule. With today's data every amount is whole
(coefficients are multiples of 0.5, base levels of 10,000 VND); should a future level or
coefficient make a fraction, it is rounded half up to the dong (ROUND_HALF_UP, the usual reading of
"làm tròn"), never truncated. (our decision)

Not here: eligibility (whether the month is owed at all: start, stop, a child aging out is art. 8,
a decision's business) and combining groups (the highest one; a poor single parent also in 5.5, 5.6
or 5.8 gets both amounts: the caller adds two results).
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from functools import cache

from mappings._data import as_bool, read_csv
from mappings.model import PartialDate
from mappings.tables import beneficiary_groups

# A month paid: a date (the month it falls in; any day) or the ministry's ``YYYY-MM``.
Month = date | str
# A birth date: the project's partial date, a date, or ISO ``YYYY-MM-DD`` / ``YYYY-MM`` / ``YYYY``
# (the ministry's ``ngaySinh``; :meth:`PartialDate.iso`).
BirthDate = PartialDate | date | str

_MONTH = re.compile(r"([0-9]{4})-([0-9]{2})")
_ISO_BIRTH = re.compile(r"([0-9]{4})(?:-([0-9]{2})(?:-([0-9]{2}))?)?")


@dataclass(frozen=True)
class _Band:
    age_from: int
    age_to: int | None  # exclusive; None: no upper bound
    coefficient: Decimal
    per_child: bool


# --- data ------------------------------------------------------------------------------------


@cache
def _base_levels() -> tuple[tuple[date, ...], tuple[int, ...]]:
    starts: list[date] = []
    amounts: list[int] = []
    for i, row in enumerate(read_csv("base_levels.csv")):
        if row["from_month"] == "":
            if i != 0:
                raise ValueError("base_levels.csv: only the first row may have an empty from_month")
            start = date.min
        else:
            start = _first_of(row["from_month"])
        if starts and start <= starts[-1]:
            raise ValueError(f"base_levels.csv: {row['from_month']} is not after the row before")
        starts.append(start)
        amounts.append(int(row["amount_vnd"]))
    if not starts or starts[0] != date.min:
        raise ValueError("base_levels.csv: the first row must have an empty from_month (every earlier month)")
    return tuple(starts), tuple(amounts)


@cache
def _bands() -> dict[str, tuple[_Band, ...]]:
    out: dict[str, list[_Band]] = {}
    for row in read_csv("coefficients.csv"):
        out.setdefault(row["group"], []).append(
            _Band(
                age_from=int(row["age_from"]),
                age_to=int(row["age_to"]) if row["age_to"] else None,
                coefficient=Decimal(row["coefficient"]),
                per_child=as_bool(row["per_child"]),
            )
        )
    known = {g.code for g in beneficiary_groups()}
    if set(out) != known:
        raise ValueError(
            f"coefficients.csv: groups missing {sorted(known - set(out))}, unknown {sorted(set(out) - known)}"
        )
    for code, bands in out.items():
        # Every age from 0 on, once: consecutive bands, the last one open.
        edge: int | None = 0
        for band in bands:
            if band.age_from != edge or (band.age_to is not None and band.age_to <= band.age_from):
                raise ValueError(f"coefficients.csv: the age bands of {code} are not consecutive from 0")
            edge = band.age_to
        if edge is not None:
            raise ValueError(f"coefficients.csv: the last age band of {code} must be open (empty age_to)")
        if len({b.per_child for b in bands}) != 1:
            raise ValueError(f"coefficients.csv: per_child differs between the bands of {code}")
    return {code: tuple(bands) for code, bands in out.items()}


# --- parsing ---------------------------------------------------------------------------------


def _first_of(month: Month) -> date:
    if isinstance(month, date):
        return date(month.year, month.month, 1)
    m = _MONTH.fullmatch(month.strip()) if isinstance(month, str) else None
    if m is None or not 1 <= int(m[2]) <= 12:
        raise ValueError("invalid_month")
    return date(int(m[1]), int(m[2]), 1)


def _earliest_birth(birth_date: BirthDate) -> date:
    """The day a birth date counts from: ``YYYY-MM`` from the 1st of the month, ``YYYY`` from 1 January."""
    if isinstance(birth_date, date):
        return date(birth_date.year, birth_date.month, birth_date.day)
    if isinstance(birth_date, PartialDate):
        year, month = birth_date.year, birth_date.month
        day = birth_date.day if month is not None else None  # a day without its month says nothing
    else:
        m = _ISO_BIRTH.fullmatch(birth_date.strip()) if isinstance(birth_date, str) else None
        if m is None:
            raise ValueError("invalid_date")
        year, month, day = int(m[1]), int(m[2]) if m[2] else None, int(m[3]) if m[3] else None
    try:
        # Explicit None tests, as in mappings.dates: a month or day 0 must not become a real one.
        return date(year, 1 if month is None else month, 1 if day is None else day)
    except ValueError:
        raise ValueError("invalid_date") from None


def _age(born: date, on: date) -> int:
    """Whole years on ``on`` (the first of a month). Someone born on 29 February is a year older
    on 1 March whether or not the year is a leap year, so the leap-day question never arises here.
    Born later in the same month: age 0 (the month of birth is payable); born in a later month: a fault."""
    if born > on:
        if (born.year, born.month) != (on.year, on.month):
            raise ValueError("born_after_month")
        return 0
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def _band(group: str, age: int) -> _Band:
    bands = _bands().get(group)
    if bands is None:
        raise ValueError("unknown_beneficiary_group")
    return next(b for b in bands if b.age_from <= age and (b.age_to is None or age < b.age_to))


# --- the functions ---------------------------------------------------------------------------


def base_level(month: Month) -> int:
    """The base level (VND/month) in force on the first day of ``month`` (a date, or ``YYYY-MM``).

    270,000 before 2021-07, 360,000 from 2021-07, 500,000 from 2024-07 (``data/base_levels.csv``).
    """
    starts, amounts = _base_levels()
    return amounts[bisect_right(starts, _first_of(month)) - 1]


def monthly_amount(group: str, birth_date: BirthDate, month: Month, *, children: int | None = None) -> int:
    """The allowance in whole VND for ``month`` of a person of beneficiary ``group`` born on ``birth_date``.

    ``month`` is a date (the month it falls in) or ``YYYY-MM``. ``birth_date`` is a
    :class:`~mappings.model.PartialDate`, a date or ISO ``YYYY-MM-DD``/``YYYY-MM``/``YYYY``; a partial
    one counts from the first day it can denote (§10). The age is taken on the first of ``month``.

    ``children`` is required for a per-child group (``DON_THAN_NGHEO``: 1.0 per child raised) and
    refused for any other. The ministry's record does not carry the number; §10 derives the
    coefficient from a decision's ``mucHuongThang``: see :func:`children_from_decision`.
    """
    first = _first_of(month)
    band = _band(group, _age(_earliest_birth(birth_date), first))
    if band.per_child:
        if children is None:
            raise ValueError("children_required")
        if isinstance(children, bool) or not isinstance(children, int) or children < 1:
            raise ValueError("invalid_children")
        coefficient = band.coefficient * children
    elif children is not None:
        raise ValueError("children_not_applicable")
    else:
        coefficient = band.coefficient
    amount = Decimal(base_level(first)) * coefficient
    return int(amount.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def children_from_decision(group: str, birth_date: BirthDate, decision_month: Month, muc_huong_thang: int) -> int:
    """The number of children a per-child group's decision pays for: ``mucHuongThang`` ÷ the amount
    of one child in the decision's month (§10: the coefficient is ``mucHuongThang`` ÷ the base level
    of the decision's month, 1.0 per child).

    The limit: the count is what the decision paid in its month. A child who later ages out changes it
    only through a new decision, which this cannot see; months before the decision's (a back-payment)
    are assumed to have had the same count. Raises ``ValueError("amount_not_per_child")`` when the
    amount is not a whole, positive number of children (a mismatch to report, never to round), and
    ``children_not_applicable`` for a group that is not per child.
    """
    one = monthly_amount(group, birth_date, decision_month, children=1)
    if isinstance(muc_huong_thang, bool) or muc_huong_thang <= 0 or muc_huong_thang % one:
        raise ValueError("amount_not_per_child")
    return muc_huong_thang // one


# --- spans of months: recoveries (truy thu) and back-payments (truy linh) --------------------


def month_code(month: Month) -> str:
    """``YYYY-MM`` of ``month`` (a date, or ``YYYY-MM``)."""
    first = _first_of(month)
    return f"{first.year:04d}-{first.month:02d}"


def month_or_none(text: object) -> str | None:
    """``text`` if it is a month ``YYYY-MM`` (01-12), else None: how a caller checks a month it was given."""
    if not isinstance(text, str):
        return None
    try:
        return month_code(text) if len(text.strip()) == 7 else None
    except ValueError:
        return None


def month_after(day: date) -> str:
    """The month after the one ``day`` falls in, ``YYYY-MM``: the first month not owed after a death
    (Decree 20 art. 8.2: the allowance stops from the month right after the month of death)."""
    return month_code(date(day.year + day.month // 12, day.month % 12 + 1, 1))


@dataclass(frozen=True)
class Span:
    """Consecutive months, each at its own amount (ministry-api.md §8 ``truyThu``, §9 ``chiTiet``)."""

    months: tuple[tuple[str, int], ...]  # ("2024-10", 500000), oldest first

    @property
    def total(self) -> int:
        """The sum of the months' amounts (``soTien``)."""
        return sum(amount for _, amount in self.months)

    def as_ministry(self) -> dict[str, object]:
        """``{"soTien": total, "chiTiet": [{"thang", "soTien"}, …]}`` as §8 and §9 write it."""
        return {"soTien": self.total, "chiTiet": [{"thang": m, "soTien": a} for m, a in self.months]}


def span(group: str, birth_date: BirthDate, first: Month, last: Month, *, children: int | None = None) -> Span:
    """Every month from ``first`` to ``last`` (both included) at :func:`monthly_amount`; empty when
    ``last`` is before ``first``. A base-level change or a birthday inside the span changes the months
    after it, each on its own first day."""
    start, end = _first_of(first), _first_of(last)
    months: list[tuple[str, int]] = []
    year, month = start.year, start.month
    while (year, month) <= (end.year, end.month):
        day = date(year, month, 1)
        months.append((month_code(day), monthly_amount(group, birth_date, day, children=children)))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return Span(tuple(months))


def recovery(group: str, birth_date: BirthDate, *, died_on: date, paid_through: Month | None,
             paid_from: Month | None = None, children: int | None = None) -> tuple[str, Span | None]:
    """(the stop month, what was overpaid) for a beneficiary who died on ``died_on``.

    The stop month (``thangThoiHuong``) is the month after the month of death; the overpayment
    (``truyThu``, ministry-api.md §8: the months "that were paid") is every month from it, or from
    ``paid_from`` (``thangBatDauHuong``) when that is later, to ``paid_through`` (``daChiTraDenThang``,
    the last month a payment list carried the person), each at its own amount; None when none was paid.
    """
    stop = month_after(died_on)
    first = max(_first_of(stop), _first_of(paid_from)) if paid_from is not None else _first_of(stop)
    if paid_through is None or _first_of(paid_through) < first:
        return stop, None
    return stop, span(group, birth_date, first, paid_through, children=children)


def months_owed(group: str, birth_date: BirthDate, *, start_month: Month, first_paid_month: Month,
                children: int | None = None) -> Span | None:
    """The back-payment (truy lĩnh, ministry-api.md §9) of a decision: every month from ``start_month``
    (``thangBatDauHuong``) to the month before ``first_paid_month`` (``thangChiTraDauTien``, the first monthly
    list that carries the person), each at its own amount; None when no month is owed (the two are equal, or
    the first list comes no later than the start)."""
    start, first = _first_of(start_month), _first_of(first_paid_month)
    if first <= start:
        return None
    last = date(first.year - (first.month == 1), 12 if first.month == 1 else first.month - 1, 1)
    return span(group, birth_date, start, last, children=children)


@dataclass(frozen=True)
class AmountCheck:
    """A decision's ``mucHuongThang`` against the amount of its month (§10: the gateway may check it and must
    report a mismatch, never silently use its own)."""

    decided: int
    expected: int | None  # None when it cannot be computed (``reason`` says why)
    reason: str | None = None

    @property
    def agrees(self) -> bool:
        """True when the decision's amount is the month's amount."""
        return self.expected is not None and self.decided == self.expected


def check_decision(group: str, birth_date: BirthDate, decision_month: Month, muc_huong_thang: int) -> AmountCheck:
    """Check a decision's monthly amount against :func:`monthly_amount` for the decision's month.

    A per-child group (``DON_THAN_NGHEO``) has its coefficient from the amount itself (§10): it agrees when
    the amount is a whole number of children, else ``amount_not_per_child``.
    """
    try:
        if _band(group, _age(_earliest_birth(birth_date), _first_of(decision_month))).per_child:
            children = children_from_decision(group, birth_date, decision_month, muc_huong_thang)
            expected = monthly_amount(group, birth_date, decision_month, children=children)
        else:
            expected = monthly_amount(group, birth_date, decision_month)
    except ValueError as exc:
        return AmountCheck(muc_huong_thang, None, str(exc))
    return AmountCheck(muc_huong_thang, expected)
