"""The 12-digit personal ID: shape, birth province, gender + century digit, birth-year digits."""

from __future__ import annotations

import pytest

from mappings.model import PartialDate
from mappings.personal_id import birth_year_of, check_personal_id, mask_personal_id

MALE, FEMALE = 1, 2


def test_the_domain_example_is_a_woman_born_in_1941() -> None:
    assert check_personal_id("038141001234", PartialDate(1941, 3, 2), FEMALE) == []
    assert birth_year_of("038141001234") == 1941


# DOMAIN.md: digit 4 = gender and century (0/1 1900s, 2/3 2000s, 4/5 2100s, 6/7 2200s, 8/9 2300s; not the 1800s).
@pytest.mark.parametrize(
    ("digit", "gender", "century"),
    [
        ("0", MALE, 1900),
        ("1", FEMALE, 1900),
        ("2", MALE, 2000),
        ("3", FEMALE, 2000),
        ("4", MALE, 2100),
        ("5", FEMALE, 2100),
        ("6", MALE, 2200),
        ("7", FEMALE, 2200),
        ("8", MALE, 2300),
        ("9", FEMALE, 2300),
    ],
)
def test_fourth_digit_encodes_gender_and_century(digit: str, gender: int, century: int) -> None:
    pid = f"001{digit}07001234"
    year = century + 7
    assert birth_year_of(pid) == year
    assert check_personal_id(pid, PartialDate(year), gender) == []
    assert check_personal_id(pid, PartialDate(year), 3 - gender) == ["id_gender_mismatch"]
    assert check_personal_id(pid, PartialDate(year + 100), gender) == ["id_birth_year_mismatch"]


@pytest.mark.parametrize(
    ("birth", "ok"),
    [
        (PartialDate(1941, 3, 2), True),  # dd/MM/yyyy
        (PartialDate(1941, 3), True),  # MM/yyyy
        (PartialDate(1941), True),  # yyyy
        (PartialDate(1942), False),
        (PartialDate(2041), False),  # right last two digits, wrong century
        (PartialDate(1841), False),
    ],
)
def test_digits_five_and_six_are_the_birth_year_also_for_partial_dates(birth: PartialDate, ok: bool) -> None:
    assert check_personal_id("038141001234", birth, FEMALE) == ([] if ok else ["id_birth_year_mismatch"])


def test_gender_and_birth_year_faults_are_both_reported() -> None:
    assert check_personal_id("038141001234", PartialDate(1950), MALE) == [
        "id_gender_mismatch",
        "id_birth_year_mismatch",
    ]


def test_birth_and_gender_are_only_compared_when_given() -> None:
    assert check_personal_id("038141001234", None, None) == []


@pytest.mark.parametrize(
    "pid",
    [
        "",
        "03814100123",  # 11 digits
        "0381410012345",  # 13 digits
        "03814100123A",
        "038 141 001 234",
        "０３８１４１００１２３４",  # fullwidth digits
        "০৩৮১৪১০০১২৩৪",  # Bengali digits
    ],
)
def test_anything_but_twelve_ascii_digits_is_id_format_only(pid: str) -> None:
    assert check_personal_id(pid, PartialDate(1941), FEMALE) == ["id_format"]
    assert birth_year_of(pid) is None


@pytest.mark.parametrize(
    ("prefix", "ok"),
    [
        ("001", True),  # Hà Nội
        ("002", True),  # Hà Giang: pre-2025 codes are the ones IDs carry
        ("036", True),  # Nam Định, merged in 2025 but still an ID prefix
        ("038", True),  # Thanh Hóa
        ("096", True),  # Cà Mau
        ("003", False),  # no province 03
        ("099", False),
        ("138", False),  # first digit must be 0
    ],
)
def test_first_three_digits_are_zero_and_a_pre2025_province(prefix: str, ok: bool) -> None:
    errors = check_personal_id(f"{prefix}141001234", PartialDate(1941), FEMALE)
    assert errors == ([] if ok else ["id_province"])


def test_mask_keeps_only_the_ends() -> None:
    assert mask_personal_id("038141001234") == "038*******34"
    assert mask_personal_id("1234567") == "*******"
