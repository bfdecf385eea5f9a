"""Crash: `gateway serve` and two `gateway worker` processes on PostgreSQL, SIGKILLed at random instants and
restarted, while dossiers with attachments are posted and the officer acts: nothing lost, nothing twice."""

from __future__ import annotations

import random
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.contract.ministry_support import SandboxHandle
from tests.e2e.conftest import fast_env, fast_settings
from tests.e2e.test_lifecycle import Province
from tests.reliability.harness import (
    CALLBACK_SECRET,
    Child,
    Officer,
    Poster,
    callbacks_complete,
    end_state,
    max_delivery_delay_s,
    ministry_complete,
    outbox_settled,
    record,
    scale,
    wait_for,
)
from tests.support.pg import free_port

pytestmark = [pytest.mark.reliability, pytest.mark.postgres]


@pytest.mark.timeout(scale().settle_s + 120)
def test_killed_processes_lose_and_duplicate_nothing(
    pg_db: str, ministry: SandboxHandle, province: Province, tmp_path: Path
) -> None:
    size = scale()
    rng = random.Random(20240115)
    port = free_port()
    settings = fast_settings(pg_db, tmp_path, ministry.base_url, outbox_lease_s=3.0, reconcile_interval_s=0.3,
                             reconcile_lease_s=2.0, province_callback_url=f"{province.base_url}/callbacks",
                             province_callback_secret=CALLBACK_SECRET)
    env = fast_env(settings)
    base_url = f"http://127.0.0.1:{port}"
    serve = Child("serve", ["serve", "--port", str(port)], {**env, "GATEWAY_EMBEDDED_WORKER": "true"}, tmp_path,
                  health_url=f"{base_url}/health/live")
    workers = [Child(f"worker{i}", ["worker", "--concurrency", "4"], env, tmp_path) for i in (1, 2)]
    children = [serve, *workers]
    started = time.monotonic()
    poster = Poster(base_url, range(1, size.dossiers + 1), pause_s=max(0.0, 8.0 / size.dossiers - 0.03))
    officer = Officer(ministry)
    kills: list[str] = []
    try:
        for child in children:
            child.start()
        poster.start()
        officer.start()
        # Kill while posting, delivering, reading the feed and calling back: spread over the busy part.
        while len(kills) < size.kills:
            time.sleep(rng.uniform(0.6, 2.0))
            victim = rng.choice(children)
            victim.kill()
            kills.append(victim.name)
            victim.start(wait=False)
        poster.join(timeout=size.settle_s)
        assert poster.error is None, poster.error
        codes = sorted(poster.dossiers)
        wait_for(lambda: ministry_complete(ministry, codes), size.settle_s, "every dossier received and appraised")
        wait_for(lambda: callbacks_complete(province, codes), size.settle_s, "every callback at the province")
        wait_for(lambda: outbox_settled(pg_db), 30, "outbox settled")
    finally:
        officer.stopping.set()
        officer.join(timeout=10)
        for child in children:
            child.stop()
    elapsed = time.monotonic() - started
    state = end_state(ministry, province, pg_db, poster.dossiers)
    record("crash", dossiers=len(poster.dossiers), kills=len(kills), killed=dict(Counter(kills)),
           post_retries=poster.result.connection_errors,
           officer_actions=officer.actions, duplicates=len(state.duplicated_at_ministry),
           lost=len(state.missing_at_ministry), hash_mismatches=len(state.hash_mismatches),
           callback_faults=len(state.callback_faults), callback_redeliveries=state.callback_duplicates_dropped,
           stuck_or_dead=state.stuck, max_delivery_delay_s=max_delivery_delay_s(pg_db),
           runtime_s=round(elapsed, 1))
    assert officer.error is None, officer.error
    assert not poster.result.bad_answers, poster.result.bad_answers[:5]
    assert state.ok, state
