"""``make run`` (gateway.devrun): the whole demo starts, and one Ctrl-C stops every process cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import wait_until
from tests.support.pg import free_port

pytestmark = pytest.mark.slow


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def test_one_ctrl_c_stops_the_gateway_and_every_sandbox_without_a_traceback(tmp_path: Path) -> None:
    ports = {name: free_port() for name in ("GATEWAY_PORT", "MINISTRY_SANDBOX_PORT", "PROVINCE_SANDBOX_PORT",
                                            "POPULATION_SANDBOX_PORT", "ALERTS_SANDBOX_PORT")}
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GATEWAY_", "PROVINCE_SANDBOX_"))}
    env.update({k: str(v) for k, v in ports.items()})
    env.update(GATEWAY_DATABASE_URL=f"sqlite:///{tmp_path / 'gateway.db'}", GATEWAY_BLOB_DIR=str(tmp_path / "blobs"))
    log = tmp_path / "run.log"
    with log.open("wb") as out:
        # Its own process group, as a terminal's foreground job: Ctrl-C is SIGINT to the whole group.
        demo = subprocess.Popen([sys.executable, "-m", "gateway.devrun"], env=env, cwd=tmp_path, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    try:
        gateway = f"http://127.0.0.1:{ports['GATEWAY_PORT']}"
        wait_until(lambda: "Try it" in log.read_text(encoding="utf-8", errors="replace"), timeout=90, interval=0.2)
        assert httpx.get(f"{gateway}/health/ready", timeout=5).status_code == 200
        os.killpg(demo.pid, signal.SIGINT)
        assert demo.wait(timeout=30) == 0
        deadline = time.monotonic() + 10
        while _group_alive(demo.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _group_alive(demo.pid), "a child outlived make run"
    finally:
        if _group_alive(demo.pid):
            os.killpg(demo.pid, signal.SIGKILL)
    text = log.read_text(encoding="utf-8", errors="replace")
    assert "Traceback" not in text and "a process stopped" not in text, text[-3000:]
    assert sum("Finished server process" in line for line in text.splitlines()) == 5  # each shut down gracefully
