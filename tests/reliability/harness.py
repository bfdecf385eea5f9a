"""What the reliability scenarios share: the size knob, gateway child processes that can be SIGKILLed and
restarted on the same port, a patient poster, an officer, and the end-state checks."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from adapters.province.client import post_dossier
from adapters.province.samples import numbered_dossier
from gateway.db import create_database
from outbox.models import OutboxMessage
from tests.conftest import PROVINCE_KEY
from tests.contract.ministry_support import SandboxHandle
from tests.e2e.test_lifecycle import Province
from tests.support.intake import sample_files

CALLBACK_SECRET = "reliability-callback-secret"
FIGURES: dict[str, dict[str, Any]] = {}

# What the province hears for each dossier the officer receives, then puts under appraisal.
EXPECTED_CALLBACKS = [
    ("DA_CHUYEN_BO", "CHO_TIEP_NHAN"),
    ("CAP_NHAT_TRANG_THAI", "DA_TIEP_NHAN"),
    ("CAP_NHAT_TRANG_THAI", "DANG_THAM_DINH"),
]
OFFICER_STEPS = {"CHO_TIEP_NHAN": ("DA_TIEP_NHAN", {"canBo": "Cán bộ R"}), "DA_TIEP_NHAN": ("DANG_THAM_DINH", {})}
FINAL_STATUS = "DANG_THAM_DINH"


@dataclass(frozen=True)
class Scale:
    """How big a run is."""

    name: str
    dossiers: int
    kills: int
    fault_dossiers: int
    settle_s: float


SCALES = {
    "small": Scale("small", dossiers=60, kills=5, fault_dossiers=40, settle_s=90.0),
    "soak": Scale("soak", dossiers=1000, kills=20, fault_dossiers=400, settle_s=900.0),
}


def scale() -> Scale:
    """The scale chosen by ``RELIABILITY_SCALE`` (``small`` unless told)."""
    name = os.environ.get("RELIABILITY_SCALE", "small").strip().lower() or "small"
    if name not in SCALES:
        raise ValueError(f"RELIABILITY_SCALE must be one of {sorted(SCALES)}, not {name!r}")
    return SCALES[name]


def record(scenario: str, **figures: Any) -> None:
    """Keep a scenario's figures for last-run.json and print them (seen with -s, and in the summary)."""
    FIGURES[scenario] = figures
    print(f"[reliability] {scenario}: {figures}")


class Child:
    """``gateway serve`` or ``gateway worker`` as a child process that can be SIGKILLed and started again."""

    def __init__(self, name: str, args: list[str], env: Mapping[str, str], log_dir: Path,
                 health_url: str | None = None) -> None:
        self.name = name
        self.args = args
        self.env = dict(env)
        self.log_path = log_dir / f"{name}.log"
        self.health_url = health_url
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self, wait: bool = True) -> None:
        """Start (again); for ``serve``, wait until /health/live answers."""
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen([sys.executable, "-m", "gateway", *self.args], env=self.env,
                                            stdout=log, stderr=subprocess.STDOUT)
        self.starts += 1
        if wait and self.health_url:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"{self.name} exited with {self.process.returncode}:\n{self.log()[-3000:]}")
                try:
                    if httpx.get(self.health_url, timeout=1).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                time.sleep(0.05)
            raise RuntimeError(f"{self.name} did not start:\n{self.log()[-3000:]}")

    def kill(self) -> None:
        """SIGKILL: no cleanup at all."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 15 s."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()

    def alive(self) -> bool:
        """Whether the process runs."""
        return self.process is not None and self.process.poll() is None

    def log(self) -> str:
        """What it wrote so far (all incarnations)."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@dataclass
class PostResult:
    """What the poster saw."""

    accepted: dict[str, datetime] = field(default_factory=dict)  # MaHoSo → first 200/202
    statuses: Counter[int] = field(default_factory=Counter)
    connection_errors: int = 0
    bad_answers: list[str] = field(default_factory=list)  # anything but 200/202/503-problem/507-problem


