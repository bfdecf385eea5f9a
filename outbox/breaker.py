"""A circuit breaker per target: while a peer is down, claim nothing for it, then probe with one message."""

from __future__ import annotations

import time
from collections.abc import Callable
from enum import StrEnum


class CircuitState(StrEnum):
    """The breaker's state, as reported on the readiness endpoint."""

    CLOSED = "closed"  # all is well: claim freely
    OPEN = "open"  # the peer is failing: claim nothing until the cool-down ends
    HALF_OPEN = "half_open"  # cool-down over: one probe message at a time


class CircuitBreaker:
    """Opens after ``threshold`` consecutive failures; after ``cool_down_s`` lets one probe through.

    A successful probe closes it; a failed one opens it again for a longer cool-down (doubling up to
    ``max_cool_down_s``). ``hold(seconds)`` pauses claiming without counting a failure (a 429's
    Retry-After: the peer is up but asks us to wait).
    """

    def __init__(
        self,
        *,
        threshold: int = 5,
        cool_down_s: float = 5.0,
        max_cool_down_s: float = 120.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.threshold = threshold
        self.base_cool_down_s = cool_down_s
        self.max_cool_down_s = max_cool_down_s
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._cool_down_s = cool_down_s
        self._held_until = 0.0
        self._probing = False

    @property
    def state(self) -> CircuitState:
        """The state now (an open breaker turns half-open when its cool-down is over)."""
        if self._opened_at is None:
            return CircuitState.CLOSED
        if self._clock() - self._opened_at < self._cool_down_s:
            return CircuitState.OPEN
        return CircuitState.HALF_OPEN

    def allowance(self) -> int | None:
        """How many messages may be claimed for this target now: None = no limit, 0 = none."""
        if self._clock() < self._held_until:
            return 0
        state = self.state
        if state is CircuitState.CLOSED:
            return None
        if state is CircuitState.OPEN or self._probing:
            return 0
        return 1

    def probe_started(self) -> None:
        """A message was claimed while half-open: it is the probe; no other until it ends."""
        if self.state is CircuitState.HALF_OPEN:
            self._probing = True

    def record_success(self) -> None:
        """The peer answered as it should: close."""
        self._failures = 0
        self._opened_at = None
        self._cool_down_s = self.base_cool_down_s
        self._probing = False

    def record_failure(self) -> None:
        """The peer failed (timeout, connection error, 5xx)."""
        self._failures += 1
        if self._opened_at is not None:  # a failed probe: open again, for longer
            self._cool_down_s = min(self._cool_down_s * 2, self.max_cool_down_s)
            self._opened_at = self._clock()
        elif self._failures >= self.threshold:
            self._opened_at = self._clock()
        self._probing = False

    def record_neutral(self) -> None:
        """An attempt ended without saying anything about the peer's health (e.g. a bug on our side)."""
        self._probing = False

    def hold(self, seconds: float) -> None:
        """Claim nothing for this target for ``seconds`` (never shortens an earlier hold)."""
        self._held_until = max(self._held_until, self._clock() + seconds)
