"""Several `gateway worker` processes share one database; a worker killed mid-delivery loses nothing."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from adapters.province.client import post_dossier
from adapters.province.samples import numbered_dossier
from tests.conftest import PROVINCE_KEY
from tests.contract.ministry_support import SandboxHandle
from tests.e2e.conftest import dossier_state, fast_env, fast_settings, wait_until
from tests.support.intake import sample_files

DOSSIERS = 24


@contextmanager
def worker_process(env: dict[str, str], log: Path, concurrency: int = 4) -> Iterator[subprocess.Popen[bytes]]:
    """A `gateway worker` child process."""
    with log.open("ab") as out:
        process = subprocess.Popen([sys.executable, "-m", "gateway", "worker", "--concurrency", str(concurrency)],
                                   env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()


def _all_delivered(url: str, codes: list[str]) -> bool:
    with httpx.Client(base_url=url, timeout=10) as http:
        return all(dossier_state(http, code, PROVINCE_KEY)["state"] == "delivered" for code in codes)


def test_several_workers_deliver_each_dossier_once(
    gateway_factory: Callable[..., str], ministry: SandboxHandle, db_url: str, tmp_path: Path
) -> None:
    url = gateway_factory(embedded_worker=False)
    codes = []
    env = fast_env(fast_settings(db_url, tmp_path, ministry.base_url))
    logs = [tmp_path / f"w{i}.log" for i in (1, 2, 3)]
    with worker_process(env, logs[0]), worker_process(env, logs[1]), worker_process(env, logs[2]):
        # Post once all three poll: posted before, the first worker up drains them alone (it is that fast).
        wait_until(lambda: all(log.exists() and "dispatcher_started" in log.read_text() for log in logs),
                   timeout=30, interval=0.1)
        with httpx.Client(base_url=url, timeout=30) as http:
            for n in range(DOSSIERS):
                dossier = numbered_dossier(500 + n)
                assert post_dossier(http, PROVINCE_KEY, dossier, sample_files(dossier)).status_code == 202
                codes.append(dossier["MaHoSo"])
        wait_until(lambda: _all_delivered(url, codes), timeout=60, interval=0.3)

    created = [d["maHoSoTinh"] for d in ministry.all_dossiers()]
    assert sorted(created) == sorted(codes)
    creates = [r for r in ministry.requests("/api/v1/ho-so/cho-tiep-nhan", method="POST")]
    assert len(creates) == DOSSIERS  # no dossier was sent twice, not even as an idempotent replay
    workers = {r["client_id"] for r in creates}
    assert workers == {"sandbox-client"}
    logs = [(tmp_path / f"w{i}.log").read_text() for i in (1, 2, 3)]
    assert sum(1 for text in logs if "delivery_done" in text) >= 2, "the work was not shared"


def test_a_worker_killed_mid_delivery_is_taken_over(
    gateway_factory: Callable[..., str], ministry: SandboxHandle, db_url: str, tmp_path: Path
) -> None:
    url = gateway_factory(embedded_worker=False)
    dossier = numbered_dossier(777)
    with httpx.Client(base_url=url, timeout=30) as http:
        assert post_dossier(http, PROVINCE_KEY, dossier, sample_files(dossier)).status_code == 202
    ministry.faults(sequence=["hang"], hang_seconds=30, path_prefixes=["/api/v1/ho-so/cho-tiep-nhan"])
    env = fast_env(fast_settings(db_url, tmp_path, ministry.base_url, ministry_timeout_s=20.0, outbox_lease_s=2.0))
    with worker_process(env, tmp_path / "victim.log") as victim:
        wait_until(lambda: ministry.requests("/api/v1/ho-so/cho-tiep-nhan", method="POST"), timeout=30)
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=10)
    ministry.faults()
    with worker_process(env, tmp_path / "heir.log"):
        wait_until(lambda: _all_delivered(url, [dossier["MaHoSo"]]), timeout=30, interval=0.2)
    created = [d for d in ministry.all_dossiers() if d["maHoSoTinh"] == dossier["MaHoSo"]]
    assert len(created) == 1
