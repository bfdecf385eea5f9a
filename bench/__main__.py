"""Intake throughput: the gateway (SQLite, real blob store) vs a bare FastAPI endpoint, same machine, one run.

Machines are shared and noisy, so the number that matters is the ratio measured in one run.
Prints a table and writes ``bench/results/intake.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from adapters.province.client import post_dossier
from adapters.province.samples import numbered_dossier, sample_pdf_bytes

KEY = "bench-key"
RESULTS = Path(__file__).parent / "results"


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer")


def _drive(base_url: str, count: int, concurrency: int, file_bytes: int, offset: int) -> dict[str, float]:
    pdf = sample_pdf_bytes("bench") + b"%" + b"0" * max(0, file_bytes)

    def one(i: int) -> float:
        dossier = numbered_dossier(offset + i)
        with httpx.Client(base_url=base_url, timeout=60) as http:
            started = time.perf_counter()
            response = post_dossier(http, KEY, dossier, {"f1": pdf + str(i).encode()})
            elapsed = time.perf_counter() - started
        if response.status_code != 202:
            raise RuntimeError(f"{response.status_code}: {response.text[:300]}")
        return elapsed

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        latencies = sorted(pool.map(one, range(count)))
    wall = time.perf_counter() - started
    return {
        "requests": count,
        "per_second": count / wall,
        "p50_ms": statistics.median(latencies) * 1000,
        "p95_ms": latencies[int(0.95 * (count - 1))] * 1000,
    }


def main() -> int:
    """Run the intake benchmark and print/write its table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--file-kib", type=int, default=256)
    args = parser.parse_args()

    rows: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
        env.update({"GATEWAY_DATABASE_URL": f"sqlite:///{tmp}/bench.db", "GATEWAY_BLOB_DIR": f"{tmp}/blobs",
                    "GATEWAY_API_KEYS": f"bench:{KEY}:dossiers:write+dossiers:read",
                    "GATEWAY_EMBEDDED_WORKER": "false", "GATEWAY_LOG_LEVEL": "WARNING"})
        subprocess.run([sys.executable, "-m", "gateway", "migrate"], env=env, check=True,
                       capture_output=True)
        servers = {
            "bare FastAPI endpoint": [sys.executable, "-m", "uvicorn", "bench.baseline:app", "--log-level", "warning"],
            "gateway intake (SQLite)": [sys.executable, "-m", "gateway", "serve"],
        }
        for offset, (name, command) in enumerate(servers.items()):
            port = _free_port()
            process = subprocess.Popen([*command, "--port", str(port)], env=env,
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                _wait(f"http://127.0.0.1:{port}/", process)
                _drive(f"http://127.0.0.1:{port}", 10, 2, args.file_kib * 1024, 900_000 + offset * 1000)  # warm-up
                rows[name] = _drive(f"http://127.0.0.1:{port}", args.requests, args.concurrency,
                                    args.file_kib * 1024, offset * 100_000)
            finally:
                process.terminate()
                process.wait(timeout=15)

    base = rows["bare FastAPI endpoint"]["per_second"]
    print(f"\nintake: {args.requests} dossiers, 1 file of {args.file_kib} KiB each, concurrency {args.concurrency}\n")
    print(f"{'server':<26}{'req/s':>10}{'p50 ms':>10}{'p95 ms':>10}{'vs bare':>10}")
    for name, row in rows.items():
        print(f"{name:<26}{row['per_second']:>10.1f}{row['p50_ms']:>10.1f}{row['p95_ms']:>10.1f}"
              f"{row['per_second'] / base:>10.2f}")
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / "intake.json"
    out.write_text(json.dumps({
        "benchmark": "intake", "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()},
        "parameters": vars(args), "results": rows,
        "ratio_gateway_vs_bare": rows["gateway intake (SQLite)"]["per_second"] / base,
    }, indent=2))
    print(f"\nwritten to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
