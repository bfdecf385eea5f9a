"""Province timestamps (yyyyMMddHHmmss, Vietnam time), birth dates (dd/MM/yyyy and partial), ISO out."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from mappings.dates import (
    VN_TZ,
    format_birth_date,
    format_timestamp,
    from_iso,
    parse_birth_date,
    parse_timestamp,
    to_iso,
)
from mappings.model import PartialDate

TODAY = date(2024, 6, 1)


def test_timestamp_is_vietnam_time() -> None:
    parsed = parse_timestamp("20240115083000")
    assert parsed == datetime(2024, 1, 15, 8, 30, tzinfo=timezone(timedelta(hours=7)))
    assert parsed.utcoffset() == timedelta(hours=7)
    assert parsed.astimezone(UTC) == datetime(2024, 1, 15, 1, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "2024011508300",  # 13 digits
        "202401150830000",  # 15 digits
        "2024-01-15T08:30:00",
        "20240231083000",  # 31 February
        "20241301083000",  # month 13
        "20240115243000",  # hour 24
        "20240115086000",  # minute 60
        "２０２４０１１５０８３０００",  # fullwidth digits
    ],
)
def test_timestamp_refuses_other_shapes_and_unreal_moments(text: str) -> None:
    with pytest.raises(ValueError, match=r"^invalid_timestamp$"):
        parse_timestamp(text)


def test_timestamp_round_trip_and_conversion_from_other_zones() -> None:
    assert format_timestamp(parse_timestamp("20240115083000")) == "20240115083000"
    utc = datetime(2024, 1, 15, 1, 30, tzinfo=UTC)
    assert format_timestamp(utc) == "20240115083000"
    with pytest.raises(ValueError, match=r"^naive_datetime$"):
        format_timestamp(datetime(2024, 1, 15, 8, 30))


def test_iso_output_is_the_ministry_spelling() -> None:
    assert to_iso(parse_timestamp("20240115083000")) == "2024-01-15T08:30:00+07:00"
    assert to_iso(datetime(2024, 1, 15, 1, 30, tzinfo=UTC)) == "2024-01-15T08:30:00+07:00"
    assert to_iso(datetime(2024, 1, 15, 8, 30, 0, 123456, tzinfo=VN_TZ)) == "2024-01-15T08:30:00+07:00"
    with pytest.raises(ValueError, match=r"^naive_datetime$"):
        to_iso(datetime(2024, 1, 15, 8, 30))


def test_iso_input() -> None:
    assert from_iso("2024-01-15T01:30:00+00:00") == parse_timestamp("20240115083000")
    assert from_iso("2024-01-15T08:30:00+07:00").utcoffset() == timedelta(hours=7)
    with pytest.raises(ValueError, match=r"^naive_datetime$"):
        from_iso("2024-01-15T08:30:00")
    with pytest.raises(ValueError, match=r"^invalid_timestamp$"):
        from_iso("15/01/2024")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("02/03/1941", PartialDate(1941, 3, 2)),
        ("2/3/1941", PartialDate(1941, 3, 2)),
        (" 02/03/1941 ", PartialDate(1941, 3, 2)),
        ("29/02/2000", PartialDate(2000, 2, 29)),  # leap year
        ("31/12/1899", PartialDate(1899, 12, 31)),
        ("03/1941", PartialDate(1941, 3)),  # paper record without the day
        ("3/1941", PartialDate(1941, 3)),
        ("1941", PartialDate(1941)),  # paper record with the year only
        ("01/06/2024", PartialDate(2024, 6, 1)),  # today
        ("06/2024", PartialDate(2024, 6)),  # this month
        ("2024", PartialDate(2024)),  # this year
    ],
)
def test_birth_date_accepts_full_and_partial_dates(text: str, expected: PartialDate) -> None:
    assert parse_birth_date(text, TODAY) == expected


@pytest.mark.parametrize(
    "text",
    [
        "31/02/1941",
        "29/02/1941",  # not a leap year
        "31/04/1941",
        "00/03/1941",
        "02/00/1941",
        "00/00/1941",
        "00/1941",
        "13/1941",
        "02/13/1941",
        "1941-03-02",
        "02-03-1941",
        "02/03/41",
        "1799",  # before the ID table reaches
        "",
        "abc",
        "٠٢/٠٣/١٩٤١",  # Arabic-Indic digits
    ],
)
def test_birth_date_refuses_unreal_dates_and_other_shapes(text: str) -> None:
    with pytest.raises(ValueError, match=r"^invalid_date$"):
        parse_birth_date(text, TODAY)


@pytest.mark.parametrize("text", ["02/06/2024", "07/2024", "2025"])
def test_birth_date_in_the_future_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"^future_date$"):
        parse_birth_date(text, TODAY)


def test_birth_date_default_today_is_vietnam_today() -> None:
    with pytest.raises(ValueError, match=r"^future_date$"):
        parse_birth_date(str(datetime.now(VN_TZ).year + 1))


@pytest.mark.parametrize(
    ("value", "text", "iso"),
    [
        (PartialDate(1941, 3, 2), "02/03/1941", "1941-03-02"),
        (PartialDate(1941, 3), "03/1941", "1941-03"),
        (PartialDate(1941), "1941", "1941"),
    ],
)
def test_partial_date_spellings(value: PartialDate, text: str, iso: str) -> None:
    assert format_birth_date(value) == text
    assert value.iso() == iso
    assert value.is_complete is (value.day is not None)