class Poster(threading.Thread):
    """Posts dossiers one after another, retrying each until the gateway takes it (as a province would)."""

    def __init__(self, base_url: str, numbers: range, *, pause_s: float = 0.0, give_up_s: float = 120.0) -> None:
        super().__init__(name="poster", daemon=True)
        self.base_url = base_url
        self.numbers = numbers
        self.pause_s = pause_s
        self.give_up_s = give_up_s
        self.result = PostResult()
        self.dossiers: dict[str, dict[str, bytes]] = {}  # MaHoSo → its files
        self.error: BaseException | None = None

    def run(self) -> None:
        """Post every dossier."""
        try:
            with httpx.Client(base_url=self.base_url, timeout=10) as http:
                for number in self.numbers:
                    dossier = numbered_dossier(number)
                    files = sample_files(dossier)
                    self.dossiers[dossier["MaHoSo"]] = files
                    self._post_until_taken(http, dossier, files)
                    if self.pause_s:
                        time.sleep(self.pause_s)
        except BaseException as exc:  # reported by the test
            self.error = exc

    def _post_until_taken(self, http: httpx.Client, dossier: dict[str, Any], files: dict[str, bytes]) -> None:
        deadline = time.monotonic() + self.give_up_s
        while time.monotonic() < deadline:
            try:
                answer = post_dossier(http, PROVINCE_KEY, dossier, files)
            except httpx.HTTPError:
                self.result.connection_errors += 1
                time.sleep(0.1)
                continue
            self.result.statuses[answer.status_code] += 1
            if answer.status_code in (200, 202):
                self.result.accepted.setdefault(dossier["MaHoSo"], datetime.now())
                return
            problem = answer.headers.get("content-type", "").startswith("application/problem+json")
            if answer.status_code not in (503, 507) or not problem or "Traceback" in answer.text:
                self.result.bad_answers.append(f"{answer.status_code} {answer.headers.get('content-type')} "
                                               f"{answer.text[:200]}")
            time.sleep(0.1)
        raise TimeoutError(f"{dossier['MaHoSo']} was never taken")


class Officer(threading.Thread):
    """The ministry officer: receives each dossier in pending reception, then puts it under appraisal."""

    def __init__(self, ministry: SandboxHandle) -> None:
        super().__init__(name="officer", daemon=True)
        self.ministry = ministry
        self.stopping = threading.Event()
        self.actions = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        """Act on whatever is waiting, until stopped."""
        try:
            with httpx.Client(base_url=self.ministry.base_url, timeout=10) as http:
                while not self.stopping.is_set():
                    for dossier in http.get("/_sandbox/ho-so").json()["hoSo"]:
                        step = OFFICER_STEPS.get(dossier["trangThai"])
                        if step is None:
                            continue
                        status, extras = step
                        answer = http.post(f"/_sandbox/ho-so/{dossier['id']}/hanh-dong",
                                           json={"trangThai": status, **extras})
                        if answer.status_code != 200:
                            raise AssertionError(f"officer action refused: {answer.text}")
                        self.actions += 1
                    self.stopping.wait(0.2)
        except BaseException as exc:  # reported by the test
            self.error = exc


def sha256_hex(data: bytes) -> str:
    """Lowercase hex SHA-256."""
    return hashlib.sha256(data).hexdigest()


def outbox_states(db_url: str) -> Counter[str]:
    """How many outbox messages are in each state."""
    database = create_database(db_url)
    try:
        with database.session() as session:
            return Counter(session.execute(select(OutboxMessage.state)).scalars().all())  # type: ignore[call-overload]
    finally:
        database.dispose()


def max_delivery_delay_s(db_url: str) -> float:
    """The longest time from intake to delivery (``deliver_dossier`` created → finished)."""
    database = create_database(db_url)
    try:
        with database.session() as session:
            rows = session.execute(
                select(OutboxMessage.created_at, OutboxMessage.finished_at)  # type: ignore[call-overload]
                .where(OutboxMessage.kind == "deliver_dossier", OutboxMessage.finished_at.is_not(None))  # type: ignore[union-attr]
            ).all()
    finally:
        database.dispose()
    return round(max(((done - made).total_seconds() for made, done in rows), default=0.0), 2)


def wait_for(predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.5) -> Any:
    """Poll until ``predicate`` is truthy; AssertionError naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached within {timeout}s: {what}")
        time.sleep(interval)


@dataclass
class EndState:
    """The checks of the issue's end state, as figures (all zero when everything holds)."""

    missing_at_ministry: list[str]
    duplicated_at_ministry: list[str]
    hash_mismatches: list[str]
    callback_faults: dict[str, Any]
    callback_duplicates_dropped: int
    stuck: int

    @property
    def ok(self) -> bool:
        """Everything as it must be."""
        return not (self.missing_at_ministry or self.duplicated_at_ministry or self.hash_mismatches
                    or self.callback_faults or self.stuck)


