"""What every benchmark shares: scales, statistics, the report (table + JSON), machine facts, processes.

A benchmark module exposes ``NAME``, ``TITLE`` and ``run(scale) -> Report``. Each report holds rows
(one per configuration measured), ratios against the yardstick measured in the same run, goals
(value, target, met), notes (what profiling found, what was fixed) and, in the written JSON, the
summaries of earlier runs (``history``), so a before/after of a fix stays in the result file.
"""

from __future__ import annotations

import importlib.metadata
import json
import math
import os
import platform
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import httpx
from rich.console import Console
from rich.table import Table

Scale = Literal["smoke", "quick", "full"]
SCALES: tuple[Scale, ...] = ("smoke", "quick", "full")

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
HISTORY_KEPT = 20

console = Console(highlight=False, width=None if sys.stdout.isatty() else 150)

_PACKAGES = ("fastapi", "starlette", "uvicorn", "h11", "httpx", "httpcore", "httpx-aiohttp", "aiohttp",
             "sqlalchemy", "sqlmodel", "psycopg", "pydantic", "structlog", "uvloop")


def results_dir() -> Path:
    """Where result files go: ``BENCH_RESULTS_DIR`` (the smoke test points it at a temp dir) or ``bench/results``."""
    path = Path(os.environ.get("BENCH_RESULTS_DIR") or RESULTS)
    path.mkdir(parents=True, exist_ok=True)
    return path


# ---- statistics -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Stat:
    """Median, min and max of repeated samples of one quantity."""

    median: float
    min: float
    max: float
    n: int

    @classmethod
    def of(cls, samples: Sequence[float]) -> Stat:
        """The summary of ``samples`` (at least one)."""
        if not samples:
            raise ValueError("no samples")
        return cls(statistics.median(samples), min(samples), max(samples), len(samples))

    def as_dict(self) -> dict[str, float]:
        """JSON form."""
        return {"median": self.median, "min": self.min, "max": self.max, "n": self.n}


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0–100) of already sorted values, nearest rank."""
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, math.ceil(q / 100 * len(sorted_values)) - 1))
    return sorted_values[index]


def ratio(value: float, yardstick: float) -> float:
    """``value / yardstick``, NaN when the yardstick is zero."""
    return value / yardstick if yardstick else float("nan")


# ---- the report -------------------------------------------------------------------------------


@dataclass
class Goal:
    """A target from the issue and whether this run met it."""

    name: str
    value: float
    target: float
    higher_is_better: bool = True
    unit: str = ""

    @property
    def met(self) -> bool:
        """Whether the value is on the right side of the target."""
        return self.value >= self.target if self.higher_is_better else self.value <= self.target

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"name": self.name, "value": self.value, "target": self.target, "unit": self.unit,
                "higher_is_better": self.higher_is_better, "met": self.met}


@dataclass
class Report:
    """One benchmark's run: parameters, rows, ratios, goals, notes."""

    name: str
    title: str
    scale: Scale
    parameters: dict[str, Any] = field(default_factory=dict)
    columns: list[str] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)
    ratios: dict[str, float] = field(default_factory=dict)
    goals: list[Goal] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    started: float = field(default_factory=time.time)

    def add_row(self, **values: Any) -> dict[str, Any]:
        """Add one measured configuration; :class:`Stat` values are kept whole in the JSON, shown as medians."""
        for key in values:
            if key not in self.columns:
                self.columns.append(key)
        self.rows.append(values)
        return values

    def goal(self, name: str, value: float, target: float, *, higher_is_better: bool = True, unit: str = "") -> Goal:
        """Record a goal of the issue with this run's value."""
        goal = Goal(name, value, target, higher_is_better, unit)
        self.goals.append(goal)
        return goal

    def note(self, text: str) -> None:
        """A sentence worth keeping with the numbers (a profile's finding, a deviation)."""
        self.notes.append(text)

    def as_dict(self) -> dict[str, Any]:
        """The JSON written to ``bench/results/<name>.json`` (without history)."""
        return {
            "benchmark": self.name, "title": self.title, "scale": self.scale,
            "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.started)),
            "duration_s": round(time.time() - self.started, 1),
            "machine": machine_info(),
            "parameters": self.parameters,
            "rows": [{k: _jsonable(v) for k, v in row.items()} for row in self.rows],
            "ratios": self.ratios,
            "goals": [g.as_dict() for g in self.goals],
            "notes": self.notes,
            **({"extra": _jsonable(self.extra)} if self.extra else {}),
        }

    def write(self) -> Path:
        """Write the JSON, keeping the summaries of earlier runs of the same scale under ``history``."""
        path = results_dir() / f"{self.name}{'' if self.scale == 'full' else '-' + self.scale}.json"
        history: list[dict[str, Any]] = []
        if path.exists():
            try:
                previous = json.loads(path.read_text())
                history = previous.get("history", [])
                history.insert(0, _summary(previous))
            except (ValueError, AttributeError):
                history = []
        payload = self.as_dict()
        payload["history"] = history[:HISTORY_KEPT]
        path.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
        return path

    def print(self) -> None:
        """The table, ratios and goals on the terminal."""
        table = Table(title=f"{self.title}  [{self.scale}]", title_justify="left")
        for column in self.columns:
            table.add_column(column, justify="left" if column == self.columns[0] else "right")
        for row in self.rows:
            table.add_row(*(_cell(row.get(c)) for c in self.columns))
        console.print(table)
        for name, value in self.ratios.items():
            console.print(f"  ratio {name}: {value:.2f}")
        for goal in self.goals:
            mark = "[green]met[/green]" if goal.met else "[red]missed[/red]"
            sign = "≥" if goal.higher_is_better else "≤"
            console.print(f"  goal {goal.name}: {_cell(goal.value)}{goal.unit} (target {sign} "
                          f"{_cell(goal.target)}{goal.unit}) {mark}")
        for text in self.notes:
            console.print(f"  note: {text}")


