"""Delivery: N pre-queued dossiers drained by ``gateway worker`` into the ministry sandbox, against a bare script.

Set-up (not timed): one SQLite template database holding N dossiers exactly as intake leaves them
(``submit_dossier`` in-process: dossier + revision + one small PDF blob + outbox row each), and one
ministry sandbox process (rate limit off, no faults). Each timed run gets a fresh copy of the
template and a reset sandbox.

* gateway: ``gateway worker --concurrency C`` as a child process with ``GATEWAY_MINISTRY_TRANSPORT``
  set; the drain time runs from the first attempt's start to the last message's ``finished_at`` (both
  written by the worker, so the process's start-up is left out; the wall time with start-up is kept too).
* bare: the same HTTP calls (one token, then per dossier the same upload with the same file bytes and
  keys, and the same create body) with an ``httpx.AsyncClient`` on the same transport and pool, C
  coroutines, no database.

Runs alternate gateway/bare and the transports, medians are taken. Every run is verified: every
dossier created exactly once at the sandbox, every upload and create answered 201 and not replayed,
every outbox message done in one attempt, every dossier ``delivered``, no warning or error in the
worker's log; anything else raises.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sqlite3
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, closing, contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import httpx

from adapters.ministry.auth import TOKEN_PATH, token_form
from adapters.ministry.client import CREATE_PATH, UPLOAD_PATH
from adapters.ministry.filenames import sanitize_filename
from adapters.ministry.sandbox.config import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
from adapters.ministry.transport import DEFAULT_TRANSPORT, TRANSPORT_NAMES, TransportName, make_transport
from adapters.province.samples import numbered_dossier, sample_pdf_bytes
from bench.harness import (
    ROOT,
    Process,
    Report,
    Scale,
    Stat,
    cpu_seconds,
    gateway_env,
    python_command,
    ratio,
    serve,
    stop_process,
)
from gateway.settings import Settings

NAME = "delivery"
TITLE = "Delivery: queued dossiers drained into the ministry sandbox, against a bare HTTP script"

GOAL_RATIO = 0.5

NOTES: tuple[str, ...] = (
    "Before (quick, N=300, c8): gateway 57.8 dossiers/s on httpx (0.18x bare), 71.8/s on aiohttp (0.11x); the "
    "worker was CPU-bound at 14-15 ms (httpx) / 11 ms (aiohttp) of CPU per dossier. py-spy (--gil) showed it "
    "spread over SQLAlchemy's ORM (session.get, bulk UPDATE with synchronize, unit of work), five write "
    "transactions per dossier (claim, mark delivering, record upload, complete, attempt log), a claim round "
    "per finished message, thread hops for stat/open/is_file, and httpx's own pool.",
    "Fixes: the delivery path's SQL as Core statements built once; 'delivering' marked in the claim's "
    "transaction (Handler.on_claimed) so the load is a read; the upload's id recorded with the outcome "
    "(or, on failure, before the error goes on); successes completed together (group commit); claims ahead "
    "of free slots (prefetch = concurrency: one claim per ~9 messages instead of ~1, 0.19 vs 1.4 ms of CPU "
    "each); blob files opened in the load's thread trip (upload latency 12 -> 8 ms); the dispatcher no "
    "longer loses wake-ups (a slot freed during a claim round stayed idle until the next message ended: "
    "the worker sat at ~57% CPU); the SQLite worker's database steps on 2 threads, not 6 (+8% in a 5x "
    "A/B); aiohttp as the default transport.",
    "After (quick, quiet machine): gateway ~185-210/s on aiohttp (4.4-5 ms CPU per dossier, CPU-bound on "
    "one core) vs bare 560-690/s (1.5-1.9 ms per dossier, the sandbox on the other core): 0.30-0.33x; "
    "0.4-0.5x when other loads share the two cores (the bare script loses its second core first). Full "
    "(N=1500, two runs): c8 0.32-0.33x (181-192 vs 542-592/s); c32 0.36-0.51x (237-252 vs 493-657/s: the "
    "bare script is sandbox-bound there, and batching makes the worker cheaper per dossier, 3.7-4 ms).",
    "What is left (py-spy --gil, flat): the same httpx+aiohttp stack as the bare script (~40%), the two "
    "database steps per dossier in threads (~30%) and asyncio glue. Running the database steps inline on "
    "the event loop gave +55% (in-process A/B, 4x) - the GIL hand-offs between the loop and the database threads - but "
    "would block every delivery in flight on SQLite's write lock (shared with the API process) and on "
    "fsync; not done. Two worker processes (2 x c4) do not help on SQLite (187-210 vs 184-191/s).",
    "Context: the ministry's contract allows 20 requests/s per client (about 10 dossiers/s); the sandbox's "
    "rate limit is off here to measure the gateway itself.",
    "Transports: aiohttp's pool under httpx's API delivers 1.5-2.2x httpx's own at c8 (both sides), and "
    "httpx's pool degrades at c32 (bare 88-108/s vs 420-620/s with aiohttp). Made the default "
    "(GATEWAY_MINISTRY_TRANSPORT=aiohttp) after mapping aiohttp's failures to the httpx exceptions httpx "
    "raises and adding a write timeout (tests/contract/test_ministry_transports.py).",
    "Issue 13 (delivery SQL moved into the dossier repository, steps finished with workflow.finish_step),"
    " quick, same machine: gateway aiohttp c8 151 dossiers/s before (fd05b99+) -> 175-216 over three runs"
    " after; httpx c8 109 -> 97-123 (8.2-10.4 ms CPU per dossier, 9.0 before): within the noise of these "
    "shared cores.",
)
POOL = 32  # MinistryClient's default max_connections, used by both sides
DRAIN_TIMEOUT_S = 300.0
_PLACEHOLDER = "@@file-id@@"


@dataclass(frozen=True)
class Plan:
    """What one scale runs: each (transport, concurrency) by the gateway and by the bare script."""

    dossiers: int
    concurrencies: tuple[int, ...]
    transports: tuple[TransportName, ...]
    repeats: int


PLANS: dict[Scale, Plan] = {
    "smoke": Plan(20, (8,), (DEFAULT_TRANSPORT,), 1),
    "quick": Plan(250, (8,), TRANSPORT_NAMES, 1),
    "full": Plan(1500, (8, 32), TRANSPORT_NAMES, 2),
}

Key = tuple[str, TransportName, int, int]
"""(side, transport, concurrency, worker processes)."""


@dataclass(frozen=True)
class Job:
    """One dossier's two calls as the worker makes them, ready for the bare script."""

    path: Path
    upload_data: dict[str, str]
    file_name: str
    content_type: str
    upload_key: str
    create_key: str
    body_template: str  # the create body's JSON with the uploaded file's id as a placeholder


