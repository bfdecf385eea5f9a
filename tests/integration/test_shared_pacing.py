"""Processes sharing a database share one budget per peer: together they stay within the ministry's limit."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
import time
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from adapters.common.ratebudget import Grant, Pace, with_headroom
from adapters.ministry.sandbox.app import create_app
from adapters.ministry.sandbox.config import RateLimitSettings, SandboxConfig
from gateway.db import Database, create_database
from gateway.pacing import DatabaseSlots
from tests.support.servers import run_server
from tests.unit.common.test_ratebudget import most_in_a_window

RATE, BURST = 20.0, 10
CALLS_EACH = 40


class Arrivals:
    """ASGI wrapper noting when each authorised call reached the sandbox (this process's monotonic clock)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.times: list[float] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/api/v1/"):
            self.times.append(time.monotonic())
        await self.app(scope, receive, send)


def test_two_processes_share_one_budget_and_the_ministry_never_refuses_a_call(db_url: str) -> None:
    sandbox = create_app(SandboxConfig(clients={"sandbox-client": "sandbox-secret"},
                                       rate_limit=RateLimitSettings(rate_per_second=RATE, burst=BURST)))
    counted = Arrivals(sandbox)
    with run_server(counted) as base_url:
        started = time.monotonic()
        callers = [subprocess.Popen([sys.executable, "-m", "tests.support.paced_caller", db_url, base_url,
                                     str(CALLS_EACH), str(RATE), str(BURST)], stdout=subprocess.PIPE, text=True)
                   for _ in range(2)]
        results = [json.loads(caller.communicate(timeout=120)[0].splitlines()[-1]) for caller in callers]
        took = time.monotonic() - started
    assert [r["refused"] for r in results] == [0, 0], results  # not one 429 (nor anything else)
    assert len(counted.times) == 2 * CALLS_EACH
    # Never more than the ministry allows in any second (its burst plus a second's rate), ...
    assert most_in_a_window(counted.times, 1.0) <= BURST + RATE
    # ... because the two processes drew from one bucket: alone, each would have gone at the full rate.
    first, last = min(counted.times), max(counted.times)
    assert last - first >= (2 * CALLS_EACH - with_headroom(BURST)) / RATE * 0.95
    assert took < 60


class ClockedSlots(DatabaseSlots):
    """The store, its grants as instants on the store's clock (its now + each wait) rather than waits from a now
    the test cannot see: what the slots are does not depend on how long a loaded machine took to ask."""

    def __init__(self, db: Database, peer: str) -> None:
        super().__init__(db, peer)
        self._now = threading.local()
        self.held_from: float | None = None

    def _locked(self, session: Any) -> Any:
        row, now = super()._locked(session)
        self._now.value = now
        return row, now

    def _reserve(self, count: int, pace: Pace, max_wait: float) -> Grant:
        grant = super()._reserve(count, pace, max_wait)
        return Grant(tuple(self._now.value + wait for wait in grant.waits), grant.refused)

    def _hold(self, seconds: float, pace: Pace) -> None:
        super()._hold(seconds, pace)
        self.held_from = self._now.value


async def test_two_budgets_on_one_database_hand_out_slots_as_one(db: Database, db_url: str) -> None:
    other = create_database(db_url)  # a second engine: another process, as far as the database can tell
    try:
        pace = Pace(10.0, 5.0)
        one, two = ClockedSlots(db, "ministry"), ClockedSlots(other, "ministry")
        grants = await asyncio.gather(*(store.reserve(3, pace, max_wait=60) for store in (one, two, one, two)))
        slots = sorted(at for grant in grants for at in grant.waits)
        assert len(slots) == 12
        # One bucket between them: never more than the burst at once, then a tenth of a second each (two separate
        # budgets would hand out a burst each, ten slots at once).
        assert most_in_a_window(slots, 0.05) <= 5
        assert most_in_a_window(slots, 0.35) <= 5 + 3
        assert slots[-1] - slots[0] >= 0.7 - 0.01
        await two.hold(2.0, pace)
        after = await one.reserve(1, pace, max_wait=60)
        assert two.held_from is not None
        assert after.waits[0] >= two.held_from + 2.0 - 0.01  # the Retry-After one process heard holds the other
    finally:
        other.dispose()
