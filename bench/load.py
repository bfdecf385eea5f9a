"""HTTP load generation for the benchmarks: wrk when installed, else a Python asyncio generator.

Every request is unique: the body is a template in which :data:`ID` becomes a request-unique
15-digit id and :data:`ID_B64` its base64 (both fixed-length, so ``Content-Length`` never changes).
That matters for intake, where a repeated dossier takes the cheaper idempotent path (200).

The Python generator speaks HTTP/1.1 over raw keep-alive sockets with pre-built request bytes: an
HTTP client library per request costs more than the server under test (the old bench's httpx loop
capped even the bare endpoint at ~40 req/s). ``BENCH_LOAD_GENERATOR=python`` (or ``generator=``)
forces it, so the smoke run exercises it too.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from bench.harness import percentile

ID = b"{{id}}"
"""Marker in a body template: replaced by a request-unique 15-digit id."""
ID_B64 = b"{{id64}}"
"""Marker in a body template: replaced by the base64 of that id (20 characters, no padding)."""
ID_DIGITS = 15

WRK_SCRIPT = Path(__file__).resolve().parent / "wrk" / "unique.lua"
Generator = Literal["wrk", "python"]

_runs = itertools.count(int(time.time()) % 1000)


@dataclass
class LoadResult:
    """What one load run measured."""

    generator: str
    connections: int
    duration_s: float
    requests: int
    statuses: dict[int, int]
    socket_errors: dict[str, int] = field(default_factory=dict)
    p50_ms: float = float("nan")
    p90_ms: float = float("nan")
    p99_ms: float = float("nan")
    max_ms: float = float("nan")

    @property
    def req_per_s(self) -> float:
        """Completed requests per second."""
        return self.requests / self.duration_s if self.duration_s else 0.0

    @property
    def errors(self) -> dict[str, int]:
        """Non-2xx answers by status, plus socket errors by kind."""
        out = {str(code): n for code, n in self.statuses.items() if not 200 <= code < 300}
        out.update({k: n for k, n in self.socket_errors.items() if n})
        return out

    @property
    def error_count(self) -> int:
        """How many requests failed in any way."""
        return sum(self.errors.values())

    def check(self, what: str) -> None:
        """Raise RuntimeError when any request failed or none completed: a broken run has no numbers."""
        if self.requests == 0:
            raise RuntimeError(f"{what}: no request completed")
        if self.error_count:
            raise RuntimeError(f"{what}: {self.error_count} of {self.requests} requests failed: {self.errors}")

    def as_dict(self) -> dict[str, object]:
        """JSON form."""
        return {"generator": self.generator, "connections": self.connections, "duration_s": self.duration_s,
                "requests": self.requests, "req_per_s": self.req_per_s, "statuses": self.statuses,
                "errors": self.errors, "p50_ms": self.p50_ms, "p90_ms": self.p90_ms, "p99_ms": self.p99_ms,
                "max_ms": self.max_ms}


def choose_generator(generator: Generator | None = None) -> Generator:
    """``generator``, else ``BENCH_LOAD_GENERATOR``, else wrk when installed, else python."""
    chosen = generator or os.environ.get("BENCH_LOAD_GENERATOR") or ("wrk" if shutil.which("wrk") else "python")
    if chosen not in ("wrk", "python"):
        raise ValueError(f"unknown load generator {chosen!r}")
    if chosen == "wrk" and not shutil.which("wrk"):
        raise RuntimeError("wrk is not installed")
    return "wrk" if chosen == "wrk" else "python"


def run_load(url: str, *, body: bytes, headers: Mapping[str, str], connections: int, duration_s: float,
             method: str = "POST", generator: Generator | None = None, threads: int = 1,
             timeout_s: float = 10.0) -> LoadResult:
    """Send ``body`` (a template, see :data:`ID`) to ``url`` on ``connections`` keep-alive connections for
    ``duration_s`` (whole seconds with wrk); each request gets its own id. Failures are counted, not raised
    (see :meth:`LoadResult.check`).
    """
    run_id = next(_runs) % 1000
    if choose_generator(generator) == "wrk":
        return _run_wrk(url, body, headers, connections, duration_s, method, run_id, threads, timeout_s)
    return asyncio.run(_run_python(url, body, headers, connections, duration_s, method, run_id, timeout_s))


def unique_id(run_id: int, stream: int, counter: int) -> bytes:
    """The id of request ``counter`` of ``stream`` (a wrk thread or a Python connection) in run ``run_id``."""
    return b"%03d%03d%09d" % (run_id % 1000, stream % 1000, counter)


# ---- wrk ---------------------------------------------------------------------------------------


def _run_wrk(url: str, body: bytes, headers: Mapping[str, str], connections: int, duration_s: float,
             method: str, run_id: int, threads: int, timeout_s: float) -> LoadResult:
    threads = max(1, min(threads, connections))
    with tempfile.NamedTemporaryFile(prefix="bench-body-", suffix=".bin") as handle:
        handle.write(body)
        handle.flush()
        # wrk takes whole seconds only.
        argv = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, round(duration_s))}s",
                f"--timeout={max(1, round(timeout_s))}s", "-s", str(WRK_SCRIPT)]
        for name, value in headers.items():
            argv += ["-H", f"{name}: {value}"]
        argv += [url, "--", handle.name, str(run_id), method]
        out = subprocess.run(argv, capture_output=True, text=True, timeout=duration_s + timeout_s + 30, check=False)
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("WRK_JSON ")), None)
    if out.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({out.returncode}):\n{out.stdout}\n{out.stderr}")
    data = json.loads(line.removeprefix("WRK_JSON "))
    latency = data["latency_us"]
    statuses = {int(code): int(n) for code, n in data["statuses"].items()}
    return LoadResult(
        generator="wrk", connections=connections, duration_s=data["duration_us"] / 1e6,
        requests=sum(statuses.values()), statuses=statuses,
        socket_errors={k: int(v) for k, v in data["socket_errors"].items()},
        p50_ms=latency["p50"] / 1000, p90_ms=latency["p90"] / 1000, p99_ms=latency["p99"] / 1000,
        max_ms=latency["max"] / 1000,
    )


# ---- the Python generator ----------------------------------------------------------------------


def _template(body: bytes) -> list[tuple[bytes, bytes | None]]:
    """The body cut at its markers: ``[(text, marker or None), …]``."""
    pieces: list[tuple[bytes, bytes | None]] = []
    rest = body
    while True:
        found = [(rest.find(m), m) for m in (ID, ID_B64) if rest.find(m) >= 0]
        if not found:
            pieces.append((rest, None))
            return pieces
        at, marker = min(found)
        pieces.append((rest[:at], marker))
        rest = rest[at + len(marker):]


async def _run_python(url: str, body: bytes, headers: Mapping[str, str], connections: int, duration_s: float,
                      method: str, run_id: int, timeout_s: float) -> LoadResult:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    pieces = _template(body)
    length = sum(len(text) + (ID_DIGITS if marker == ID else ID_DIGITS // 3 * 4 if marker else 0)
                 for text, marker in pieces)
    head = (f"{method} {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Length: {length}\r\n"
            + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n").encode("latin-1")
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    socket_errors: Counter[str] = Counter()
    started = time.perf_counter()
    deadline = started + duration_s

    def request_bytes(stream: int, counter: int) -> bytes:
        token = unique_id(run_id, stream, counter)
        token64 = base64.b64encode(token)
        out = [head]
        for text, marker in pieces:
            out.append(text)
            if marker is not None:
                out.append(token if marker == ID else token64)
        return b"".join(out)

    async def connection(stream: int) -> None:
        counter = 0
        conn: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        while time.perf_counter() < deadline:
            try:
                if conn is None:
                    conn = await asyncio.wait_for(asyncio.open_connection(host, port), timeout_s)
                reader, writer = conn
                counter += 1
                payload = request_bytes(stream, counter)
                sent = time.perf_counter()
                writer.write(payload)
                status, close = await asyncio.wait_for(_read_response(reader), timeout_s)
                latencies.append(time.perf_counter() - sent)
                statuses[status] += 1
                if close:
                    _drop(conn)
                    conn = None
            except TimeoutError:
                socket_errors["timeout"] += 1
                _drop(conn)
                conn = None
            except (OSError, asyncio.IncompleteReadError, ValueError):
                socket_errors["read"] += 1
                _drop(conn)
                conn = None
        _drop(conn)

    await asyncio.gather(*(connection(i) for i in range(connections)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    ms = [x * 1000 for x in latencies]
    return LoadResult(
        generator="python", connections=connections, duration_s=elapsed, requests=len(latencies),
        statuses=dict(statuses), socket_errors=dict(socket_errors),
        p50_ms=percentile(ms, 50), p90_ms=percentile(ms, 90), p99_ms=percentile(ms, 99),
        max_ms=ms[-1] if ms else float("nan"),
    )


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """Read one response (``Content-Length`` framed, or chunked); its status and whether the server closes."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    length, chunked, close = 0, False, False
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
        elif name == b"connection" and b"close" in value.lower():
            close = True
    if chunked:
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    elif length:
        await reader.readexactly(length)
    return status, close


def _drop(conn: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None) -> None:
    """Close a connection; None, for ``_drop(conn)
                conn = None`` (the next request opens a new one)."""
    if conn is not None:
        conn[1].close()
