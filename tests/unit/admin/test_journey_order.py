"""The timeline's order and the days overdue."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from gateway.admin.journey import TimelineEntry, days_overdue, ordered

T0 = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)


def entry(minutes: int, kind: str, source: str = "dossier") -> TimelineEntry:
    return TimelineEntry(at=T0 + timedelta(minutes=minutes), source=source, kind=kind, title=kind)  # type: ignore[arg-type]


def test_entries_go_by_time_and_those_at_one_moment_keep_their_given_order() -> None:
    given = [entry(5, "ministry_status"), entry(0, "received"), entry(1, "deliver_dossier", "message"),
             entry(1, "deliver_dossier", "attempt"), entry(3, "delivered"), entry(1, "identity_check", "identity")]
    assert [(e.kind, e.source) for e in ordered(given)] == [
        ("received", "dossier"), ("deliver_dossier", "message"), ("deliver_dossier", "attempt"),
        ("identity_check", "identity"), ("delivered", "dossier"), ("ministry_status", "dossier")]


def test_days_overdue_are_whole_calendar_days_since_the_promised_date() -> None:
    assert days_overdue(T0, T0 + timedelta(hours=23)) == 0
    assert days_overdue(T0, T0 + timedelta(days=3, hours=1)) == 3
    assert days_overdue(T0, T0 - timedelta(days=1)) == 0