def _summary(payload: dict[str, Any]) -> dict[str, Any]:
    return {k: payload.get(k) for k in ("at", "machine", "ratios", "goals", "notes")} | {
        "commit": (payload.get("machine") or {}).get("commit")}


def _cell(value: Any) -> str:
    if isinstance(value, Stat):
        value = value.median
    if isinstance(value, float):
        if value != value:  # NaN
            return "–"
        return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.1f}" if abs(value) >= 10 else f"{value:.2f}"
    if value is None:
        return "–"
    return str(value)


def _jsonable(value: Any) -> Any:
    if isinstance(value, Stat):
        return value.as_dict()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and value != value:
        return None
    return value


# ---- the machine ------------------------------------------------------------------------------

_MACHINE: dict[str, Any] = {}


def machine_info() -> dict[str, Any]:
    """Where the numbers come from: CPU, memory, load, versions, commit."""
    if not _MACHINE:
        cpu_model = ""
        with suppress(OSError):
            for line in Path("/proc/cpuinfo").read_text().splitlines():
                if line.startswith("model name"):
                    cpu_model = line.split(":", 1)[1].strip()
                    break
        mem_gib = None
        with suppress(OSError):
            for line in Path("/proc/meminfo").read_text().splitlines():
                if line.startswith("MemTotal:"):
                    mem_gib = round(int(line.split()[1]) / 1024 / 1024, 1)
        versions = {}
        for package in _PACKAGES:
            try:
                versions[package] = importlib.metadata.version(package)
            except importlib.metadata.PackageNotFoundError:
                continue
        _MACHINE.update({
            "python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count(),
            "cpu_model": cpu_model, "memory_gib": mem_gib, "sqlite": sqlite3.sqlite_version,
            "postgresql": _postgres_version(), "wrk": shutil.which("wrk") is not None,
            "packages": versions, "commit": _git("rev-parse", "--short", "HEAD"),
            "dirty": bool(_git("status", "--porcelain", "--untracked-files=no")),
        })
    return {**_MACHINE, "load_average": [round(x, 2) for x in os.getloadavg()]}


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def _postgres_version() -> str | None:
    try:
        from tests.support.pg import find_bindir

        out = subprocess.run([str(find_bindir() / "postgres"), "--version"], capture_output=True, text=True,
                             timeout=10, check=False)
        return out.stdout.strip() or None
    except Exception:  # a fact for the report, never a reason to fail
        return None


