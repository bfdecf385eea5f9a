"""A client-side rate budget: a token bucket that makes a caller wait for its turn.

A peer that allows about N requests per second per client answers 429 past that; staying under it is
cheaper than being told. ``acquire()`` reserves the next slot and sleeps until it comes, so concurrent
callers queue in order; a wait longer than ``max_wait`` is refused at once with a RateBudgetExceeded
that says how long it would have been (or what ``exceeded`` makes of that wait: a peer's transient
error), so the caller reschedules rather than holding a worker.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable


class RateBudgetExceeded(Exception):
    """The next slot is further away than the budget lets a caller wait; ``wait`` is how far (seconds)."""

    def __init__(self, wait: float) -> None:
        super().__init__(f"client-side rate budget: next slot in {wait:.2f} s")
        self.wait = wait


class RateBudget:
    """At most ``rate_per_second`` on average, in bursts of up to ``burst``."""

    def __init__(
        self,
        rate_per_second: float,
        *,
        burst: int | None = None,
        max_wait: float = 10.0,
        exceeded: Callable[[float], BaseException] = RateBudgetExceeded,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        if rate_per_second <= 0:
            raise ValueError("rate_per_second must be positive")
        self.rate = rate_per_second
        self.burst = float(burst if burst is not None else max(1, round(rate_per_second)))
        if self.burst < 1:
            raise ValueError("burst must be at least 1")
        self.max_wait = max_wait
        self._exceeded = exceeded
        self._clock = clock
        self._sleep = sleep
        self._tokens = self.burst
        self._updated = clock()

    def reserve(self) -> float:
        """Take the next slot now; returns how long to wait for it (0: go). Raises ``exceeded(wait)``."""
        now = self._clock()
        tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
        wait = 0.0 if tokens >= 1.0 else (1.0 - tokens) / self.rate
        if wait > self.max_wait:
            raise self._exceeded(wait)
        self._tokens, self._updated = tokens - 1.0, now
        return wait

    async def acquire(self) -> None:
        """Return when one more request may go out (after sleeping for its slot, if need be)."""
        wait = self.reserve()
        if wait > 0:
            await self._sleep(wait)
