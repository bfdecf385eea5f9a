"""Gateways on several machines: ``serve`` takes dossiers in, two ``gateway worker`` processes deliver them, each
with its own empty ``GATEWAY_BLOB_DIR`` (as on separate hosts), sharing only PostgreSQL with
``GATEWAY_BLOB_STORE=postgresql``: every attachment reaches the ministry with the SHA-256 it was posted with.

PostgreSQL only: that store exists for it (``pg_url`` fails the run in CI when PostgreSQL is missing).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from adapters.province.client import post_dossier
from adapters.province.samples import numbered_dossier, sample_pdf_bytes
from gateway.db import create_database
from tests.conftest import PROVINCE_KEY
from tests.contract.ministry_support import SandboxHandle
from tests.e2e.conftest import dossier_state, fast_env, fast_settings, wait_until
from tests.e2e.test_workers import worker_process
from tests.support.procs import serve_gateway

pytestmark = pytest.mark.postgres

CREATE_PATH = "/api/v1/ho-so/cho-tiep-nhan"


def _files(number: int) -> dict[str, bytes]:
    """Dossier ``number``'s file: the first one's spans three database chunks (~730 KiB), the second dossier
    carries the same bytes as the first (stored once, delivered with both), the others a small PDF each."""
    owner = 1 if number == 2 else number
    data = sample_pdf_bytes(f"dossier {owner}")
    if owner == 1:
        data += b"%" + b"scan " * 150_000
    return {"f1": data}


@pytest.fixture
def blob_dirs(tmp_path: Path) -> Iterator[dict[str, Path]]:
    yield {name: tmp_path / f"blobs-{name}" for name in ("serve", "w1", "w2")}


def test_dossiers_taken_in_on_one_machine_are_delivered_by_workers_on_others(
    pg_url: str, ministry: SandboxHandle, tmp_path: Path, blob_dirs: dict[str, Path]
) -> None:
    def env(machine: str, **overrides: Any) -> dict[str, str]:
        return fast_env(fast_settings(pg_url, tmp_path, ministry.base_url, blob_store="postgresql",
                                      blob_dir=blob_dirs[machine], **overrides))

    # Each create is held 0.4 s and each worker handles one message at a time: both workers get some.
    ministry.faults(hang_rate=1.0, hang_seconds=0.4, path_prefixes=[CREATE_PATH])
    dossiers = [numbered_dossier(9100 + n) for n in range(1, 7)]
    posted = {d["MaHoSo"]: _files(n) for n, d in enumerate(dossiers, start=1)}
    logs = [tmp_path / "w1.log", tmp_path / "w2.log"]
    with ExitStack() as machines:
        # The workers boot while serve does.
        machines.enter_context(worker_process(env("w1"), logs[0], concurrency=1))
        machines.enter_context(worker_process(env("w2"), logs[1], concurrency=1))
        gateway = machines.enter_context(serve_gateway(env("serve", embedded_worker=False), tmp_path / "serve.log"))
        wait_until(lambda: all(log.exists() and "dispatcher_started" in log.read_text() for log in logs),
                   timeout=30, interval=0.1)
        with httpx.Client(base_url=gateway.base_url, timeout=30) as http:
            for n, dossier in enumerate(dossiers):
                answer = post_dossier(http, PROVINCE_KEY, dossier, posted[dossier["MaHoSo"]],
                                      encoding="json" if n % 2 else "multipart")
                assert answer.status_code == 202, answer.text

            def delivered() -> bool:
                return all(dossier_state(http, code, PROVINCE_KEY)["state"] == "delivered" for code in posted)

            wait_until(delivered, timeout=60, interval=0.2)
        worker_logs = [log.read_text() for log in logs]

    # Every file the ministry holds for a dossier is, byte for byte (its own hash of what arrived), one posted.
    for sandbox_dossier in ministry.all_dossiers():
        code = sandbox_dossier["maHoSoTinh"]
        received = sorted(f["sha256"] for comp in sandbox_dossier["thanhPhanHoSo"] for f in comp["tepTin"])
        assert received == sorted(hashlib.sha256(data).hexdigest() for data in posted.pop(code).values()), code
    assert posted == {}, "dossiers the ministry does not hold"
    assert len(ministry.requests(CREATE_PATH, method="POST")) == len(dossiers)
    assert all("delivery_done" in text_ for text_ in worker_logs), "both workers delivered"

    # Nothing went through any machine's disk but the intake's staging, which is empty again.
    assert not (blob_dirs["serve"] / "sha256").exists()
    assert list((blob_dirs["serve"] / "tmp").iterdir()) == []
    assert not any(path.is_file() for name in ("w1", "w2") if blob_dirs[name].exists()
                   for path in blob_dirs[name].rglob("*"))
    db = create_database(pg_url)
    try:
        with db.engine.connect() as conn:
            blobs, shared = conn.execute(text(
                "SELECT count(*), count(*) FILTER (WHERE size > 700000) FROM blob")).one()
    finally:
        db.dispose()
    assert (blobs, shared) == (5, 1)  # six files posted, the large one twice: stored once
