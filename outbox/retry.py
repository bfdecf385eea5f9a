"""The retry policy: capped exponential backoff with full jitter, a floor from Retry-After, and a limit."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from tenacity import RetryCallState, wait_random_exponential


@dataclass(frozen=True)
class RetryPolicy:
    """When to try a failed message again, and when to give up on it.

    The n-th retry waits a uniformly random time in ``[0, min(cap_s, base_s * 2**n)]`` (full jitter,
    so that a crowd of messages failed by one outage does not come back in lock-step), and never
    less than the peer's ``Retry-After``. After ``max_attempts`` attempts or ``max_age_s`` since the
    message was written, it goes dead.
    """

    base_s: float = 1.0
    cap_s: float = 300.0
    max_attempts: int = 25
    max_age_s: float = 3 * 24 * 3600.0
    _wait: wait_random_exponential = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_wait", wait_random_exponential(multiplier=self.base_s, max=self.cap_s))

    def backoff(self, attempts: int) -> float:
        """Seconds to wait after the ``attempts``-th failed attempt (1-based), jittered."""
        state = RetryCallState(retry_object=None, fn=None, args=(), kwargs={})  # type: ignore[arg-type]
        state.attempt_number = max(1, attempts)
        return float(self._wait(state))

    def next_attempt(
        self, *, attempts: int, created_at: datetime, now: datetime, retry_after: float | None = None
    ) -> datetime | None:
        """When to try again after a transient failure, or None to give up (the message goes dead)."""
        if attempts >= self.max_attempts:
            return None
        delay = max(self.backoff(attempts), retry_after or 0.0)
        at = now + timedelta(seconds=delay)
        if (at - created_at).total_seconds() > self.max_age_s:
            return None
        return at