@dataclass(frozen=True)
class Sample:
    """One timed drain."""

    seconds: float
    requests: int
    wall_s: float
    client_cpu_s: float
    sandbox_cpu_s: float

    def dossiers_per_s(self, n: int) -> float:
        """Delivered dossiers per second."""
        return n / self.seconds

    def requests_per_s(self) -> float:
        """HTTP requests per second the sandbox received."""
        return self.requests / self.seconds


# ---- set-up ------------------------------------------------------------------------------------


def seed(database_url: str, blob_dir: Path, n: int) -> None:
    """Migrate, then queue ``n`` realistic dossiers (one small PDF each) through intake's own service function."""
    from gateway.blobs.fs import FileBlobStore
    from gateway.db import create_database
    from gateway.dossiers.receive import Submission
    from gateway.dossiers.service import submit_dossier
    from gateway.logging import configure_logging
    from gateway.migrate import upgrade

    configure_logging("json", "WARNING")  # as the gateway's processes run here: quiet
    upgrade(database_url)
    db = create_database(database_url)
    blobs = FileBlobStore(blob_dir)
    blobs.ensure()
    try:
        for number in range(1, n + 1):
            dossier = numbered_dossier(number)
            staged = blobs.stage(Settings().max_file_bytes)
            staged.write(sample_pdf_bytes(f"{dossier['MaHoSo']} f1"))
            staged.finish()
            submission = Submission(raw=dossier, files={"f1": staged})
            try:
                receipt = submit_dossier(db, submission, "bench")
            finally:
                submission.discard()
            if receipt.status_code != 202:
                raise RuntimeError(f"seeding dossier {number}: intake answered {receipt.status_code}")
    finally:
        db.dispose()


