"""A circuit breaker per target: while a peer is down, claim nothing for it, then probe with one message."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum


class CircuitState(StrEnum):
    """The breaker's state, as reported on the readiness endpoint."""

    CLOSED = "closed"  # all is well: claim freely
    OPEN = "open"  # the peer is failing: claim nothing until the cool-down ends
    HALF_OPEN = "half_open"  # cool-down over: one probe message at a time


@dataclass(frozen=True, slots=True)
class CircuitSnapshot:
    """A breaker's whole state, as :mod:`outbox.circuits` keeps it for every process (times on the breaker's
    clock; ``probe_until`` 0: nobody probes)."""

    failures: int = 0
    opened_at: float | None = None
    cool_down_s: float | None = None
    held_until: float = 0.0
    probe_owner: str | None = None
    probe_until: float = 0.0


class CircuitBreaker:
    """Opens after ``threshold`` consecutive failures; after ``cool_down_s`` lets one probe through.

    A successful probe closes it; a failed one opens it again for a longer cool-down (doubling up to
    ``max_cool_down_s``). ``hold(seconds)`` pauses claiming without counting a failure (a 429's
    Retry-After: the peer is up but asks us to wait). Its state can be saved and restored
    (:meth:`snapshot`, :meth:`restore`): that is how processes share one (``outbox.circuits``).
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
        self._probe_owner: str | None = None
        self._probe_until = 0.0

    @property
    def clock(self) -> Callable[[], float]:
        """The clock its times are on."""
        return self._clock

    @property
    def state(self) -> CircuitState:
        """The state now (an open breaker turns half-open when its cool-down is over)."""
        if self._opened_at is None:
            return CircuitState.CLOSED
        if self._clock() - self._opened_at < self._cool_down_s:
            return CircuitState.OPEN
        return CircuitState.HALF_OPEN

    @property
    def clean(self) -> bool:
        """Closed, no failure counted, no probe, no hold: a success has nothing to record."""
        return self._opened_at is None and self._failures == 0 and self._probe_until == 0.0 \
            and self._held_until <= self._clock()

    def allowance(self) -> int | None:
        """How many messages may be claimed for this target now: None = no limit, 0 = none."""
        now = self._clock()
        if now < self._held_until:
            return 0
        state = self.state
        if state is CircuitState.CLOSED:
            return None
        if state is CircuitState.OPEN or now < self._probe_until:
            return 0
        return 1

    def probe_started(self, owner: str | None = None, lease_s: float | None = None) -> None:
        """A message was claimed while half-open: it is the probe; no other until it ends (or, when
        ``lease_s`` is given, until that long has passed: its process may have died)."""
        if self.state is CircuitState.HALF_OPEN:
            self._probe_owner = owner
            self._probe_until = math.inf if lease_s is None else self._clock() + lease_s

    def record_success(self) -> None:
        """The peer answered as it should: close."""
        self._failures = 0
        self._opened_at = None
        self._cool_down_s = self.base_cool_down_s
        self._end_probe()

    def record_failure(self) -> None:
        """The peer failed (timeout, connection error, 5xx)."""
        self._failures += 1
        if self._opened_at is not None:
            if self._probe_until > 0:  # the probe failed: open again, for longer
                self._cool_down_s = min(self._cool_down_s * 2, self.max_cool_down_s)
                self._opened_at = self._clock()
            # else an attempt started before the circuit opened: it is open already
        elif self._failures >= self.threshold:
            self._opened_at = self._clock()
        self._end_probe()

    def record_neutral(self, owner: str | None = None) -> None:
        """An attempt ended without saying anything about the peer's health (e.g. a bug on our side):
        the probe it may have been is over (``owner``'s only, when given)."""
        if owner is None or self._probe_owner is None or owner == self._probe_owner:
            self._end_probe()

    def hold(self, seconds: float) -> None:
        """Claim nothing for this target for ``seconds`` (never shortens an earlier hold)."""
        self._held_until = max(self._held_until, self._clock() + seconds)

    def snapshot(self) -> CircuitSnapshot:
        """The whole state."""
        return CircuitSnapshot(self._failures, self._opened_at, self._cool_down_s, self._held_until,
                               self._probe_owner, self._probe_until)

    def restore(self, snapshot: CircuitSnapshot) -> None:
        """Take ``snapshot`` as the state (another process's word about the peer)."""
        self._failures = snapshot.failures
        self._opened_at = snapshot.opened_at
        self._cool_down_s = snapshot.cool_down_s if snapshot.cool_down_s is not None else self.base_cool_down_s
        self._held_until = snapshot.held_until
        self._probe_owner = snapshot.probe_owner
        self._probe_until = snapshot.probe_until

    def _end_probe(self) -> None:
        self._probe_owner = None
        self._probe_until = 0.0
