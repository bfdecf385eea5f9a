"""Durations and moments typed by administrators (``--since 2h``, ``since=2026-01-31``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from gateway.admin.timespec import parse_duration, parse_moment

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
HANOI = timezone(timedelta(hours=7))


@pytest.mark.parametrize(("text", "expected"), [
    ("90s", timedelta(seconds=90)), ("15m", timedelta(minutes=15)), ("15min", timedelta(minutes=15)),
    ("2h", timedelta(hours=2)), (" 7d ", timedelta(days=7)), ("2W", timedelta(weeks=2)),
    ("1.5h", timedelta(minutes=90)),
])
def test_durations(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "2", "h", "-2h", "2 hours", "2y"])
def test_not_durations(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


def test_moments() -> None:
    assert parse_moment("2h", now=NOW) == NOW - timedelta(hours=2)
    assert parse_moment("2026-11-20") == datetime(2026, 11, 20, tzinfo=UTC)
    assert parse_moment("2026-11-20", naive=HANOI) == datetime(2026, 11, 19, 17, tzinfo=UTC)
    assert parse_moment("2026-11-20T08:30", naive=HANOI) == datetime(2026, 11, 20, 1, 30, tzinfo=UTC)
    assert parse_moment("2026-11-20T08:30+07:00") == datetime(2026, 11, 20, 1, 30, tzinfo=UTC)
    assert parse_moment("2026-11-20T01:30:00Z", naive=HANOI) == datetime(2026, 11, 20, 1, 30, tzinfo=UTC)
    for bad in ("yesterday", "2026-13-01", "20/11/2026"):
        with pytest.raises(ValueError, match="not a date"):
            parse_moment(bad)
