"""When an alert goes out: one per kind and target per repeat window, resolutions told once, dead ones counted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from gateway.alerts import rules
from gateway.models import AlertStateRow
from gateway.vocabulary import AlertKind, AlertState

T0 = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)
REPEAT = 3600.0


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def row(kind: AlertKind, target: str) -> AlertStateRow:
    return AlertStateRow(kind=kind.value, target=target, unsent=0)


def outage(state: AlertStateRow, seconds: float, *, holding: bool, since: float | None = 0.0) -> rules.Alert | None:
    return rules.observe(state, AlertKind.PEER_OUTAGE, holding=holding, now=at(seconds),
                         since=None if since is None else at(since), threshold_s=600, repeat_s=REPEAT, detail={})


def test_an_outage_fires_once_past_its_threshold_then_resolves_once() -> None:
    state = row(AlertKind.PEER_OUTAGE, "ministry")
    assert outage(state, 10, holding=True) is None
    assert outage(state, 599, holding=True) is None
    fired = outage(state, 601, holding=True)
    assert fired is not None and fired.state is AlertState.FIRING and fired.started_at == at(0)
    assert outage(state, 700, holding=True) is None  # still open: grouped
    resolved = outage(state, 800, holding=False)
    assert resolved is not None and resolved.state is AlertState.RESOLVED and resolved.started_at == at(601)
    assert outage(state, 900, holding=False) is None


def test_an_outage_counts_from_when_it_was_first_seen_not_from_the_circuits_latest_reopening() -> None:
    state = row(AlertKind.PEER_OUTAGE, "ministry")
    assert outage(state, 0, holding=True, since=0) is None
    # a failed probe re-opens the circuit: its opened_at moves on, the outage does not start again
    assert outage(state, 400, holding=True, since=390) is None
    assert outage(state, 610, holding=True, since=605) is not None


def test_a_long_outage_is_reminded_once_per_repeat_window() -> None:
    state = row(AlertKind.PEER_OUTAGE, "ministry")
    assert outage(state, 601, holding=True) is not None
    assert outage(state, 601 + REPEAT - 1, holding=True) is None
    reminder = outage(state, 601 + REPEAT, holding=True)
    assert reminder is not None and reminder.state is AlertState.FIRING


def test_a_short_outage_raises_nothing_and_a_flapping_one_is_grouped() -> None:
    state = row(AlertKind.PEER_OUTAGE, "ministry")
    assert outage(state, 0, holding=True) is None
    assert outage(state, 300, holding=False) is None  # back before the threshold: nothing to tell
    assert outage(state, 400, holding=True, since=400) is None
    assert outage(state, 1001, holding=True, since=400) is not None
    assert outage(state, 1100, holding=False) is not None  # resolved
    assert outage(state, 1200, holding=True, since=1200) is None
    assert outage(state, 1900, holding=True, since=1200) is None  # past the threshold, within the window
    assert outage(state, 1101 + REPEAT, holding=True, since=1200) is not None


def test_dead_messages_alert_at_once_then_are_counted_into_the_next_alert() -> None:
    state = row(AlertKind.MESSAGE_DEAD, "deliver_dossier")
    first = rules.dead_seen(state, at(0), REPEAT, {"last_error": "a"})
    assert first is not None and first.count == 1 and first.detail == {"last_error": "a"}
    assert rules.dead_seen(state, at(10), REPEAT, {"last_error": "b"}) is None
    assert rules.dead_seen(state, at(20), REPEAT, {"last_error": "c"}) is None
    assert rules.flush_dead(state, at(30), REPEAT) is None  # the window has not passed
    grouped = rules.flush_dead(state, at(REPEAT), REPEAT)
    assert grouped is not None and grouped.count == 2 and grouped.started_at == at(10)
    assert grouped.detail == {"last_error": "c"}
    assert rules.flush_dead(state, at(2 * REPEAT + 1), REPEAT) is None  # nothing counted since


def test_backlog_fires_when_it_holds_and_resolves() -> None:
    state = row(AlertKind.BACKLOG, "outbox")
    fired = rules.observe(state, AlertKind.BACKLOG, holding=True, now=at(0), since=None, threshold_s=0,
                          repeat_s=REPEAT, detail={"oldest_undelivered_age_s": 4000})
    assert fired is not None and fired.state is AlertState.FIRING
    resolved = rules.observe(state, AlertKind.BACKLOG, holding=False, now=at(60), since=None, threshold_s=0,
                             repeat_s=REPEAT, detail={})
    assert resolved is not None and resolved.state is AlertState.RESOLVED
