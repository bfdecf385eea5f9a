"""Database: PostgreSQL restarted, then away for a few seconds, mid-run. The gateway answers 503
problem+json meanwhile (never a 500, never a stack trace), recovers by itself and loses nothing."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from gateway.migrate import upgrade
from tests.conftest import IN_CI, PROVINCE_KEY
from tests.e2e.conftest import fast_env, fast_settings
from tests.reliability.conftest import RecordedSandbox
from tests.reliability.harness import (
    Child,
    Poster,
    end_state,
    max_delivery_delay_s,
    ministry_complete,
    outbox_settled,
    record,
    scale,
    wait_for,
)
from tests.support.pg import PgCluster, PostgresUnavailableError, free_port, start_cluster

pytestmark = [pytest.mark.reliability, pytest.mark.postgres]

AWAY_S = 3.0


@pytest.fixture
def own_cluster() -> Iterator[PgCluster]:
    """A cluster of this test alone: restarting the session's would disturb the other tests."""
    try:
        cluster = start_cluster()
    except PostgresUnavailableError as exc:
        if IN_CI:
            pytest.fail(f"CI=true and PostgreSQL is missing: {exc}")
        pytest.skip(f"PostgreSQL not available: {exc}")
    try:
        yield cluster
    finally:
        cluster.stop()


def _start_again(cluster: PgCluster) -> None:
    """``pg_ctl start`` with the options of the first start (``restart`` reuses them; ``start`` does not)."""
    opts = (cluster.datadir / "postmaster.opts").read_text().split(None, 1)[1].strip()
    cluster.ctl("start", "-w", "-t", "60", "-o", opts.replace('"', ""), "-l",
                str(cluster.datadir.parent / "server.log"))


class Reader(threading.Thread):
    """Reads dossiers and readiness while the database comes and goes; notes every answer."""

    def __init__(self, base_url: str) -> None:
        super().__init__(name="reader", daemon=True)
        self.base_url = base_url
        self.statuses: Counter[str] = Counter()
        self.bad: list[str] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        """Poll until stopped."""
        with httpx.Client(base_url=self.base_url, timeout=10) as http:
            while not self.stopping.is_set():
                for path in ("/api/v1/dossiers/000.00.12.H56-240115-3001", "/health/ready"):
                    try:
                        answer = http.get(path, headers={"Authorization": f"Bearer {PROVINCE_KEY}"})
                    except httpx.HTTPError as exc:
                        self.bad.append(f"{path}: {exc.__class__.__name__}")
                        continue
                    self.statuses[f"{path.split('/')[1]} {answer.status_code}"] += 1
                    if answer.status_code >= 500 and (
                        answer.status_code != 503 or "Traceback" in answer.text
                        or (path != "/health/ready"
                            and not answer.headers.get("content-type", "").startswith("application/problem+json"))
                    ):
                        self.bad.append(f"{path}: {answer.status_code} {answer.text[:200]}")
                self.stopping.wait(0.05)


@pytest.mark.timeout(240)
def test_a_database_restart_and_outage_are_answered_503_and_lose_nothing(
    own_cluster: PgCluster, ministry: RecordedSandbox, tmp_path: Path
) -> None:
    with psycopg.connect(f"host=127.0.0.1 port={own_cluster.port} user=postgres dbname=postgres",
                         autocommit=True) as conn:
        conn.execute("CREATE DATABASE gw_restart")
    db_url = own_cluster.url("gw_restart")
    upgrade(db_url)
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    settings = fast_settings(db_url, tmp_path, ministry.base_url)
    serve = Child("serve", ["serve", "--port", str(port)], {**fast_env(settings), "GATEWAY_EMBEDDED_WORKER": "true"},
                  tmp_path, health_url=f"{base_url}/health/live")
    dossiers = max(30, scale().dossiers // 2)
    poster = Poster(base_url, range(3001, 3001 + dossiers), pause_s=8.0 / dossiers)
    reader = Reader(base_url)
    started = time.monotonic()
    try:
        serve.start()
        poster.start()
        reader.start()
        time.sleep(1.5)
        # -l again: without it the new postmaster writes to pg_ctl's pipe and pg_ctl never returns.
        own_cluster.ctl("restart", "-m", "fast", "-w", "-t", "60", "-l", str(own_cluster.datadir.parent / "server.log"))
        time.sleep(1.5)
        own_cluster.ctl("stop", "-m", "fast", "-w")
        time.sleep(AWAY_S)
        _start_again(own_cluster)
        poster.join(timeout=120)
        assert poster.error is None, poster.error
        codes = sorted(poster.dossiers)
        wait_for(lambda: ministry_complete(ministry, codes, final=None), 60, "every dossier delivered")
        wait_for(lambda: outbox_settled(db_url), 30, "outbox settled")
    finally:
        reader.stopping.set()
        reader.join(timeout=10)
        serve.stop()
    state = end_state(ministry, None, db_url, poster.dossiers)
    record("database_restart", dossiers=len(poster.dossiers), restarts=1, outage_s=AWAY_S,
           intake_answers=dict(poster.result.statuses), reads=dict(reader.statuses),
           duplicates=len(state.duplicated_at_ministry), lost=len(state.missing_at_ministry),
           stuck_or_dead=state.stuck, max_delivery_delay_s=max_delivery_delay_s(db_url),
           process_restarts=serve.starts - 1, runtime_s=round(time.monotonic() - started, 1))
    assert serve.starts == 1 and serve.alive() is False  # it never had to be restarted by hand
    assert not poster.result.bad_answers, poster.result.bad_answers[:5]
    assert not reader.bad, reader.bad[:5]
    assert poster.result.statuses[503] + reader.statuses["api 503"] > 0, "the outage was never seen"
    assert state.ok, state