# ---- processes --------------------------------------------------------------------------------


def free_port() -> int:
    """A TCP port free on loopback right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Process:
    """A child server process on a loopback port."""

    name: str
    popen: subprocess.Popen[bytes]
    port: int
    log_path: Path | None

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        """The child's pid."""
        return self.popen.pid

    def log_tail(self, lines: int = 40) -> str:
        """The end of its output (for a failure message)."""
        if self.log_path is None or not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


@contextmanager
def _started(name: str, argv: Sequence[str], env: Mapping[str, str], port: int,
             log_dir: Path | None) -> Iterator[Process]:
    """Start ``argv`` in its own process group, output to ``<log_dir>/<name>.log``; stop it on exit."""
    log_path = (log_dir / f"{name.replace(' ', '_')}.log") if log_dir else None
    with log_path.open("wb") if log_path else open(os.devnull, "wb") as out:
        popen = subprocess.Popen(list(argv), env=dict(env), stdout=out, stderr=subprocess.STDOUT, cwd=ROOT,
                                 start_new_session=True)
        try:
            yield Process(name, popen, port, log_path)
        finally:
            stop_process(popen)


@contextmanager
def serve(name: str, command: Sequence[str], *, env: Mapping[str, str], ready_path: str = "/",
          port: int | None = None, log_dir: Path | None = None, timeout_s: float = 60.0) -> Iterator[Process]:
    """Start ``command`` (``{port}`` in it is replaced) and wait until ``ready_path`` answers; stop it on exit."""
    port = port or free_port()
    argv = [part.replace("{port}", str(port)) for part in command]
    with _started(name, argv, env, port, log_dir) as process:
        deadline = time.monotonic() + timeout_s
        while True:
            if process.popen.poll() is not None:
                raise RuntimeError(f"{name} exited with {process.popen.returncode}:\n{process.log_tail()}")
            try:
                httpx.get(process.base_url + ready_path, timeout=1)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{name} did not answer on {ready_path}:\n{process.log_tail()}") from None
                time.sleep(0.1)
        yield process


@contextmanager
def spawn(name: str, command: Sequence[str], *, env: Mapping[str, str], log_dir: Path | None = None,
          settle_s: float = 1.0) -> Iterator[Process]:
    """Start a process that serves no HTTP (``gateway worker``); fail if it exits within ``settle_s``."""
    with _started(name, command, env, 0, log_dir) as process:
        deadline = time.monotonic() + settle_s
        while time.monotonic() < deadline:
            if process.popen.poll() is not None:
                raise RuntimeError(f"{name} exited with {process.popen.returncode}:\n{process.log_tail()}")
            time.sleep(0.05)
        yield process


