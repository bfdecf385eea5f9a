"""The console's login throttle, as pure rules over one client address's record (no clock, no database).

A burst of wrong keys from one address is first slowed (each attempt after ``delay_after`` wrong keys in the
window waits ``delay_s``), then refused (after ``lockout_after`` wrong keys, every attempt, even with a right key,
is refused until the lockout ends). A successful login forgets the address. The record is kept by
:mod:`gateway.admin.console_store`, which calls these functions inside its transaction with the time now.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from gateway.settings import Settings


@dataclass(frozen=True)
class ThrottlePolicy:
    """How many wrong keys, within what window, are slowed and then locked out, and for how long."""

    delay_after: int = 5
    delay_s: float = 1.0
    lockout_after: int = 10
    window: timedelta = timedelta(minutes=15)
    lockout: timedelta = timedelta(minutes=15)

    @classmethod
    def from_settings(cls, settings: Settings) -> ThrottlePolicy:
        """The policy of ``GATEWAY_LOGIN_*``."""
        return cls(delay_after=settings.login_delay_after, delay_s=settings.login_delay_s,
                   lockout_after=settings.login_lockout_after, window=timedelta(seconds=settings.login_window_s),
                   lockout=timedelta(seconds=settings.login_lockout_s))


@dataclass(frozen=True)
class Record:
    """One address's wrong keys since ``window_start``, and the end of its lockout (if any)."""

    failures: int
    window_start: datetime
    locked_until: datetime | None = None


@dataclass(frozen=True)
class Verdict:
    """What to do with a login attempt before its key is checked: refuse it (``retry_after_s`` > 0), or check it
    after waiting ``delay_s``."""

    retry_after_s: int = 0
    delay_s: float = 0.0

    @property
    def refused(self) -> bool:
        """True during a lockout."""
        return self.retry_after_s > 0


def current(record: Record | None, now: datetime, policy: ThrottlePolicy) -> Record | None:
    """``record`` as it stands at ``now``: None once its window and its lockout are over."""
    if record is None:
        return None
    if record.locked_until is not None and record.locked_until > now:
        return record
    if record.locked_until is None and now - record.window_start < policy.window:
        return record
    return None


def verdict(record: Record | None, now: datetime, policy: ThrottlePolicy) -> Verdict:
    """Whether an attempt at ``now`` is refused (locked out) or delayed, given the address's record."""
    live = current(record, now, policy)
    if live is None:
        return Verdict()
    if live.locked_until is not None:
        return Verdict(retry_after_s=max(1, int((live.locked_until - now).total_seconds() + 0.999)))
    return Verdict(delay_s=policy.delay_s if live.failures >= policy.delay_after else 0.0)


def after_failure(record: Record | None, now: datetime, policy: ThrottlePolicy) -> Record:
    """The record once a wrong key was typed at ``now``: one more failure, locked out at ``lockout_after``."""
    live = current(record, now, policy)
    if live is not None and live.locked_until is not None:
        return live  # typed during a lockout: refused before being checked, nothing more to count
    failures = (live.failures if live else 0) + 1
    start = live.window_start if live else now
    locked_until = now + policy.lockout if failures >= policy.lockout_after else None
    return Record(failures=failures, window_start=start, locked_until=locked_until)


def stale_before(now: datetime, policy: ThrottlePolicy) -> datetime:
    """Records last written before this moment are over (window and lockout): they can be deleted."""
    return now - max(policy.window, policy.lockout)
