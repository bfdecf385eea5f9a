"""The rate budget's arithmetic (GCRA) and its waiting callers: what the peer sees is never over its limit."""

from __future__ import annotations

import asyncio
import math
from typing import ClassVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.common.ratebudget import (
    BucketState,
    Grant,
    LocalSlots,
    Pace,
    RateBudget,
    RateBudgetExceeded,
    hold,
    take,
    with_headroom,
)


def most_in_a_window(times: list[float], window: float) -> int:
    """The largest number of ``times`` in any closed interval of length ``window``."""
    times = sorted(times)
    best, start = 0, 0
    for end, at in enumerate(times):
        while times[start] < at - window - 1e-9:
            start += 1
        best = max(best, end - start + 1)
    return best


@settings(max_examples=200, deadline=None)
@given(rate=st.sampled_from([1.0, 5.0, 20.0]), burst=st.integers(1, 40),
       asks=st.lists(st.tuples(st.floats(0, 3), st.integers(1, 12)), min_size=1, max_size=40),
       holds=st.lists(st.tuples(st.floats(0, 3), st.floats(0.1, 2)), max_size=3))
def test_slots_never_exceed_burst_plus_rate_in_any_window(rate: float, burst: int,
                                                          asks: list[tuple[float, int]],
                                                          holds: list[tuple[float, float]]) -> None:
    pace = Pace(rate, float(burst))
    state, now, sent = BucketState(), 0.0, []
    events = sorted([(gap, "ask", n) for gap, n in asks] + [(gap, "hold", s) for gap, s in holds])
    for gap, what, value in events:
        now = max(now, gap)
        if what == "hold":
            state = hold(state, now, value, pace)  # binds the slots reserved after it
            continue
        before = state
        state, grant = take(state, now, int(value), pace, max_wait=5.0)
        assert all(now + wait >= before.not_before - 1e-9 for wait in grant.waits)
        sent += [now + wait for wait in grant.waits]
    for window in (0.5, 1.0, 2.5):
        assert most_in_a_window(sent, window) <= burst + math.floor(window * rate + 1e-9)


def test_a_burst_then_the_average_rate() -> None:
    pace = Pace(10.0, 3.0)
    state, grant = take(BucketState(), 100.0, 6, pace, max_wait=1.0)
    assert grant == Grant((0.0, 0.0, 0.0, pytest.approx(0.1), pytest.approx(0.2), pytest.approx(0.3)))
    _state, refused = take(state, 100.0, 10, pace, max_wait=0.45)
    assert refused.waits == (pytest.approx(0.4),) and refused.refused == pytest.approx(0.5)


def test_after_a_retry_after_nothing_goes_before_its_end_then_what_the_peer_refilled() -> None:
    pace = Pace(20.0, 40.0)
    state, _ = take(BucketState(), 0.0, 40, pace, max_wait=10.0)  # the burst spent
    state = hold(state, 0.5, 1.0, pace)  # "429, Retry-After: 1" at 0.5 s
    _, grant = take(state, 0.6, 25, pace, max_wait=10.0)
    sent = [0.6 + wait for wait in grant.waits]
    assert min(sent) == pytest.approx(1.5)
    assert sum(1 for at in sent if at <= 1.5 + 1e-9) == 20  # one second's refill at once, then paced
    assert sent[20] == pytest.approx(1.55)


def test_the_headroom_is_a_tenth_and_at_least_two() -> None:
    assert (with_headroom(40), with_headroom(10), with_headroom(2), with_headroom(1)) == (36.0, 8.0, 1.0, 1.0)


async def test_callers_waiting_together_are_served_by_one_reservation_in_order() -> None:
    class Counting(LocalSlots):
        calls: ClassVar[list[int]] = []

        async def reserve(self, count: int, pace: Pace, max_wait: float) -> Grant:
            self.calls.append(count)
            await asyncio.sleep(0.01)  # a trip to the database
            return await super().reserve(count, pace, max_wait)

    store = Counting()
    budget = RateBudget(1000.0, burst=1000, store=store)
    order: list[int] = []

    async def call(n: int) -> None:
        await budget.acquire()
        order.append(n)

    await asyncio.gather(*(call(n) for n in range(10)))
    assert order == list(range(10))
    assert store.calls == [1, 9]  # the first asks alone; the nine that queued meanwhile share one trip


async def test_a_slot_taken_before_a_retry_after_waits_for_its_end() -> None:
    now = [0.0]
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(round(seconds, 3))
        if len(slept) == 1:
            await budget.hold(2.0)  # the peer said 429 while this caller waited for its slot
        now[0] += seconds

    budget = RateBudget(1.0, burst=1, clock=lambda: now[0], sleep=sleep, max_wait=5.0)
    await budget.acquire()  # at 0
    await budget.acquire()  # its slot at 1 s, then the hold to 2 s: it goes at 2 s at the earliest
    assert now[0] >= 2.0 and slept[0] == 1.0


async def test_a_store_that_cannot_be_reached_refuses_the_call_rather_than_sending_it_unpaced() -> None:
    class Broken(LocalSlots):
        async def reserve(self, count: int, pace: Pace, max_wait: float) -> Grant:
            raise ConnectionError("database away")

    seen: list[BaseException] = []
    budget = RateBudget(10.0, store=Broken(), max_wait=3.0, on_store_error=seen.append)
    with pytest.raises(RateBudgetExceeded) as caught:
        await budget.acquire()
    assert caught.value.wait == 3.0 and isinstance(seen[0], ConnectionError)
