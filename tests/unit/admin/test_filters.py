"""The admin's one filter parser, the state lists derived from outbox.models.MessageState, durations shown."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import get_args

import pytest

from gateway.admin.console_routes import STATES
from gateway.admin.filters import FilterError, MessageFilter
from gateway.admin.schemas import ReplayableStateName
from gateway.admin.service import CANCELLABLE, REPLAYABLE, UNDELIVERED
from gateway.admin.timespec import format_duration
from gateway.vocabulary import MESSAGE_STATES
from outbox.models import MessageState

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
HANOI = timezone(timedelta(hours=7))


def test_a_typed_filter_is_parsed_once_for_every_caller() -> None:
    filt = MessageFilter.parse(state="dead", kind="deliver_dossier", ma_ho_so="000.00.12.H56-240115-0001",
                               since="2h", until="2026-11-23T18:00", error="timeout", naive=HANOI, now=NOW)
    assert filt == MessageFilter(state="dead", kind="deliver_dossier", key="000.00.12.H56-240115-0001",
                                 since=NOW - timedelta(hours=2), until=datetime(2026, 11, 23, 11, 0, tzinfo=UTC),
                                 error="timeout")
    assert MessageFilter.parse(state="", kind="", ma_ho_so="", since=" ", until=None, error="") == MessageFilter()
    assert MessageFilter.parse().is_empty()
    assert MessageFilter.parse(state=MessageState.DEAD).state == "dead"
    assert type(MessageFilter.parse(state=MessageState.DEAD).state) is str


def test_every_field_at_fault_is_named_at_once() -> None:
    with pytest.raises(FilterError) as caught:
        MessageFilter.parse(state="lost", since="yesterday", until="2026-13-40", kind="anything")
    assert [(e.field, e.code) for e in caught.value.errors] == [
        ("state", "invalid_state"), ("since", "invalid_time"), ("until", "invalid_time")]
    assert isinstance(caught.value, ValueError)
    [renamed] = FilterError([caught.value.errors[0]]).renamed({"state": "--state"})
    assert renamed.field == "--state" and renamed.code == "invalid_state"


def test_an_end_not_after_the_start_is_named() -> None:
    for until in ("2026-11-20", "2026-11-21"):  # before, or equal (the end is excluded: nothing could match)
        with pytest.raises(FilterError) as caught:
            MessageFilter.parse(since="2026-11-21", until=until)
        assert [(e.field, e.code) for e in caught.value.errors] == [("until", "until_not_after_since")]
    assert MessageFilter.parse(since="2026-11-21", until="2026-11-22").until is not None


def test_states_are_listed_once() -> None:
    assert set(get_args(ReplayableStateName)) == set(REPLAYABLE)
    assert {*REPLAYABLE, *CANCELLABLE, *UNDELIVERED} <= set(MESSAGE_STATES)
    assert sorted(STATES) == sorted(MESSAGE_STATES) and STATES[0] == MessageState.DEAD


@pytest.mark.parametrize(("seconds", "short", "words"), [
    (None, "none", "—"), (-5, "0s", "0 giây"), (0.4, "0s", "0 giây"), (42, "42s", "42 giây"),
    (307, "5m 07s", "5 phút 7 giây"), (3 * 3600, "3h 00m", "3 giờ"), (3725, "1h 02m", "1 giờ 2 phút"),
    (2 * 86400, "2d", "2 ngày"), (2 * 86400 + 3 * 3600 + 5, "2d 03h", "2 ngày 3 giờ"),
    (2 * 86400 + 300, "2d", "2 ngày 5 phút"),
])
def test_durations_are_formatted_by_one_function(seconds: float | None, short: str, words: str) -> None:
    assert format_duration(seconds, style="short", missing="none") == short
    assert format_duration(seconds, style="words", missing="—") == words
