"""The stop month and the overpayment after a death (ministry-api.md §8, §10), table-driven with hand sums."""

from __future__ import annotations

from datetime import date

import pytest

from mappings.money import month_after, recovery, span


@pytest.mark.parametrize(("died", "stop"), [
    (date(2024, 9, 28), "2024-10"), (date(2024, 12, 1), "2025-01"), (date(2024, 1, 31), "2024-02"),
    (date(2024, 2, 29), "2024-03"),
])
def test_the_allowance_stops_from_the_month_after_the_month_of_death(died: date, stop: str) -> None:
    assert month_after(died) == stop


@pytest.mark.parametrize(("group", "born", "died", "paid_through", "months"), [
    # Paid two months past a death in September 2024, at 500,000 × 1.0.
    ("NCT_80_KHONG_LUONG", "1941-03-02", date(2024, 9, 28), "2024-11",
     [("2024-10", 500_000), ("2024-11", 500_000)]),
    # A span across the 2024-07 base change: 360,000 × 1.5 = 540,000, then 500,000 × 1.5 = 750,000.
    ("NCT_NGHEO_KHONG_NGUOI_PHUNG_DUONG", "1950-01-10", date(2024, 4, 15), "2024-08",
     [("2024-05", 540_000), ("2024-06", 540_000), ("2024-07", 750_000), ("2024-08", 750_000)]),
    # Turning 80 inside it (born 1944-07-20: 80 on 1 August 2024): 1.5 then 2.0, after the base change.
    ("NCT_NGHEO_KHONG_NGUOI_PHUNG_DUONG", "1944-07-20", date(2024, 5, 3), "2024-08",
     [("2024-06", 540_000), ("2024-07", 750_000), ("2024-08", 1_000_000)]),
    # Born 1944-06-01: 80 on 1 June, so June already at 2.0 (360,000 × 2.0).
    ("NCT_NGHEO_KHONG_NGUOI_PHUNG_DUONG", "1944-06-01", date(2024, 5, 3), "2024-07",
     [("2024-06", 720_000), ("2024-07", 1_000_000)]),
    # A birth date known only to the year counts from 1 January: born "1964" is 60 (elderly, 2.0) on
    # 1 January 2024, a year before someone born in December 1964 would be.
    ("NKT_NANG", "1964", date(2023, 11, 5), "2024-01", [("2023-12", 540_000), ("2024-01", 720_000)]),
])
def test_every_month_paid_after_the_stop_is_recovered_at_its_own_amount(
    group: str, born: str, died: date, paid_through: str, months: list[tuple[str, int]]
) -> None:
    stop, overpaid = recovery(group, born, died_on=died, paid_through=paid_through)
    assert overpaid is not None
    assert stop == months[0][0]
    assert list(overpaid.months) == months
    assert overpaid.total == sum(a for _, a in months)
    assert overpaid.as_ministry() == {"soTien": overpaid.total,
                                      "chiTiet": [{"thang": m, "soTien": a} for m, a in months]}


@pytest.mark.parametrize("paid_through", [None, "2024-09", "2024-08"])
def test_nothing_to_recover_when_nothing_was_paid_after_the_death(paid_through: str | None) -> None:
    assert recovery("NCT_80_KHONG_LUONG", "1941-03-02", died_on=date(2024, 9, 28), paid_through=paid_through) == (
        "2024-10", None)


def test_a_per_child_group_needs_its_children_and_a_span_can_be_empty() -> None:
    assert span("DON_THAN_NGHEO", "1990-05-05", "2024-07", "2024-08", children=2).total == 2_000_000
    with pytest.raises(ValueError, match="children_required"):
        span("DON_THAN_NGHEO", "1990-05-05", "2024-07", "2024-08")
    assert span("NKT_NANG", "1964", "2024-08", "2024-07").months == ()
    with pytest.raises(ValueError, match="invalid_month"):
        span("NKT_NANG", "1964", "2024-13", "2024-14")


def test_months_before_the_allowance_started_were_not_paid() -> None:
    # Started in 2024-11 (a decision after the death, back-dated), paid through 2024-12: only those two.
    stop, overpaid = recovery("NCT_80_KHONG_LUONG", "1941-03-02", died_on=date(2024, 9, 28), paid_through="2024-12",
                              paid_from="2024-11")
    assert stop == "2024-10" and overpaid is not None
    assert [m for m, _ in overpaid.months] == ["2024-11", "2024-12"]
    assert recovery("NCT_80_KHONG_LUONG", "1941-03-02", died_on=date(2024, 9, 28), paid_through="2024-12",
                    paid_from="2023-05")[1] == span("NCT_80_KHONG_LUONG", "1941-03-02", "2024-10", "2024-12")
    assert recovery("NCT_80_KHONG_LUONG", "1941-03-02", died_on=date(2024, 9, 28), paid_through="2024-12",
                    paid_from="2025-01") == ("2024-10", None)
