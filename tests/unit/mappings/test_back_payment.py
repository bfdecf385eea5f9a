"""Months owed by a decision (truy lĩnh, ministry-api.md §9) and the check of its monthly amount (§10)."""

from __future__ import annotations

import pytest

from mappings.money import check_decision, months_owed


@pytest.mark.parametrize(("group", "born", "start", "first_paid", "months", "children"), [
    # None owed: the first list carries the start month itself.
    ("NCT_80_KHONG_LUONG", "1941-03-02", "2024-09", "2024-09", None, None),
    ("NCT_80_KHONG_LUONG", "1941-03-02", "2024-09", "2024-08", None, None),
    # One month.
    ("NCT_80_KHONG_LUONG", "1941-03-02", "2024-09", "2024-10", [("2024-09", 500_000)], None),
    # Several across the 2024-07 base change (the §9 example): 360,000 then 500,000.
    ("NCT_80_KHONG_LUONG", "1941-03-02", "2024-05", "2024-09",
     [("2024-05", 360_000), ("2024-06", 360_000), ("2024-07", 500_000), ("2024-08", 500_000)], None),
    # A child turning 4 inside the span (born 2020-08-15: 4 on 1 September 2024): 2.5 then 1.5.
    ("TE_DUOI_4", "2020-08-15", "2024-07", "2024-10",
     [("2024-07", 1_250_000), ("2024-08", 1_250_000), ("2024-09", 750_000)], None),
    # An elderly person turning 80 inside it (born 1944-08-20: 80 on 1 September 2024): 1.5 then 2.0.
    ("NCT_NGHEO_KHONG_NGUOI_PHUNG_DUONG", "1944-08-20", "2024-08", "2024-10",
     [("2024-08", 750_000), ("2024-09", 1_000_000)], None),
    # A partial birth date: born "1944-08" counts from 1 August, so 80 on 1 August 2024 already.
    ("NCT_NGHEO_KHONG_NGUOI_PHUNG_DUONG", "1944-08", "2024-07", "2024-09",
     [("2024-07", 750_000), ("2024-08", 1_000_000)], None),
    # A poor single parent raising two children: 2 × 1.0 × the base level.
    ("DON_THAN_NGHEO", "1990-05-05", "2024-06", "2024-08", [("2024-06", 720_000), ("2024-07", 1_000_000)], 2),
    # Across a year end.
    ("NKT_NANG", "1970", "2024-12", "2025-02", [("2024-12", 750_000), ("2025-01", 750_000)], None),
])
def test_months_owed(group: str, born: str, start: str, first_paid: str, months: list[tuple[str, int]] | None,
                     children: int | None) -> None:
    owed = months_owed(group, born, start_month=start, first_paid_month=first_paid, children=children)
    if months is None:
        assert owed is None
    else:
        assert owed is not None and list(owed.months) == months and owed.total == sum(a for _, a in months)


@pytest.mark.parametrize(("group", "born", "month", "decided", "agrees", "expected"), [
    ("NCT_80_KHONG_LUONG", "1941-03-02", "2024-09", 500_000, True, 500_000),
    ("NCT_80_KHONG_LUONG", "1941-03-02", "2024-09", 360_000, False, 500_000),  # last year's base level
    ("NCT_NGHEO_KHONG_NGUOI_PHUNG_DUONG", "1944-08-20", "2024-09", 750_000, False, 1_000_000),  # 80 that month
    ("DON_THAN_NGHEO", "1990-05-05", "2024-09", 1_500_000, True, 1_500_000),  # three children
    ("DON_THAN_NGHEO", "1990-05-05", "2024-09", 1_250_000, False, None),  # not a whole number of children
])
def test_a_decisions_amount_is_checked_against_its_month(group: str, born: str, month: str, decided: int,
                                                         agrees: bool, expected: int | None) -> None:
    found = check_decision(group, born, month, decided)
    assert (found.agrees, found.expected) == (agrees, expected)
    if expected is None:
        assert found.reason == "amount_not_per_child"
