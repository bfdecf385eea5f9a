"""Durations (``30d``, ``2h``) and moments (ISO dates and times, or a duration ago) typed by administrators,
and durations shown to them (:func:`format_duration`)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Literal

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


_WORDS = ("ngày", "giờ", "phút", "giây")


def format_duration(seconds: float | None, *, style: Literal["short", "words"] = "short",
                    missing: str = "none") -> str:
    """A duration for people, to its two largest units; ``missing`` for None, 0 below zero.

    ``short`` (the CLI): ``3h 00m``, ``2d 03h``, ``2d``, ``5m 07s``, ``42s``.
    ``words`` (the console, Vietnamese): the two largest units that are not zero, ``2 giờ 5 phút``, ``0 giây``.
    """
    if seconds is None:
        return missing
    days, rest = divmod(int(max(0.0, seconds)), 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if style == "words":
        shown = [f"{n} {unit}" for n, unit in zip((days, hours, minutes, secs), _WORDS, strict=True) if n][:2]
        return " ".join(shown) if shown else f"0 {_WORDS[-1]}"
    if days:
        return f"{days}d {hours:02d}h" if hours else f"{days}d"
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m {secs:02d}s" if minutes else f"{secs}s"
