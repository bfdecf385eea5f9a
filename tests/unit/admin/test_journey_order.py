"""The timeline's order, the days overdue, the names of what it shows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from gateway.admin.journey import TimelineEntry, days_overdue, ordered
from gateway.admin.reasons import labels
from gateway.models import DeliveryState
from gateway.vocabulary import DossierEventKind, IdentityAction

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


def test_every_event_kind_delivery_state_and_identity_action_has_its_console_name() -> None:
    assert set(labels("dossier_events")) == {k.value for k in DossierEventKind}
    assert set(labels("delivery_states")) == {v for k, v in vars(DeliveryState).items() if k.isupper()}
    assert set(labels("identity_actions")) == {a.value for a in IdentityAction}


def test_an_entry_placed_by_sort_at_keeps_its_own_time() -> None:
    delivered = TimelineEntry(at=T0, source="dossier", kind="delivered", title="", clock="ministry",
                              sortAt=T0 + timedelta(milliseconds=401))
    attempt = TimelineEntry(at=T0 + timedelta(milliseconds=400), source="attempt", kind="deliver_dossier", title="")
    callback = TimelineEntry(at=T0 + timedelta(milliseconds=500), source="message", kind="province_callback", title="")
    assert [e.kind for e in ordered([callback, delivered, attempt])] == ["deliver_dossier", "delivered",
                                                                          "province_callback"]
    assert delivered.at == T0 and "sortAt" not in delivered.model_dump()


def test_the_ministrys_whole_second_stamps_never_precede_the_attempt_that_delivered() -> None:
    from gateway.admin.journey import _after_their_attempts
    from gateway.admin.schemas import AttemptInfo, MessageDetail

    start = T0 + timedelta(milliseconds=400)
    message = MessageDetail(
        id=1, kind="deliver_dossier", key="k", state="done", attempts=1, nextAttemptAt=None, lastError=None,
        createdAt=T0, updatedAt=T0, finishedAt=T0, payload={"revision": 1}, lastErrorDetail=None, leaseOwner=None,
        attemptsLog=[AttemptInfo(attempt=1, startedAt=start, durationMs=5, outcome="done", errorClass=None,
                                 error=None, httpStatus=None, detail=None, worker="w")])
    delivered = TimelineEntry(at=T0, source="dossier", kind="delivered", title="", revision=1, clock="ministry")
    status = TimelineEntry(at=T0, source="dossier", kind="ministry_status", title="", clock="ministry")
    attempt = TimelineEntry(at=start, source="attempt", kind="deliver_dossier", title="")
    placed = _after_their_attempts([delivered, status], [message])
    assert [e.kind for e in ordered([*placed, attempt])] == ["deliver_dossier", "delivered", "ministry_status"]
    assert [e.at for e in placed] == [T0, T0]  # shown at the ministry's own time
