"""Durations (``30d``, ``2h``) and moments (ISO dates and times, or a duration ago) typed by administrators."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from outbox.columns import utcnow

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|min|h|d|w)\s*$", re.IGNORECASE)
_UNITS = {"s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_duration(text: str) -> timedelta:
    """``90s``, ``15m``, ``2h``, ``7d``, ``2w`` (a number and a unit); ValueError otherwise."""
    found = _DURATION.match(text)
    if found is None:
        raise ValueError(f"not a duration: {text!r} (expected e.g. 30m, 2h, 7d)")
    return timedelta(seconds=float(found.group(1)) * _UNITS[found.group(2).lower()])


def local_zone() -> tzinfo:
    """The time zone of the machine this runs on (what an operator at its terminal means)."""
    zone = datetime.now().astimezone().tzinfo
    return zone if zone is not None else UTC


def parse_moment(text: str, *, naive: tzinfo = UTC, now: datetime | None = None) -> datetime:
    """An aware UTC datetime from ``2h`` / ``7d`` (that long ago), an ISO date (its midnight) or an ISO
    date-time; a date or time without an offset is read in the zone ``naive``. ValueError otherwise."""
    value = text.strip()
    try:
        return (now or utcnow()) - parse_duration(value)
    except ValueError:
        pass
    try:
        if len(value) == 10:
            moment = datetime.combine(date.fromisoformat(value), time())
        else:
            moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(f"not a date, time or duration: {text!r} (expected e.g. 2026-01-31, "
                         "2026-01-31T08:00+07:00, 2h or 7d)") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=naive)
    return moment.astimezone(UTC)