def load_jobs(database_url: str, blob_dir: Path) -> list[Job]:
    """The calls the worker will make for each queued message, built with the gateway's own mapping."""
    from sqlalchemy import select
    from sqlmodel import col

    from gateway.blobs.fs import FileBlobStore
    from gateway.db import create_database
    from gateway.models import Attachment, Dossier, DossierRevision
    from mappings.canonical import dossier_from_json
    from mappings.dates import to_iso
    from mappings.ministry import to_ministry_body
    from outbox.models import OutboxMessage

    db = create_database(database_url)
    blobs = FileBlobStore(blob_dir)
    jobs: list[Job] = []
    try:
        with db.session() as session:
            messages = session.execute(select(OutboxMessage).order_by(col(OutboxMessage.id))).scalars().all()
            for message in messages:
                dossier = session.get(Dossier, message.payload["dossier_id"])
                revision = session.execute(select(DossierRevision).where(
                    col(DossierRevision.dossier_id) == message.payload["dossier_id"],
                    col(DossierRevision.revision) == message.payload["revision"])).scalar_one()
                (attachment,) = session.execute(
                    select(Attachment).where(col(Attachment.revision_id) == revision.id)).scalars().all()
                assert dossier is not None
                body = to_ministry_body(dossier_from_json(revision.content), {attachment.file_id: _PLACEHOLDER})
                if body.get("ngayHenTra") is None and dossier.due_at is not None:
                    body["ngayHenTra"] = to_iso(dossier.due_at)
                jobs.append(Job(
                    path=blobs.path_for(attachment.sha256),
                    upload_data={"maThanhPhan": attachment.component_code, "sha256": attachment.sha256},
                    file_name=sanitize_filename(attachment.file_name, component_code=attachment.component_code,
                                                content_type=attachment.content_type),
                    content_type=attachment.content_type,
                    upload_key=f"tt-{attachment.id}",
                    create_key=f"hs-{revision.id}",
                    body_template=json.dumps(body, ensure_ascii=False, separators=(",", ":"), sort_keys=True),
                ))
    finally:
        db.dispose()
    return jobs


# ---- the sandbox ---------------------------------------------------------------------------------


