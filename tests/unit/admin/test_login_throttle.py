"""The login throttle's rules over one address's record, with the clock given: slowed, then locked out, then free."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from gateway.admin.login_throttle import Record, ThrottlePolicy, after_failure, current, stale_before, verdict

POLICY = ThrottlePolicy(delay_after=3, delay_s=0.5, lockout_after=5, window=timedelta(minutes=10),
                        lockout=timedelta(minutes=15))
T0 = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)


def _fail(times: int, start: datetime = T0, step: timedelta = timedelta(seconds=1)) -> tuple[Record, datetime]:
    record: Record | None = None
    now = start
    for i in range(times):
        now = start + i * step
        record = after_failure(record, now, POLICY)
    assert record is not None
    return record, now


def test_an_unknown_address_is_neither_slowed_nor_refused() -> None:
    assert verdict(None, T0, POLICY).delay_s == 0
    assert not verdict(None, T0, POLICY).refused


def test_after_the_delay_threshold_every_attempt_waits() -> None:
    record, now = _fail(2)
    assert verdict(record, now, POLICY).delay_s == 0
    record, now = _fail(3)
    assert verdict(record, now, POLICY).delay_s == 0.5
    assert not verdict(record, now, POLICY).refused


def test_at_the_lockout_threshold_every_attempt_is_refused_until_it_ends() -> None:
    record, now = _fail(5)
    assert record.locked_until == now + timedelta(minutes=15)
    refused = verdict(record, now + timedelta(seconds=10), POLICY)
    assert refused.refused
    assert refused.retry_after_s == 15 * 60 - 10
    # A wrong key during the lockout neither extends nor changes it.
    assert after_failure(record, now + timedelta(minutes=1), POLICY) == record
    free = now + timedelta(minutes=15, seconds=1)
    assert current(record, free, POLICY) is None
    assert not verdict(record, free, POLICY).refused
    assert verdict(record, free, POLICY).delay_s == 0
    assert after_failure(record, free, POLICY) == Record(failures=1, window_start=free)


def test_failures_spread_beyond_the_window_start_a_new_count() -> None:
    record, _ = _fail(4, step=timedelta(minutes=2))  # the 4th is 6 minutes after the 1st: still one window
    assert record.failures == 4
    later = T0 + timedelta(minutes=10, seconds=1)
    assert verdict(record, later, POLICY).delay_s == 0
    assert after_failure(record, later, POLICY) == Record(failures=1, window_start=later)


def test_records_older_than_window_and_lockout_are_stale() -> None:
    assert stale_before(T0, POLICY) == T0 - timedelta(minutes=15)