@contextmanager
def sampled(process: Process) -> Iterator[Path | None]:
    """With ``BENCH_PYSPY_DIR`` set, sample ``process`` with py-spy while the block runs and leave its
    collapsed stacks in ``<dir>/<name>.txt`` (``py-spy`` must be installed: ``pip install py-spy``)."""
    folder = os.environ.get("BENCH_PYSPY_DIR")
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not folder or not Path(spy).exists():
        yield None
        return
    out = Path(folder) / f"{process.name.replace(' ', '_')}.txt"
    out.parent.mkdir(parents=True, exist_ok=True)
    recorder = subprocess.Popen([spy, "record", "--pid", str(process.pid), "--format", "raw", "--rate", "200",
                                 "--output", str(out), "--nonblocking",
                                 *os.environ.get("BENCH_PYSPY_ARGS", "").split()], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
    try:
        yield out
    finally:
        recorder.send_signal(signal.SIGINT)
        try:
            recorder.wait(timeout=30)
        except subprocess.TimeoutExpired:
            recorder.kill()


def top_frames(collapsed: Path, n: int = 25, *, own: bool = False) -> list[tuple[str, float]]:
    """The ``n`` functions with most samples in py-spy's raw output: anywhere on the stack (inclusive
    share), or with ``own`` at the top of it (where the time is spent)."""
    counts: dict[str, int] = {}
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, number = line.rpartition(" ")
        if not number.isdigit():
            continue
        total += int(number)
        frames = stack.split(";")
        for frame in ({frames[-1]} if own else set(frames)):
            counts[frame] = counts.get(frame, 0) + int(number)
    ranked = sorted(counts.items(), key=lambda kv: kv[1], reverse=True)[:n]
    return [(frame, hits / total) for frame, hits in ranked] if total else []


def stop_process(popen: subprocess.Popen[bytes], grace_s: float = 15.0) -> None:
    """SIGTERM the process group, SIGKILL it after ``grace_s``."""
    if popen.poll() is not None:
        return
    with suppress(OSError):
        os.killpg(popen.pid, signal.SIGTERM)
    try:
        popen.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        with suppress(OSError):
            os.killpg(popen.pid, signal.SIGKILL)
        popen.wait(timeout=10)


def python_command(*args: str) -> list[str]:
    """``python -m …`` with this interpreter."""
    return [sys.executable, *args]


def gateway_env(database_url: str, blob_dir: Path, **extra: str) -> dict[str, str]:
    """A gateway's environment for a benchmark: quiet logs, nothing inherited from the caller's GATEWAY_*."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    env.update({"GATEWAY_DATABASE_URL": database_url, "GATEWAY_BLOB_DIR": str(blob_dir),
                "GATEWAY_LOG_LEVEL": "WARNING", "GATEWAY_LOG_FORMAT": "json", "GATEWAY_EMBEDDED_WORKER": "false",
                **extra})
    return env


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds used so far by process ``pid`` (and its reaped children)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])) / ticks


def rss_kib(pid: int, key: str = "VmRSS") -> int:
    """A memory figure of process ``pid`` from /proc (``VmRSS`` now, ``VmHWM`` the peak), in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise KeyError(key)


def reset_peak_rss(pid: int) -> bool:
    """Reset the kernel's peak-RSS mark (``VmHWM``) of ``pid``; False when the kernel does not allow it."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        return True
    except OSError:
        return False


# ---- PostgreSQL -------------------------------------------------------------------------------


_CLUSTER: list[Any] = []


def postgres() -> Any:
    """The run's throw-away PostgreSQL cluster from the local binaries (the tests' own), started on first use
    and stopped when the process exits; benchmarks share it and each makes its own database with
    :func:`create_database`. ``.url(db)``, ``.admin_url``, ``.port``.
    """
    if not _CLUSTER:
        import atexit

        from tests.support.pg import start_cluster

        cluster = start_cluster()
        atexit.register(cluster.stop)
        _CLUSTER.append(cluster)
    return _CLUSTER[0]


def create_database(cluster: Any, name: str) -> str:
    """Create database ``name`` in ``cluster``; its SQLAlchemy URL."""
    import psycopg

    with psycopg.connect(f"host=127.0.0.1 port={cluster.port} user=postgres dbname=postgres",
                         autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    return str(cluster.url(name))


def migrate(env: Mapping[str, str]) -> None:
    """``gateway migrate`` against the database of ``env``."""
    result = subprocess.run(python_command("-m", "gateway", "migrate"), env=dict(env), capture_output=True,
                            text=True, cwd=ROOT, timeout=120, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"gateway migrate failed:\n{result.stdout}\n{result.stderr}")


def wait_for(predicate: Any, *, timeout_s: float, interval_s: float = 0.2, what: str = "condition") -> float:
    """Poll ``predicate()`` until truthy; seconds it took. TimeoutError after ``timeout_s``."""
    started = time.monotonic()
    while not predicate():
        if time.monotonic() - started > timeout_s:
            raise TimeoutError(f"{what} not reached within {timeout_s:.0f} s")
        time.sleep(interval_s)
    return time.monotonic() - started