@contextmanager
def ministry_sandbox(log_dir: Path) -> Iterator[Process]:
    """The ministry sandbox as its own process: rate limit off, no faults."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    with serve("ministry sandbox",
               python_command("-m", "adapters.ministry.sandbox", "--port", "{port}", "--no-rate-limit"),
               env=env, ready_path="/_sandbox/health", log_dir=log_dir) as process:
        yield process


def reset_sandbox(sandbox: Process) -> None:
    """Forget every dossier, file, token and logged request."""
    httpx.post(sandbox.base_url + "/_sandbox/reset", timeout=30).raise_for_status()


def verify_sandbox(sandbox: Process, n: int, what: str) -> int:
    """Check the sandbox received each dossier exactly once; the number of contract requests it got."""
    entries = httpx.get(sandbox.base_url + "/_sandbox/requests", timeout=60).json()["requests"]
    by_path = Counter(e["path"] for e in entries)
    problems: list[str] = []
    bad = [e for e in entries if not (e["status"] and 200 <= e["status"] < 300) or e["fault"] or not e["answered"]]
    if bad:
        problems.append(f"{len(bad)} failed requests, e.g. {bad[0]}")
    for path in (UPLOAD_PATH, CREATE_PATH):
        calls = [e for e in entries if e["path"] == path]
        keys = {e["idempotency_key"] for e in calls}
        if len(calls) != n or len(keys) != n or any(e["replayed"] for e in calls):
            problems.append(f"{path}: {len(calls)} calls, {len(keys)} keys for {n} dossiers")
    created = httpx.get(sandbox.base_url + "/_sandbox/ho-so", timeout=60).json()["count"]
    if created != n:
        problems.append(f"the sandbox holds {created} dossiers, expected {n}")
    if problems:
        raise RuntimeError(f"{what}: " + "; ".join(problems))
    return sum(by_path.values())


# ---- the gateway ---------------------------------------------------------------------------------


def _db_counts(conn: sqlite3.Connection) -> dict[str, int]:
    return dict(conn.execute("SELECT state, count(*) FROM outbox_message GROUP BY state").fetchall())


def run_gateway(template: Path, blob_dir: Path, sandbox: Process, work: Path, n: int, concurrency: int,
                transport: TransportName, run: int, workers: int = 1) -> Sample:
    """Drain a copy of the template with ``workers`` × ``gateway worker --concurrency concurrency/workers``;
    verify and time it."""
    reset_sandbox(sandbox)
    db_path = work / f"gateway-{run}.db"
    shutil.copyfile(template, db_path)
    env = gateway_env(f"sqlite:///{db_path}", blob_dir,
                      GATEWAY_MINISTRY_BASE_URL=sandbox.base_url, GATEWAY_MINISTRY_CLIENT_ID=DEFAULT_CLIENT_ID,
                      GATEWAY_MINISTRY_CLIENT_SECRET=DEFAULT_CLIENT_SECRET, GATEWAY_MINISTRY_TRANSPORT=transport)
    command = python_command("-m", "gateway", "worker", "--concurrency", str(concurrency // workers))
    logs = [work / f"worker-{run}-{i}.log" for i in range(workers)]
    with ExitStack() as stack:
        conn = stack.enter_context(closing(sqlite3.connect(db_path, timeout=30)))
        started = time.monotonic()
        popens = []
        for log_path in logs:
            log = stack.enter_context(log_path.open("wb"))
            popen = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
                                     start_new_session=True)
            stack.callback(stop_process, popen)
            popens.append(popen)
        cpu0 = sandbox_cpu0 = None
        while True:
            if any(popen.poll() is not None for popen in popens):
                raise RuntimeError(f"a worker exited:\n{_tails(logs)}")
            counts = _db_counts(conn)
            if cpu0 is None and counts.get("pending", 0) < n:
                cpu0, sandbox_cpu0 = sum(cpu_seconds(p.pid) for p in popens), cpu_seconds(sandbox.pid)
            if counts.get("dead") or counts.get("cancelled"):
                raise RuntimeError(f"messages failed: {counts}\n{_tails(logs)}")
            if counts.get("done", 0) >= n:
                break
            if time.monotonic() - started > DRAIN_TIMEOUT_S:
                raise RuntimeError(f"not drained within {DRAIN_TIMEOUT_S:.0f} s: {counts}\n{_tails(logs)}")
            time.sleep(0.02)
        wall = time.monotonic() - started
        client_cpu = sum(cpu_seconds(p.pid) for p in popens) - (cpu0 or 0.0)
        sandbox_cpu = cpu_seconds(sandbox.pid) - (sandbox_cpu0 or 0.0)
    seconds = _verify_gateway(db_path, n, logs)
    if problems := _logged_problems(logs):
        raise RuntimeError("the worker logged warnings or errors:\n" + "\n".join(problems[:20]))
    requests = verify_sandbox(sandbox, n, f"gateway run {run}")
    for path in work.glob(f"{db_path.name}*"):  # with -wal, -shm and the writers' lock file
        path.unlink(missing_ok=True)
    return Sample(seconds, requests, wall, client_cpu, sandbox_cpu)


def _verify_gateway(db_path: Path, n: int, logs: list[Path]) -> float:
    """Check every message is done in one attempt and every dossier delivered; the drain's seconds."""
    with closing(sqlite3.connect(db_path, timeout=30)) as conn:
        states = dict(conn.execute("SELECT state, count(*) FROM outbox_message GROUP BY state").fetchall())
        outcomes = dict(conn.execute("SELECT outcome, count(*) FROM outbox_attempt GROUP BY outcome").fetchall())
        delivered = conn.execute("SELECT count(*) FROM dossier WHERE delivery_state = 'delivered'").fetchone()[0]
        first, last = conn.execute(
            "SELECT (SELECT min(started_at) FROM outbox_attempt), (SELECT max(finished_at) FROM outbox_message)"
        ).fetchone()
    if states != {"done": n} or outcomes != {"done": n} or delivered != n:
        raise RuntimeError(f"gateway drain incomplete: messages {states}, attempts {outcomes}, "
                           f"{delivered} of {n} dossiers delivered\n{_tails(logs)}")
    return (datetime.fromisoformat(last) - datetime.fromisoformat(first)).total_seconds()