def ministry_complete(ministry: SandboxHandle, codes: list[str], final: str | None = FINAL_STATUS) -> bool:
    """Every code is in the ministry (at ``final``, when given)."""
    held = {d["maHoSoTinh"]: d["trangThai"] for d in ministry.all_dossiers()}
    return all(code in held and (final is None or held[code] == final) for code in codes)


def callbacks_complete(province: Province, codes: list[str]) -> bool:
    """Every code has had all its callbacks."""
    found = province.http.get("/_sandbox/callbacks").json()["callbacks"]
    per_code = Counter(c["MaHoSo"] for c in found)
    return all(per_code[code] >= len(EXPECTED_CALLBACKS) for code in codes)


def outbox_settled(db_url: str) -> bool:
    """Nothing pending or in flight."""
    states = outbox_states(db_url)
    return not states.get("pending") and not states.get("in_flight")


def end_state(ministry: SandboxHandle, province: Province | None, db_url: str,
              files: Mapping[str, dict[str, bytes]]) -> EndState:
    """Compare what the peers hold with what was accepted."""
    held = ministry.all_dossiers()
    counts = Counter(d["maHoSoTinh"] for d in held)
    missing = sorted(code for code in files if counts[code] == 0)
    duplicated = sorted(code for code, n in counts.items() if n > 1)
    mismatches = []
    for dossier in held:
        expected = {sha256_hex(data) for data in files.get(dossier["maHoSoTinh"], {}).values()}
        got = {f["sha256"] for comp in dossier["thanhPhanHoSo"] for f in comp.get("tepTin", [])}
        if got != expected:
            mismatches.append(dossier["maHoSoTinh"])
    faults: dict[str, Any] = {}
    dropped = 0
    if province is not None:
        found = province.http.get("/_sandbox/callbacks").json()["callbacks"]
        per_code: dict[str, list[dict[str, Any]]] = {}
        for callback in found:
            per_code.setdefault(callback["MaHoSo"], []).append(callback)
            dropped += callback.get("duplicates", 0)
        for code in files:
            seen = [(c["SuKien"], c["TrangThaiBo"]) for c in per_code.get(code, [])]
            if seen != EXPECTED_CALLBACKS:
                faults[code] = seen
            elif not all(c["signature_ok"] and not c["out_of_order"] for c in per_code[code]):
                faults[code] = "signature or order"
            elif len({c["EventId"] for c in per_code[code]}) != len(EXPECTED_CALLBACKS):
                faults[code] = "EventId reused"
    states = outbox_states(db_url)
    return EndState(missing, duplicated, mismatches, faults, dropped,
                    stuck=states.get("in_flight", 0) + states.get("dead", 0))


@dataclass
class Seen:
    """One request as the peer saw it, timed precisely (the sandbox's own log keeps whole seconds)."""

    at: float  # time.monotonic() when the request arrived
    method: str
    path: str
    key: str | None
    status: int | None = None
    retry_after: float | None = None


class Recorder:
    """ASGI wrapper that notes every request and its answer's status and Retry-After."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.seen: list[Seen] = []
        self._lock = threading.Lock()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        """Record, then pass through."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers", []))
        entry = Seen(time.monotonic(), scope["method"], scope["path"],
                     headers.get(b"idempotency-key", b"").decode() or None)
        with self._lock:
            self.seen.append(entry)

        async def noting(message: Any) -> None:
            if message["type"] == "http.response.start":
                entry.status = message["status"]
                for name, value in message.get("headers", []):
                    if name.lower() == b"retry-after":
                        entry.retry_after = float(value.decode())
            await send(message)

        await self.app(scope, receive, noting)

    def entries(self, since: float = 0.0, until: float = float("inf"), prefix: str = "/api/v1/") -> list[Seen]:
        """The requests under ``prefix`` that arrived in [since, until)."""
        with self._lock:
            return [e for e in self.seen if since <= e.at < until and e.path.startswith(prefix)]
