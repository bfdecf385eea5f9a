"""A client-side rate budget: a token bucket that makes a caller wait for its turn.

A peer that allows about N requests per second per client answers 429 past that; staying under it is
cheaper than being told. ``acquire()`` takes the next slot and sleeps until it comes, so concurrent
callers queue in order; a wait longer than ``max_wait`` is refused at once with a RateBudgetExceeded
that says how long it would have been (or what ``exceeded`` makes of that wait: a peer's transient
error), so the caller reschedules rather than holding a worker.

The bucket's state may live anywhere a :class:`SlotStore` keeps it: in this process
(:class:`LocalSlots`), or in a database every process of a deployment shares (the gateway's
``gateway.pacing``), so that several workers together stay within one client's budget. The arithmetic
is one pure function, :func:`take`, the generic cell rate algorithm (GCRA): the whole state is the
theoretical arrival time of the next request (``tat``) and a time before which nothing may go
(``not_before``, from a peer's Retry-After). A process asks the store for as many slots as it has
callers waiting, so one trip to a shared store serves a crowd.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol


class RateBudgetExceeded(Exception):
    """The next slot is further away than the budget lets a caller wait; ``wait`` is how far (seconds)."""

    def __init__(self, wait: float) -> None:
        super().__init__(f"client-side rate budget: next slot in {wait:.2f} s")
        self.wait = wait


@dataclass(frozen=True, slots=True)
class Pace:
    """A budget's figures: ``rate`` requests per second on average, at most ``burst`` back to back."""

    rate: float
    burst: float

    def __post_init__(self) -> None:
        if self.rate <= 0:
            raise ValueError("rate must be positive")
        if self.burst < 1:
            raise ValueError("burst must be at least 1")

    @property
    def interval(self) -> float:
        """Seconds between two requests at the average rate."""
        return 1.0 / self.rate

    @property
    def tolerance(self) -> float:
        """How far ahead of its theoretical time a request may go (what makes the burst)."""
        return (self.burst - 1.0) / self.rate


@dataclass(frozen=True, slots=True)
class BucketState:
    """The shared state of one budget: seconds on the store's clock (``tat`` 0: never used)."""

    tat: float = 0.0
    not_before: float = 0.0


@dataclass(frozen=True, slots=True)
class Grant:
    """Slots given: ``waits[i]`` seconds from the store's now, ascending; ``refused`` is the wait of the
    first slot not given because it lay beyond the caller's ``max_wait`` (None when all were given)."""

    waits: tuple[float, ...]
    refused: float | None = None


def with_headroom(burst: float) -> float:
    """The burst a client should allow itself under a peer's ``burst``: a tenth (at least two) less.

    Requests paced on time still arrive with the network's and the scheduler's jitter (one sent on time
    may land just after the one sent before it); the peer's bucket, otherwise emptied by a full burst,
    then has that much room for it, so a paced client never sees a 429 once it has spent its burst.
    """
    return max(1.0, burst - max(2.0, burst / 10.0))


def take(state: BucketState, now: float, count: int, pace: Pace, max_wait: float) -> tuple[BucketState, Grant]:
    """Reserve up to ``count`` slots at ``now``: the new state, and when each slot may be used.

    Slots further than ``max_wait`` away are not reserved (the state does not move for them).
    """
    tat, waits = state.tat, list[float]()
    for _ in range(count):
        at = max(now, tat - pace.tolerance, state.not_before)
        if at - now > max_wait:
            return BucketState(tat, state.not_before), Grant(tuple(waits), refused=at - now)
        waits.append(at - now)
        tat = max(tat, at) + pace.interval
    return BucketState(tat, state.not_before), Grant(tuple(waits))


def hold(state: BucketState, now: float, seconds: float, pace: Pace) -> BucketState:
    """The peer answered "wait ``seconds``" at ``now`` (a 429's Retry-After): nothing goes before then.

    A 429 means the peer's bucket was empty at ``now``; by the end of the wait it has refilled by
    ``seconds × rate`` (at most a burst), so that many may go at once then, and the pace after.
    """
    until = now + seconds
    refilled = max(1.0, min(pace.burst, seconds * pace.rate))
    tat = until + pace.tolerance - (refilled - 1.0) * pace.interval
    return BucketState(max(state.tat, tat), max(state.not_before, until))


