"""bench/pace.py's counting: the figures a reader of bench/results/pace*.json takes for the gateway's pacing."""

from __future__ import annotations

from typing import Any

import pytest

from bench.pace import BURST, RATE_PER_S, Calls, max_in_window


def test_the_busiest_second_is_a_half_open_sliding_window() -> None:
    assert max_in_window([]) == 0
    assert max_in_window([5.0]) == 1
    assert max_in_window([0.0, 0.5, 0.99, 1.0, 1.2]) == 4  # 0.5 .. 1.2
    assert max_in_window([0.0, 1.0, 2.0, 3.0]) == 1  # exactly one second apart: never together
    assert max_in_window([3.0, 0.1, 2.95, 0.2, 3.1, 3.05]) == 4  # order does not matter
    assert max_in_window([0.0, 0.3, 0.6], width_s=0.5) == 2


def _entry(at_s: float, path: str = "/api/v1/ho-so/cho-tiep-nhan", rate_limit: str | None = "admitted",
           fault: str | None = None) -> dict[str, Any]:
    return {"at_s": at_s, "path": path, "rate_limit": rate_limit, "fault": fault}


def test_calls_count_admitted_refused_and_injected_apart_over_the_first_to_last_call() -> None:
    entries = [_entry(10.0, "/oauth2/token", None)]
    entries += [_entry(10.0 + i / 100) for i in range(50)]  # 50 admitted within half a second
    entries += [_entry(10.6, rate_limit="refused"), _entry(10.7, rate_limit="refused")]
    entries += [_entry(11.0, rate_limit=None, fault="error_500"), _entry(12.0, rate_limit=None, fault="rate_limited")]
    entries += [_entry(12.5, fault="lost_answer")]  # processed (admitted), its answer lost
    calls = Calls.of(entries)
    assert (calls.total, calls.admitted, calls.refused, calls.token_requests) == (56, 51, 2, 1)
    assert calls.faults == {"error_500": 1, "rate_limited": 1, "lost_answer": 1}
    assert calls.span_s == pytest.approx(2.5)
    assert calls.allowed == pytest.approx(BURST + RATE_PER_S * 2.5)
    assert calls.share_used_pct == pytest.approx(100 * 51 / (BURST + RATE_PER_S * 2.5))
    assert calls.refused_pct == pytest.approx(100 * 2 / 56)
    assert (calls.max_1s, calls.max_admitted_1s) == (53, 50)
    assert calls.longest_gap_s == pytest.approx(1.0)  # 11.0 -> 12.0


def test_a_client_at_the_limit_uses_all_of_it() -> None:
    # A full bucket spent at once, then one call per refill for 10 s: every allowed call made.
    times = [0.0] * BURST + [i / RATE_PER_S for i in range(1, int(10 * RATE_PER_S) + 1)]
    calls = Calls.of([_entry(t) for t in times])
    assert calls.share_used_pct == pytest.approx(100.0)
    assert calls.refused_pct == 0.0
    assert calls.max_admitted_1s == BURST + RATE_PER_S - 1  # [0, 1): the burst and 19 refills
