"""Dates and times as the province sends them and as the ministry wants them.

Errors: the parsers raise :class:`ValueError` whose single argument is a stable code
(``invalid_timestamp``, ``invalid_date``, ``future_date``, ``naive_datetime``), so callers
can map ``str(exc)`` straight onto a :class:`~mappings.errors.FieldError` code.

Vietnam time is the fixed offset +07:00: Vietnam has kept it without daylight saving since
1975, and a fixed offset needs no tz database on the host.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone

from mappings.model import PartialDate

VN_TZ = timezone(timedelta(hours=7))

# The earliest birth year a date may have (paper records of the very old); the personal-ID check
# reports a birth before 1900, which no ID's century digit can carry.
MIN_BIRTH_YEAR = 1800

# [0-9], not \d: \d also matches other scripts' digits (e.g. fullwidth), which int() would accept.
_TIMESTAMP = re.compile(r"[0-9]{14}")
_BIRTH_FULL = re.compile(r"([0-9]{1,2})/([0-9]{1,2})/([0-9]{4})")
_BIRTH_MONTH = re.compile(r"([0-9]{1,2})/([0-9]{4})")
_BIRTH_YEAR = re.compile(r"[0-9]{4}")


def parse_timestamp(s: str) -> datetime:
    """Parse ``yyyyMMddHHmmss`` (Vietnam time) into an aware datetime at +07:00.

    Raises ``ValueError("invalid_timestamp")`` for another shape or an unreal moment.
    """
    if not _TIMESTAMP.fullmatch(s):
        raise ValueError("invalid_timestamp")
    try:
        return datetime(
            int(s[0:4]), int(s[4:6]), int(s[6:8]), int(s[8:10]), int(s[10:12]), int(s[12:14]), tzinfo=VN_TZ
        )
    except ValueError:
        raise ValueError("invalid_timestamp") from None


def _vn(dt: datetime) -> datetime:
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError("naive_datetime")
    return dt.astimezone(VN_TZ)


def format_timestamp(dt: datetime) -> str:
    """Format an aware datetime as ``yyyyMMddHHmmss`` in Vietnam time.

    Raises ``ValueError("naive_datetime")`` for a naive datetime (its zone would be a guess).
    """
    return _vn(dt).strftime("%Y%m%d%H%M%S")


def to_iso(dt: datetime) -> str:
    """ISO 8601 in Vietnam time with its offset, to the second, e.g. ``2024-01-15T08:30:00+07:00``.

    Raises ``ValueError("naive_datetime")`` for a naive datetime.
    """
    return _vn(dt).isoformat(timespec="seconds")


def from_iso(s: str) -> datetime:
    """Parse an ISO 8601 datetime with offset into an aware datetime at +07:00.

    Raises ``ValueError("invalid_timestamp")`` for text that is not ISO 8601 and
    ``ValueError("naive_datetime")`` when the text has no offset.
    """
    try:
        parsed = datetime.fromisoformat(s)
    except (TypeError, ValueError):
        raise ValueError("invalid_timestamp") from None
    return _vn(parsed)


def today_vn() -> date:
    """Today's date in Vietnam (the default ``today`` of the validators)."""
    return datetime.now(VN_TZ).date()


def parse_birth_date(s: str, today: date | None = None) -> PartialDate:
    """Parse ``dd/MM/yyyy``, ``MM/yyyy`` or ``yyyy`` (paper records may lack day or month).

    Day and month may have one or two digits. Raises ``ValueError("invalid_date")`` for another
    shape, an unreal date (31/02/1941, month 13) or a year before 1800, and
    ``ValueError("future_date")`` when the earliest day the value can denote is after ``today``
    (default: today in Vietnam).
    """
    text = s.strip()
    day: int | None = None
    month: int | None = None
    if m := _BIRTH_FULL.fullmatch(text):
        day, month, year = int(m[1]), int(m[2]), int(m[3])
    elif m := _BIRTH_MONTH.fullmatch(text):
        month, year = int(m[1]), int(m[2])
    elif _BIRTH_YEAR.fullmatch(text):
        year = int(text)
    else:
        raise ValueError("invalid_date")
    if year < MIN_BIRTH_YEAR:
        raise ValueError("invalid_date")
    try:
        earliest = earliest_day(PartialDate(year=year, month=month, day=day))
    except ValueError:
        raise ValueError("invalid_date") from None
    if earliest > (today or today_vn()):
        raise ValueError("future_date")
    return PartialDate(year=year, month=month, day=day)


def parse_date(s: str, today: date | None = None) -> date:
    """Parse a whole date ``dd/MM/yyyy`` (a death, a registration): day and month one or two digits.

    Raises ``ValueError("invalid_date")`` for another shape (a partial date included), an unreal date or
    a year before 1800, and ``ValueError("future_date")`` for a day after ``today`` (default: today in
    Vietnam).
    """
    m = _BIRTH_FULL.fullmatch(s.strip())
    if m is None or int(m[3]) < MIN_BIRTH_YEAR:
        raise ValueError("invalid_date")
    try:
        day = date(int(m[3]), int(m[2]), int(m[1]))
    except ValueError:
        raise ValueError("invalid_date") from None
    if day > (today or today_vn()):
        raise ValueError("future_date")
    return day


def earliest_day(d: PartialDate) -> date:
    """The first day a partial date can denote (``1941`` → 1 January 1941); ValueError if unreal."""
    # Explicit None tests: ``month or 1`` would turn a month or day 0 into a real one.
    return date(d.year, 1 if d.month is None else d.month, 1 if d.day is None else d.day)


def format_birth_date(d: PartialDate) -> str:
    """The province's spelling of a partial date: ``dd/MM/yyyy``, ``MM/yyyy`` or ``yyyy``."""
    if d.month is None:
        return f"{d.year:04d}"
    if d.day is None:
        return f"{d.month:02d}/{d.year:04d}"
    return f"{d.day:02d}/{d.month:02d}/{d.year:04d}"
