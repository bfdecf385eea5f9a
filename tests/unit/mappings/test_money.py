"""A month's amount (ministry-api.md §10; issue 14, item 4): base level on the first of the month × the
coefficient for the age on that day. Every expected value is a literal worked out by hand from
DOMAIN.md's tables, not from the function:

    base      270,000 (before 2021-07)   360,000 (2021-07 .. 2024-06)   500,000 (from 2024-07)
    × 1.0     270,000                    360,000                        500,000
    × 1.5     405,000                    540,000                        750,000
    × 2.0     540,000                    720,000                      1,000,000
    × 2.5     675,000                    900,000                      1,250,000
    × 3.0     810,000                  1,080,000                      1,500,000

An age edge is tested on the first of the month of the birthday: born on the 2nd, the person is a day
short of the new age (old coefficient); born on the 1st, they reach it that day (new coefficient);
born on the 2nd, the next month has the new one.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from mappings import money
from mappings.model import PartialDate
from mappings.money import BirthDate, Month, base_level, children_from_decision, monthly_amount
from mappings.tables import beneficiary_groups

BASE_LEVELS: list[tuple[Month, int]] = [
    ("1990-01", 270_000),
    ("2021-06", 270_000),
    ("2021-07", 360_000),
    (date(2021, 7, 31), 360_000),
    ("2024-06", 360_000),
    ("2024-07", 500_000),
    (date(2024, 7, 1), 500_000),
    ("2030-12", 500_000),
]


@pytest.mark.parametrize(("month", "amount"), BASE_LEVELS)
def test_base_level(month: Month, amount: int) -> None:
    assert base_level(month) == amount


# (group, birth date, month, expected VND)
CASES: list[tuple[str, BirthDate, Month, int]] = [
    # --- each group at least once ---
    ("TE_DUOI_4", "2023-01-15", "2024-07", 1_250_000),  # 1 y: 2.5
    ("TE_4_16", "2012-06-30", "2024-08", 750_000),  # 12 y: 1.5
    ("TN_16_22", "2005-09-10", "2024-08", 750_000),  # 1.5
    ("HIV_TE_NGHEO", "2022-05-05", "2024-07", 1_250_000),  # 2 y: 2.5
    ("HIV_TE_NGHEO", "2014-05-05", "2024-07", 1_000_000),  # 10 y: 2.0
    ("HIV_NGHEO", "1980-01-01", "2024-07", 750_000),  # adult: 1.5
    ("NCT_NGHEO_KHONG_NGUOI_PHUNG_DUONG", "1950-05-05", "2024-07", 750_000),  # 74 y: 1.5
    ("NCT_NGHEO_CO_NGUOI_PHUNG_DUONG", "1950-05-05", "2024-07", 750_000),  # 74 y: 1.5 (not 1.0)
    ("NCT_75_DTTS", "1947-05-05", "2024-07", 500_000),  # 77 y: 1.0
    ("NCT_80_KHONG_LUONG", "1941-03-02", "2024-12", 500_000),  # 1.0 (the contract §8 example)
    ("NCT_KHONG_NOI_NUONG_TUA", "1955-02-02", "2024-07", 1_500_000),  # 3.0
    ("NCT_KHONG_NOI_NUONG_TUA", "1955-02-02", "2024-06", 1_080_000),
    ("NKT_DAC_BIET_NANG", "1985-08-08", "2024-07", 1_000_000),  # adult: 2.0
    ("NKT_NANG", "1985-08-08", "2024-07", 750_000),  # adult: 1.5
    ("TE_DUOI_3_DTTS_NGHEO", "2023-03-03", "2024-07", 750_000),  # 1.5
    # --- the base changes: 2021-06 vs 2021-07, 2024-06 vs 2024-07 ---
    ("NCT_80_KHONG_LUONG", "1940-03-02", "2021-06", 270_000),
    ("NCT_80_KHONG_LUONG", "1940-03-02", "2021-07", 360_000),
    ("NCT_80_KHONG_LUONG", "1940-03-02", "2024-06", 360_000),
    ("NCT_80_KHONG_LUONG", "1940-03-02", "2024-07", 500_000),
    ("TN_16_22", "2005-09-10", "2021-06", 405_000),
    ("TN_16_22", "2005-09-10", "2021-07", 540_000),
    ("TN_16_22", "2005-09-10", "2024-06", 540_000),
    ("TN_16_22", "2005-09-10", "2024-07", 750_000),
    ("NKT_DAC_BIET_NANG", "1985-08-08", "2021-06", 540_000),
    ("NKT_DAC_BIET_NANG", "1985-08-08", "2021-07", 720_000),
    ("HIV_TE_NGHEO", "2019-01-01", "2021-06", 675_000),  # 2 y × 270,000 × 2.5
    ("HIV_TE_NGHEO", "2019-01-01", "2021-07", 900_000),
    ("HIV_TE_NGHEO", "2015-01-01", "2024-06", 720_000),  # 9 y × 360,000 × 2.0
    ("HIV_TE_NGHEO", "2015-01-01", "2024-07", 1_000_000),
    ("HIV_NGHEO", "1980-01-01", "2021-06", 405_000),
    ("HIV_NGHEO", "1980-01-01", "2024-06", 540_000),
    ("NCT_75_DTTS", "1947-05-05", "2021-06", 270_000),
    ("NCT_75_DTTS", "1947-05-05", "2021-07", 360_000),
    ("NCT_75_DTTS", "1947-05-05", "2024-06", 360_000),
    # --- turning 4 (art. 5.1 and 5.3): 2.5 -> 1.5 (TE_*), 2.5 -> 2.0 (HIV_TE_NGHEO); HIV_NGHEO (5.8) 1.5 ---
    ("TE_DUOI_4", "2020-09-02", "2024-08", 1_250_000),
    ("TE_DUOI_4", "2020-09-02", "2024-09", 1_250_000),  # 3 y on 1 Sep: turns 4 the next day
    ("TE_DUOI_4", "2020-09-01", "2024-09", 750_000),  # 4 y on 1 Sep
    ("TE_DUOI_4", "2020-09-02", "2024-10", 750_000),
    ("TE_4_16", "2020-09-02", "2024-09", 1_250_000),  # one group: the age decides, not the code
    ("TE_4_16", "2020-09-01", "2024-09", 750_000),
    ("TE_4_16", "2020-09-02", "2024-10", 750_000),
    ("HIV_TE_NGHEO", "2020-09-02", "2024-09", 1_250_000),  # 3 y on 1 Sep
    ("HIV_TE_NGHEO", "2020-09-01", "2024-09", 1_000_000),  # 4 y on 1 Sep
    ("HIV_TE_NGHEO", "2020-09-02", "2024-10", 1_000_000),
    # a child declared HIV_NGHEO is paid as declared, 1.5, never 5.3's rates (coefficients.csv: our reading)
    ("HIV_NGHEO", "2020-09-02", "2024-09", 750_000),
    ("HIV_NGHEO", "2020-09-01", "2024-09", 750_000),
    ("HIV_NGHEO", "2020-09-02", "2024-10", 750_000),
    ("TE_DUOI_4", "2020-01-01", "2023-12", 900_000),  # turns 4 on 1 January 2024
    ("TE_DUOI_4", "2020-01-01", "2024-01", 540_000),
    ("TE_DUOI_4", "2020-02-29", "2024-02", 900_000),  # born on a leap day (base still 360,000)
    ("TE_DUOI_4", "2020-02-29", "2024-03", 540_000),
    # --- turning 16: child -> adult (NKT_DAC_BIET_NANG 2.5 -> 2.0; NKT_NANG 2.0 -> 1.5) ---
    # HIV_TE_NGHEO keeps 2.0 (leaving 5.3 at 16 is a stop decision, not an amount); HIV_NGHEO stays 1.5
    ("HIV_TE_NGHEO", "2008-09-02", "2024-09", 1_000_000),
    ("HIV_TE_NGHEO", "2008-09-01", "2024-09", 1_000_000),
    ("HIV_TE_NGHEO", "2008-09-02", "2024-10", 1_000_000),
    ("HIV_NGHEO", "2008-09-02", "2024-09", 750_000),
    ("HIV_NGHEO", "2008-09-01", "2024-09", 750_000),
    ("HIV_NGHEO", "2008-09-02", "2024-10", 750_000),
    ("NKT_DAC_BIET_NANG", "2008-09-02", "2024-09", 1_250_000),
    ("NKT_DAC_BIET_NANG", "2008-09-01", "2024-09", 1_000_000),
    ("NKT_DAC_BIET_NANG", "2008-09-02", "2024-10", 1_000_000),
    ("NKT_NANG", "2008-09-02", "2024-09", 1_000_000),
    ("NKT_NANG", "2008-09-01", "2024-09", 750_000),
    ("NKT_NANG", "2008-09-02", "2024-10", 750_000),
    ("TN_16_22", "2008-09-02", "2024-09", 750_000),  # no variant at 16
    ("TN_16_22", "2008-09-01", "2024-09", 750_000),
    # --- turning 60: adult -> elderly (NKT_DAC_BIET_NANG 2.0 -> 2.5; NKT_NANG 1.5 -> 2.0) ---
    ("NKT_DAC_BIET_NANG", "1964-09-02", "2024-09", 1_000_000),
    ("NKT_DAC_BIET_NANG", "1964-09-01", "2024-09", 1_250_000),
    ("NKT_DAC_BIET_NANG", "1964-09-02", "2024-10", 1_250_000),
    ("NKT_NANG", "1964-09-02", "2024-09", 750_000),
    ("NKT_NANG", "1964-09-01", "2024-09", 1_000_000),
    ("NKT_NANG", "1964-09-02", "2024-10", 1_000_000),
    # --- turning 75 (art. 5.5b): NCT_75_DTTS 1.0 on both sides (the start at 75 is art. 8, not an amount) ---
    ("NCT_75_DTTS", "1949-09-02", "2024-09", 500_000),  # 74 y on 1 Sep
    ("NCT_75_DTTS", "1949-09-01", "2024-09", 500_000),  # 75 y on 1 Sep
    ("NCT_75_DTTS", "1949-09-02", "2024-10", 500_000),
    ("NCT_75_DTTS", "1949-07-01", "2024-06", 360_000),  # 74 y, the old base
    ("NCT_75_DTTS", "1949-07-01", "2024-07", 500_000),  # 75 y, the new base
    # --- turning 80 (art. 5.5a): 1.5 -> 2.0; NCT_75_DTTS stays 1.0 (5.5c's 1.0 from 80 anyway) ---
    ("NCT_75_DTTS", "1944-09-02", "2024-09", 500_000),
    ("NCT_75_DTTS", "1944-09-01", "2024-09", 500_000),
    ("NCT_75_DTTS", "1944-09-02", "2024-10", 500_000),
    ("NCT_NGHEO_KHONG_NGUOI_PHUNG_DUONG", "1944-09-02", "2024-09", 750_000),
    ("NCT_NGHEO_KHONG_NGUOI_PHUNG_DUONG", "1944-09-01", "2024-09", 1_000_000),
    ("NCT_NGHEO_KHONG_NGUOI_PHUNG_DUONG", "1944-09-02", "2024-10", 1_000_000),
    ("NCT_NGHEO_CO_NGUOI_PHUNG_DUONG", "1944-09-02", "2024-09", 750_000),
    ("NCT_NGHEO_CO_NGUOI_PHUNG_DUONG", "1944-09-01", "2024-09", 1_000_000),
    ("NCT_NGHEO_CO_NGUOI_PHUNG_DUONG", "1944-09-02", "2024-10", 1_000_000),
    ("NCT_80_KHONG_LUONG", "1944-09-02", "2024-09", 500_000),  # no variant at 80
    ("NCT_80_KHONG_LUONG", "1944-09-01", "2024-09", 500_000),
    # turning 80 and the base change in the same month: 79 y × 360,000 × 1.5, then 80 y × 500,000 × 2.0
    ("NCT_NGHEO_KHONG_NGUOI_PHUNG_DUONG", "1944-07-01", "2024-06", 540_000),
    ("NCT_NGHEO_KHONG_NGUOI_PHUNG_DUONG", "1944-07-01", "2024-07", 1_000_000),
    # --- partial birth dates: YYYY-MM counts from the 1st of the month, YYYY from 1 January ---
    ("TE_DUOI_4", "2020-09", "2024-08", 1_250_000),
    ("TE_DUOI_4", "2020-09", "2024-09", 750_000),
    ("TE_DUOI_4", PartialDate(2020, 9), "2024-09", 750_000),
    ("TE_DUOI_4", "2020", "2023-12", 900_000),
    ("TE_DUOI_4", "2020", "2024-01", 540_000),
    ("TE_DUOI_4", PartialDate(2020), "2024-01", 540_000),
    ("NCT_NGHEO_KHONG_NGUOI_PHUNG_DUONG", "1944", "2023-12", 540_000),
    ("NCT_NGHEO_KHONG_NGUOI_PHUNG_DUONG", "1944", "2024-01", 720_000),
    ("NKT_NANG", "1964", "2023-12", 540_000),  # 59 y × 360,000 × 1.5
    ("NKT_NANG", "1964", "2024-01", 720_000),  # 60 y × 360,000 × 2.0
    # --- the other spellings of a birth date and a month ---
    ("TE_DUOI_4", PartialDate(2020, 9, 2), "2024-09", 1_250_000),
    ("TE_DUOI_4", date(2020, 9, 1), "2024-09", 750_000),
    ("TE_DUOI_4", "2020-09-02", date(2024, 9, 30), 1_250_000),  # a date stands for its month
    ("TE_DUOI_4", "2020-09-02", date(2024, 10, 1), 750_000),
    # born later in the month paid: age 0 on its first day
    ("TE_DUOI_4", "2024-09-15", "2024-09", 1_250_000),
]


@pytest.mark.parametrize(("group", "birth_date", "month", "amount"), CASES)
def test_monthly_amount(group: str, birth_date: BirthDate, month: Month, amount: int) -> None:
    result = monthly_amount(group, birth_date, month)
    assert result == amount
    assert type(result) is int


# DON_THAN_NGHEO: 1.0 per child raised; the number comes with the call.
@pytest.mark.parametrize(
    ("children", "month", "amount"),
    [(1, "2024-07", 500_000), (3, "2024-07", 1_500_000), (2, "2024-06", 720_000), (2, "2021-06", 540_000)],
)
def test_poor_single_parent_is_paid_per_child(children: int, month: Month, amount: int) -> None:
    assert monthly_amount("DON_THAN_NGHEO", "1990-04-04", month, children=children) == amount


@pytest.mark.parametrize(
    ("month", "muc_huong_thang", "children"),
    [("2024-07", 1_000_000, 2), ("2024-06", 720_000, 2), ("2024-07", 500_000, 1), ("2021-06", 810_000, 3)],
)
def test_children_from_a_decision(month: Month, muc_huong_thang: int, children: int) -> None:
    assert children_from_decision("DON_THAN_NGHEO", "1990", month, muc_huong_thang) == children


@pytest.mark.parametrize(
    ("group", "month", "muc_huong_thang", "code"),
    [
        ("DON_THAN_NGHEO", "2024-06", 1_000_000, "amount_not_per_child"),  # 1,000,000 ÷ 360,000
        ("DON_THAN_NGHEO", "2024-07", 0, "amount_not_per_child"),
        ("DON_THAN_NGHEO", "2024-07", -500_000, "amount_not_per_child"),
        ("NCT_80_KHONG_LUONG", "2024-07", 500_000, "children_not_applicable"),
        ("KHONG_CO", "2024-07", 500_000, "unknown_beneficiary_group"),
    ],
)
def test_children_from_a_decision_refuses(group: str, month: Month, muc_huong_thang: int, code: str) -> None:
    with pytest.raises(ValueError, match=f"^{code}$"):
        children_from_decision(group, "1990", month, muc_huong_thang)


@pytest.mark.parametrize(
    ("group", "birth_date", "month", "children", "code"),
    [
        ("KHONG_CO", "1950", "2024-07", None, "unknown_beneficiary_group"),
        ("nct_80_khong_luong", "1940", "2024-07", None, "unknown_beneficiary_group"),
        ("", "1950", "2024-07", None, "unknown_beneficiary_group"),
        ("DON_THAN_NGHEO", "1990", "2024-07", None, "children_required"),
        ("DON_THAN_NGHEO", "1990", "2024-07", 0, "invalid_children"),
        ("DON_THAN_NGHEO", "1990", "2024-07", True, "invalid_children"),
        ("NKT_NANG", "1990", "2024-07", 1, "children_not_applicable"),
        ("NKT_NANG", "1990", "2024-13", None, "invalid_month"),
        ("NKT_NANG", "1990", "2024/07", None, "invalid_month"),
        ("NKT_NANG", "1990", "202407", None, "invalid_month"),
        ("NKT_NANG", "1990", "2024-7", None, "invalid_month"),
        ("NKT_NANG", "1990", "2024-00", None, "invalid_month"),
        ("NKT_NANG", "1944-02-30", "2024-07", None, "invalid_date"),
        ("NKT_NANG", "02/09/1944", "2024-07", None, "invalid_date"),
        ("NKT_NANG", "1944-9", "2024-07", None, "invalid_date"),
        ("NKT_NANG", "1944-00", "2024-07", None, "invalid_date"),
        ("NKT_NANG", "", "2024-07", None, "invalid_date"),
        ("NKT_NANG", PartialDate(1944, 13), "2024-07", None, "invalid_date"),
        ("TE_DUOI_4", "2024-10-05", "2024-09", None, "born_after_month"),
        ("TE_DUOI_4", "2024-10", "2024-09", None, "born_after_month"),
    ],
)
def test_faults_raise_a_stable_code(
    group: str, birth_date: BirthDate, month: Month, children: int | None, code: str
) -> None:
    with pytest.raises(ValueError, match=f"^{code}$"):
        monthly_amount(group, birth_date, month, children=children)


def test_every_group_is_in_the_table_above() -> None:
    assert {g.code for g in beneficiary_groups()} == {c[0] for c in CASES} | {"DON_THAN_NGHEO"}


def test_every_group_has_coefficients_and_its_base_one_is_among_them() -> None:
    bands = money._bands()  # the loader checks: every group, bands consecutive from 0, the last open
    for group in beneficiary_groups():
        assert group.coefficient in {b.coefficient for b in bands[group.code]}, group.code


def test_a_fraction_of_a_dong_is_rounded_half_up(monkeypatch: pytest.MonkeyPatch) -> None:
    # No data today gives a fraction; should a level do, 333,333 × 1.5 = 499,999.5 -> 500,000.
    monkeypatch.setattr(money, "_base_levels", lambda: ((date.min,), (333_333,)))
    assert monthly_amount("NKT_NANG", "1990", "2024-07") == 500_000
    monkeypatch.setattr(money, "_base_levels", lambda: ((date.min,), (333_331,)))
    assert monthly_amount("NKT_NANG", "1990", "2024-07") == 499_997  # 499,996.5, half up


def test_the_coefficients_are_decimal_not_float() -> None:
    assert all(isinstance(b.coefficient, Decimal) for bands in money._bands().values() for b in bands)