class SlotStore(Protocol):
    """Where a budget's :class:`BucketState` lives; each call is atomic for every process sharing it."""

    async def reserve(self, count: int, pace: Pace, max_wait: float) -> Grant:
        """:func:`take` on the stored state, saving the new one."""
        ...

    async def hold(self, seconds: float, pace: Pace) -> None:
        """:func:`hold` on the stored state, saving the new one."""
        ...


class LocalSlots:
    """A bucket for this process alone (on its monotonic clock)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self.state = BucketState()

    async def reserve(self, count: int, pace: Pace, max_wait: float) -> Grant:
        """Reserve up to ``count`` slots."""
        self.state, grant = take(self.state, self._clock(), count, pace, max_wait)
        return grant

    async def hold(self, seconds: float, pace: Pace) -> None:
        """Nothing before ``seconds`` from now."""
        self.state = hold(self.state, self._clock(), seconds, pace)


class RateBudget:
    """At most ``rate_per_second`` on average, in bursts of up to ``burst``, kept in ``store``.

    ``acquire()`` returns when one more request may go out. Callers waiting together are served by one
    reservation from the store (at most ``batch`` slots), in the order they came. When the store cannot
    be reached, the call is refused as if the wait were ``max_wait`` (it is retried later: going out
    unpaced would spend the other processes' share).
    """

    def __init__(
        self,
        rate_per_second: float,
        *,
        burst: float | None = None,
        max_wait: float = 10.0,
        exceeded: Callable[[float], BaseException] = RateBudgetExceeded,
        store: SlotStore | None = None,
        batch: int = 16,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        on_store_error: Callable[[BaseException], None] | None = None,
    ) -> None:
        self.pace = Pace(rate_per_second, float(burst if burst is not None else max(1, round(rate_per_second))))
        self.max_wait = max_wait
        self._exceeded = exceeded
        self._store: SlotStore = store if store is not None else LocalSlots(clock)
        self._batch = max(1, batch)
        self._clock = clock
        self._sleep = sleep
        self._on_store_error = on_store_error
        self._slots: deque[float] = deque()  # reserved, not used yet: deadlines on this process's clock
        self._queued = 0
        self._lock = asyncio.Lock()
        self._not_before = 0.0  # this process's own knowledge of a hold, before the store is asked again

    @property
    def rate(self) -> float:
        """Requests per second on average."""
        return self.pace.rate

    @property
    def burst(self) -> float:
        """Requests back to back at most."""
        return self.pace.burst

    async def acquire(self) -> None:
        """Return when one more request may go out (after sleeping for its slot, if need be)."""
        while True:
            deadline = await self._next_slot()
            wait = deadline - self._clock()
            if wait > 0:
                await self._sleep(wait)
            if self._clock() >= self._not_before:
                return
            # The peer asked to wait while this caller slept: its slot is void, take one after the wait.

    async def hold(self, seconds: float) -> None:
        """The peer asked to wait ``seconds``: no request of any process sharing the store before then."""
        now = self._clock()
        self._not_before = max(self._not_before, now + seconds)
        # Slots reserved before the peer spoke are void: they would go out during its wait.
        self._slots.clear()
        try:
            await self._store.hold(seconds, self.pace)
        except Exception as exc:  # the local hold still stands
            self._store_failed(exc)

    async def _next_slot(self) -> float:
        self._queued += 1
        try:
            async with self._lock:
                now = self._clock()
                held = self._not_before - now
                if held > self.max_wait:
                    raise self._exceeded(held)
                # A slot whose time passed long ago (its caller gave up) would add to a burst: dropped.
                while self._slots and self._slots[0] < now - self.pace.interval:
                    self._slots.popleft()
                if not self._slots:
                    try:
                        grant = await self._store.reserve(min(self._queued, self._batch), self.pace, self.max_wait)
                    except Exception as exc:
                        self._store_failed(exc)
                        raise self._exceeded(self.max_wait) from exc
                    if not grant.waits:
                        raise self._exceeded(grant.refused if grant.refused is not None else self.max_wait)
                    base = self._clock()
                    self._slots.extend(max(base + wait, self._not_before) for wait in grant.waits)
                return self._slots.popleft()
        finally:
            self._queued -= 1

    def _store_failed(self, exc: BaseException) -> None:
        if self._on_store_error is not None:
            self._on_store_error(exc)
