"""Working days and promised dates (ngày hẹn trả): Monday–Friday minus Vietnam's public holidays.

Holidays, lunar ones included, and the government's make-up working Saturdays come from the
``holidays`` package (country VN); each year's announced extra days off or make-up days can be
added by configuration (``extra_days_off``, ``extra_workdays``).
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, datetime, time, timedelta
from functools import cache

import holidays

from mappings.dates import VN_TZ

# The promised date is the end of the office day on the last working day (our reading; the
# national portal's NgayHenTra values are usually 17:00).
END_OF_OFFICE_DAY = time(17, 0)


@cache
def _calendar(year: int) -> tuple[frozenset[date], frozenset[date]]:
    vn = holidays.country_holidays("VN", years=[year])
    workdays = frozenset(d for d in getattr(vn, "weekend_workdays", set()) if d.year == year)
    return frozenset(vn.keys()), workdays


def is_working_day(day: date, *, extra_days_off: Collection[date] = (), extra_workdays: Collection[date] = ()) -> bool:
    """True when public offices work on ``day``."""
    if day in extra_workdays:
        return True
    if day in extra_days_off:
        return False
    days_off, make_up = _calendar(day.year)
    if day in make_up:
        return True
    return day.weekday() < 5 and day not in days_off


def add_working_days(
    start: datetime,
    days: int,
    *,
    extra_days_off: Collection[date] = (),
    extra_workdays: Collection[date] = (),
) -> datetime:
    """The promised date for a dossier received at ``start`` (aware) with ``days`` working days to process.

    Counting starts on the working day after reception; the result is 17:00 Vietnam time on the
    ``days``-th working day.
    """
    if start.tzinfo is None:
        raise ValueError("naive_datetime")
    day = start.astimezone(VN_TZ).date()
    counted = 0
    while counted < days:
        day += timedelta(days=1)
        if is_working_day(day, extra_days_off=extra_days_off, extra_workdays=extra_workdays):
            counted += 1
    return datetime.combine(day, END_OF_OFFICE_DAY, tzinfo=VN_TZ)
