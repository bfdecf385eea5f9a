"""The retry policy: capped exponential backoff with full jitter, a floor from Retry-After, and a limit."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from tenacity import RetryCallState, wait_random_exponential


@dataclass(frozen=True)
class RetryPolicy:
    """When to try a failed message again, and when to give up on it.

    The first ``quick_attempts`` retries wait a random time in ``[quick_s / 2, quick_s]``: a healthy
    peer's random failure (a lost answer, a 500 once in a while) is retried at once, because it costs the
    officer waiting and nothing else; a peer really down opens its circuit breaker, which then holds
    every message back, not each message's backoff. The retries after those wait a uniformly random time
    in ``[0, min(cap_s, base_s * 2**n)]`` (full jitter, so that a crowd of messages failed by one outage
    does not come back in lock-step; n counts from the first slow retry). Never less than the peer's
    ``Retry-After``. After ``max_attempts`` attempts or ``max_age_s`` since the message was written, it
    goes dead.
    """

    base_s: float = 1.0
    cap_s: float = 300.0
    max_attempts: int = 25
    max_age_s: float = 3 * 24 * 3600.0
    quick_attempts: int = 0
    quick_s: float = 1.0
    _wait: wait_random_exponential = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_wait", wait_random_exponential(multiplier=self.base_s, max=self.cap_s))

    def backoff(self, attempts: int) -> float:
        """Seconds to wait after the ``attempts``-th failed attempt (1-based), jittered."""
        if attempts <= self.quick_attempts:
            return random.uniform(self.quick_s / 2, self.quick_s)  # noqa: S311 (jitter, not a secret)
        state = RetryCallState(retry_object=None, fn=None, args=(), kwargs={})  # type: ignore[arg-type]
        state.attempt_number = max(1, attempts - self.quick_attempts)
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
