"""Working days and promised dates: weekends, lunar holidays, make-up Saturdays, configured extra days."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from mappings.calendar import add_working_days, is_working_day
from mappings.dates import VN_TZ, parse_timestamp


@pytest.mark.parametrize(
    ("day", "working"),
    [
        (date(2024, 1, 15), True),  # Monday
        (date(2024, 1, 13), False),  # Saturday
        (date(2024, 2, 12), False),  # Tết 2024, a Monday
        (date(2024, 4, 18), False),  # Hùng Kings' day (lunar 10/3)
        (date(2024, 5, 4), True),  # Saturday worked in exchange for 29/04/2024
        (date(2024, 4, 29), False),
        (date(2024, 9, 3), False),
    ],
)
def test_working_days_follow_the_official_calendar(day: date, working: bool) -> None:
    assert is_working_day(day) is working


def test_configured_extra_days_off_and_workdays_override_the_package() -> None:
    assert not is_working_day(date(2024, 1, 16), extra_days_off={date(2024, 1, 16)})
    assert is_working_day(date(2024, 1, 13), extra_workdays={date(2024, 1, 13)})


def test_promised_date_counts_working_days_from_the_day_after_reception() -> None:
    received = parse_timestamp("20240115083000")  # Monday
    assert add_working_days(received, 1) == datetime(2024, 1, 16, 17, 0, tzinfo=VN_TZ)
    assert add_working_days(received, 5) == datetime(2024, 1, 22, 17, 0, tzinfo=VN_TZ)  # over a weekend
    # Over Tết 2024 (8–14/02): 22 working days land on Wednesday 21/02.
    assert add_working_days(received, 22) == datetime(2024, 2, 21, 17, 0, tzinfo=VN_TZ)


def test_reception_late_in_the_evening_counts_in_vietnam_time() -> None:
    # 23:30 +07:00 on Friday is 16:30 UTC: still Friday in Vietnam.
    received = parse_timestamp("20240119233000")
    assert add_working_days(received, 1) == datetime(2024, 1, 22, 17, 0, tzinfo=VN_TZ)


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="naive_datetime"):
        add_working_days(datetime(2024, 1, 15, 8, 30), 3)