def _logged_problems(paths: list[Path]) -> list[str]:
    """The worker's log lines at warning or above (it logs at WARNING: a clean drain logs nothing)."""
    levels = ('"level": "warning"', '"level": "error"', '"level": "critical"', "Traceback")
    return [line for path in paths if path.exists() for line in path.read_text(errors="replace").splitlines()
            if any(level in line for level in levels)]


def _tails(paths: list[Path], lines: int = 30) -> str:
    return "\n".join("\n".join(path.read_text(errors="replace").splitlines()[-lines:])
                     for path in paths if path.exists())


# ---- the bare script -------------------------------------------------------------------------------


async def _bare(base_url: str, jobs: list[Job], concurrency: int, transport: TransportName) -> tuple[float, int]:
    """The same calls with the same client stack, no database; (seconds, requests)."""
    async with httpx.AsyncClient(
        base_url=base_url, timeout=httpx.Timeout(30.0), follow_redirects=False,
        transport=make_transport(transport, max_connections=POOL),
        headers={"Accept": "application/json", "User-Agent": "sa-gateway ministry-client"},
    ) as http:
        started = time.perf_counter()
        answer = await http.post(TOKEN_PATH, data=token_form(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET))
        answer.raise_for_status()
        auth = f"Bearer {answer.json()['access_token']}"
        queue = iter(jobs)

        async def one(job: Job) -> None:
            with job.path.open("rb") as file:
                uploaded = await http.post(
                    UPLOAD_PATH, data=job.upload_data, files={"tep": (job.file_name, file, job.content_type)},
                    headers={"Authorization": auth, "Idempotency-Key": job.upload_key})
            if uploaded.status_code != 201:
                raise RuntimeError(f"bare upload answered {uploaded.status_code}: {uploaded.text[:300]}")
            body = job.body_template.replace(_PLACEHOLDER, uploaded.json()["id"]).encode()
            created = await http.post(CREATE_PATH, content=body, headers={
                "Authorization": auth, "Idempotency-Key": job.create_key,
                "Content-Type": "application/json; charset=utf-8"})
            if created.status_code != 201:
                raise RuntimeError(f"bare create answered {created.status_code}: {created.text[:300]}")

        async def lane() -> None:
            for job in queue:
                await one(job)

        await asyncio.gather(*(lane() for _ in range(concurrency)))
        return time.perf_counter() - started, 1 + 2 * len(jobs)


def run_bare(jobs: list[Job], sandbox: Process, concurrency: int, transport: TransportName, run: int) -> Sample:
    """One timed, verified run of the bare script."""
    reset_sandbox(sandbox)
    sandbox_cpu0, cpu0, started = cpu_seconds(sandbox.pid), time.process_time(), time.monotonic()
    seconds, _ = asyncio.run(_bare(sandbox.base_url, jobs, concurrency, transport))
    wall = time.monotonic() - started
    client_cpu, sandbox_cpu = time.process_time() - cpu0, cpu_seconds(sandbox.pid) - sandbox_cpu0
    requests = verify_sandbox(sandbox, len(jobs), f"bare run {run}")
    return Sample(seconds, requests, wall, client_cpu, sandbox_cpu)


# ---- the benchmark ---------------------------------------------------------------------------------


