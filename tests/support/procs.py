"""Real gateway processes for crash and CLI tests: started with the console entry point, killed for real."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.support.pg import free_port


def gateway_env(database_url: str, blob_dir: Path, api_keys: str, **extra: str) -> dict[str, str]:
    """The environment of a gateway process under test (nothing inherited from GATEWAY_* of the caller)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    env.update({
        "GATEWAY_DATABASE_URL": database_url,
        "GATEWAY_BLOB_DIR": str(blob_dir),
        "GATEWAY_API_KEYS": api_keys,
        "GATEWAY_LOG_FORMAT": "json",
        "GATEWAY_EMBEDDED_WORKER": "false",
        **extra,
    })
    return env


def run_gateway(args: list[str], env: Mapping[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run ``gateway <args>`` to completion."""
    return subprocess.run([sys.executable, "-m", "gateway", *args], env=dict(env), capture_output=True,
                          text=True, timeout=timeout, check=False)


@dataclass
class GatewayProcess:
    """A ``gateway serve`` child process."""

    process: subprocess.Popen[bytes]
    base_url: str
    port: int
    log_path: Path

    def kill(self) -> None:
        """SIGKILL: no cleanup, no graceful shutdown."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        """SIGTERM and wait (SIGKILL after 15 s)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()

    def log(self) -> str:
        """What the process wrote to stdout and stderr."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@contextmanager
def serve_gateway(env: Mapping[str, str], log_path: Path, *, args: tuple[str, ...] = (),
                  ready_timeout: float = 30) -> Iterator[GatewayProcess]:
    """Start ``gateway serve`` on a free port, wait for /health/live, stop it on exit."""
    port = free_port()
    with log_path.open("ab") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "gateway", "serve", "--port", str(port), *args],
            env=dict(env), stdout=log_file, stderr=subprocess.STDOUT,
        )
    gateway = GatewayProcess(process, f"http://127.0.0.1:{port}", port, log_path)
    try:
        deadline = time.monotonic() + ready_timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"gateway exited with {process.returncode}:\n{gateway.log()}")
            try:
                if httpx.get(f"{gateway.base_url}/health/live", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"gateway did not start in {ready_timeout}s:\n{gateway.log()}")
            time.sleep(0.1)
        yield gateway
    finally:
        gateway.stop()