def run(scale: Scale) -> Report:
    """Seed, then drain with the gateway and the bare script alternately; the report."""
    plan = PLANS[scale]
    n = plan.dossiers
    report = Report(NAME, TITLE, scale, parameters={
        "dossiers": n, "attachments_per_dossier": 1, "concurrency": list(plan.concurrencies),
        "transports": list(plan.transports), "repeats": plan.repeats, "pool": POOL, "database": "sqlite",
        "sandbox": "separate process, rate limit off, no faults", "log_level": "WARNING",
        "default_transport": Settings().ministry_transport,
    })
    with tempfile.TemporaryDirectory(prefix="bench-delivery-") as tmp:
        work = Path(tmp)
        template, blob_dir = work / "template.db", work / "blobs"
        url = f"sqlite:///{template}"
        t0 = time.monotonic()
        seed(url, blob_dir, n)
        jobs = load_jobs(url, blob_dir)
        with closing(sqlite3.connect(template)) as conn:  # every copy then holds it all, without a -wal
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        report.extra["setup_s"] = round(time.monotonic() - t0, 2)
        if len(jobs) != n:
            raise RuntimeError(f"seeded {len(jobs)} messages, expected {n}")
        samples: dict[Key, list[Sample]] = {}
        with ministry_sandbox(work) as sandbox:
            counter = 0
            for repeat in range(plan.repeats):
                transports = plan.transports if repeat % 2 == 0 else tuple(reversed(plan.transports))
                for concurrency in plan.concurrencies:
                    for transport in transports:
                        counter += 1
                        samples.setdefault(("gateway", transport, concurrency, 1), []).append(
                            run_gateway(template, blob_dir, sandbox, work, n, concurrency, transport, counter))
                        samples.setdefault(("bare", transport, concurrency, 1), []).append(
                            run_bare(jobs, sandbox, concurrency, transport, counter))
    _fill(report, plan, samples)
    return report


def _label(key: Key) -> str:
    side, transport, concurrency, workers = key
    return f"{side} {transport} " + (f"c{concurrency}" if workers == 1 else f"{workers}×c{concurrency // workers}")


def _fill(report: Report, plan: Plan, samples: dict[Key, list[Sample]]) -> None:
    n = plan.dossiers
    medians: dict[Key, float] = {}
    for key, runs in samples.items():
        rates = Stat.of([s.dossiers_per_s(n) for s in runs])
        medians[key] = rates.median
        report.add_row(**{
            "configuration": _label(key),
            "dossiers/s": rates,
            "requests/s": Stat.of([s.requests_per_s() for s in runs]),
            "drain s": Stat.of([s.seconds for s in runs]),
            "wall s": Stat.of([s.wall_s for s in runs]),
            "client CPU ms/dossier": Stat.of([1000 * s.client_cpu_s / n for s in runs]),
            "client CPU %": Stat.of([100 * s.client_cpu_s / s.seconds for s in runs]),
            "sandbox CPU %": Stat.of([100 * s.sandbox_cpu_s / s.seconds for s in runs]),
        })
    for transport in plan.transports:
        for concurrency in plan.concurrencies:
            report.ratios[f"gateway/bare {transport} c{concurrency}"] = ratio(
                medians[("gateway", transport, concurrency, 1)], medians[("bare", transport, concurrency, 1)])
    if len(plan.transports) > 1:
        for concurrency in plan.concurrencies:
            for side in ("gateway", "bare"):
                report.ratios[f"{side} aiohttp/httpx c{concurrency}"] = ratio(
                    medians[(side, "aiohttp", concurrency, 1)], medians[(side, "httpx", concurrency, 1)])
    default: TransportName = Settings().ministry_transport
    for concurrency in plan.concurrencies:
        report.goal(f"gateway ÷ bare ({default}, c{concurrency}, one worker)",
                    report.ratios[f"gateway/bare {default} c{concurrency}"], GOAL_RATIO)
    report.note("drain s: first attempt started → last message finished (the worker's own timestamps, start-up "
                "excluded); wall s: from spawning the worker (or starting the script) to seeing all done. "
                "CPU: the client's (worker's, counted from its first claim) and the sandbox's CPU seconds; % of the "
                "drain time.")
    for text in NOTES:
        report.note(text)
