"""``make run``: the gateway and the peer sandboxes on SQLite, wired together, for a newcomer to watch.

Starts each as a child process (``gateway sandbox ministry``, ``gateway sandbox province``,
``gateway sandbox population``, ``gateway serve``) with demo credentials, waits until each answers, prints
where to look, and stops them all on Ctrl-C. Ports: ``GATEWAY_PORT`` (8000), ``MINISTRY_SANDBOX_PORT``
(8001), ``PROVINCE_SANDBOX_PORT`` (8002), ``POPULATION_SANDBOX_PORT`` (8003), ``ALERTS_SANDBOX_PORT`` (8004, the
alert receiver).
"""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass

import httpx

DEMO_PROVINCE_KEY = "demo-province-key"  # published demo credentials, sandbox use only
DEMO_ADMIN_KEY = "demo-admin-key"
DEMO_MONITOR_KEY = "demo-monitor-key"  # read-only console and admin reads
DEMO_CALLBACK_SECRET = "demo-callback-secret"  # noqa: S105
DEMO_ALERT_SECRET = "demo-alert-secret"  # noqa: S105
SANDBOX_CLIENT_ID = "sandbox-client"
SANDBOX_CLIENT_SECRET = "sandbox-secret"  # noqa: S105


@dataclass
class Child:
    """One process of the demo."""

    name: str
    args: list[str]
    ready_url: str
    process: subprocess.Popen[bytes] | None = None


def _available(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # a parent package that does not exist yet
        return False


def _children(host: str, gw: int, ministry: int, province: int, population: int, alerts: int) -> list[Child]:
    gateway = [sys.executable, "-m", "gateway"]
    children: list[Child] = []
    if _available("adapters.ministry.sandbox.app"):
        children.append(Child("ministry sandbox", [*gateway, "sandbox", "ministry", "--port", str(ministry)],
                              f"http://{host}:{ministry}/_sandbox/cho-tiep-nhan"))
    if _available("adapters.province.sandbox.app"):
        children.append(Child("province sandbox", [*gateway, "sandbox", "province", "--port", str(province)],
                              f"http://{host}:{province}/_sandbox/health"))
    if _available("adapters.population.sandbox.app"):
        children.append(Child("population sandbox",
                              [*gateway, "sandbox", "population", "--port", str(population)],
                              f"http://{host}:{population}/_sandbox/health"))
    if _available("adapters.alerting.sandbox"):
        children.append(Child("alert receiver", [*gateway, "sandbox", "alerts", "--port", str(alerts)],
                              f"http://{host}:{alerts}/_sandbox/alerts"))
    children.append(Child("gateway", [*gateway, "serve", "--host", host, "--port", str(gw)],
                          f"http://{host}:{gw}/health/ready"))
    return children


def _wait_ready(child: Child, stopping: threading.Event, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not stopping.is_set():
        if child.process is not None and child.process.poll() is not None:
            return False
        try:
            if httpx.get(child.ready_url, timeout=1.0).status_code < 500:
                return True
        except httpx.HTTPError:
            pass
        stopping.wait(0.2)
    return False


def _stop(children: list[Child], *, signalled: bool) -> None:
    """Stop the children: ``signalled`` (Ctrl-C, which reached them too), they get a moment to stop on their own
    first, since a second SIGINT makes uvicorn abandon its graceful shutdown."""
    if signalled:
        deadline = time.monotonic() + 3.0
        for child in children:
            while child.process is not None and child.process.poll() is None and time.monotonic() < deadline:
                time.sleep(0.05)
    for child in reversed(children):
        if child.process is not None and child.process.poll() is None:
            child.process.send_signal(signal.SIGINT)
    for child in reversed(children):
        if child.process is not None:
            try:
                child.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.process.kill()


def main() -> int:
    """Run the demo until Ctrl-C; the exit status is non-zero if a process failed to start or died."""
    host = "127.0.0.1"
    gw = int(os.environ.get("GATEWAY_PORT", "8000"))
    ministry = int(os.environ.get("MINISTRY_SANDBOX_PORT", "8001"))
    province = int(os.environ.get("PROVINCE_SANDBOX_PORT", "8002"))
    population = int(os.environ.get("POPULATION_SANDBOX_PORT", "8003"))
    alerts = int(os.environ.get("ALERTS_SANDBOX_PORT", "8004"))
    env = {
        **os.environ,
        "GATEWAY_API_KEYS": os.environ.get(
            "GATEWAY_API_KEYS",
            f"demo-province:{DEMO_PROVINCE_KEY}:dossiers:write+dossiers:read,demo-admin:{DEMO_ADMIN_KEY}:admin,"
            f"demo-monitor:{DEMO_MONITOR_KEY}:monitor",
        ),
        "GATEWAY_MINISTRY_BASE_URL": os.environ.get("GATEWAY_MINISTRY_BASE_URL", f"http://{host}:{ministry}"),
        "GATEWAY_MINISTRY_CLIENT_ID": os.environ.get("GATEWAY_MINISTRY_CLIENT_ID", SANDBOX_CLIENT_ID),
        "GATEWAY_MINISTRY_CLIENT_SECRET": os.environ.get("GATEWAY_MINISTRY_CLIENT_SECRET", SANDBOX_CLIENT_SECRET),
        "GATEWAY_PROVINCE_CALLBACK_URL": os.environ.get(
            "GATEWAY_PROVINCE_CALLBACK_URL", f"http://{host}:{province}/callbacks"),
        "GATEWAY_PROVINCE_CALLBACK_SECRET": os.environ.get("GATEWAY_PROVINCE_CALLBACK_SECRET", DEMO_CALLBACK_SECRET),
        "PROVINCE_SANDBOX_GATEWAY_URL": f"http://{host}:{gw}",
        "PROVINCE_SANDBOX_API_KEY": DEMO_PROVINCE_KEY,
        # The identity check against the population sandbox (a newcomer sees a mismatch held).
        "GATEWAY_POPULATION_BASE_URL": os.environ.get("GATEWAY_POPULATION_BASE_URL", f"http://{host}:{population}"),
        "GATEWAY_POPULATION_CLIENT_ID": os.environ.get("GATEWAY_POPULATION_CLIENT_ID", SANDBOX_CLIENT_ID),
        "GATEWAY_POPULATION_CLIENT_SECRET": os.environ.get("GATEWAY_POPULATION_CLIENT_SECRET",
                                                           SANDBOX_CLIENT_SECRET),
        # Operator alerts to the demo receiver; a ministry sandbox stopped for a minute raises one.
        "GATEWAY_ALERT_WEBHOOK_URL": os.environ.get("GATEWAY_ALERT_WEBHOOK_URL", f"http://{host}:{alerts}/alerts"),
        "GATEWAY_ALERT_WEBHOOK_SECRET": os.environ.get("GATEWAY_ALERT_WEBHOOK_SECRET", DEMO_ALERT_SECRET),
        "GATEWAY_ALERT_OUTAGE_S": os.environ.get("GATEWAY_ALERT_OUTAGE_S", "60"),
        "GATEWAY_LOG_FORMAT": os.environ.get("GATEWAY_LOG_FORMAT", "console"),
        # A demo wants to see the officer's actions come back within seconds, not the default 30.
        "GATEWAY_RECONCILE_INTERVAL_S": os.environ.get("GATEWAY_RECONCILE_INTERVAL_S", "2"),
    }
    migrated = subprocess.run([sys.executable, "-m", "gateway", "migrate"], env=env, check=False)
    if migrated.returncode != 0:
        return migrated.returncode

    # Ctrl-C reaches the whole process group: the children stop on their own, and this process only notes it
    # (a handler, not KeyboardInterrupt, so that no traceback interrupts whatever it was doing).
    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.set())
    children = _children(host, gw, ministry, province, population, alerts)
    try:
        for child in children:
            child.process = subprocess.Popen(child.args, env=env)  # noqa: S603 - our own console script
            if not _wait_ready(child, stopping):
                if stopping.is_set():
                    return 0
                print(f"\n{child.name} did not start ({child.ready_url}); stopping.", file=sys.stderr)
                return 1
        _banner(host, gw, ministry, province, population, alerts, children)
        while not stopping.is_set() and all(c.process is not None and c.process.poll() is None for c in children):
            stopping.wait(0.5)
        # A child that stopped first may have had the same Ctrl-C: give ours a moment to arrive.
        if stopping.is_set() or stopping.wait(1.0):
            print("\nstopping.", file=sys.stderr)
            return 0
        print("\na process stopped; stopping the others.", file=sys.stderr)
        return 1
    finally:
        _stop(children, signalled=stopping.is_set())


def _banner(host: str, gw: int, ministry: int, province: int, population: int, alerts: int,
            children: list[Child]) -> None:
    names = {c.name for c in children}
    lines = [
        "",
        "Social-assistance dossier gateway: demo running (Ctrl-C stops everything)",
        f"  gateway            http://{host}:{gw}   (API docs: /docs, health: /health/ready, metrics: /metrics)",
        f"  admin console      http://{host}:{gw}/admin   (log in with {DEMO_ADMIN_KEY})",
    ]
    if "ministry sandbox" in names:
        lines.append(f"  ministry sandbox   http://{host}:{ministry}/   (pending-reception queue, officer actions)")
    if "province sandbox" in names:
        lines.append(f"  province sandbox   http://{host}:{province}/   (post a sample dossier, see callbacks)")
    if "population sandbox" in names:
        lines.append(f"  population sandbox http://{host}:{population}/_sandbox/docs   (identity checks;"
                     " seeded people: /_sandbox/people)")
    if "alert receiver" in names:
        lines.append(f"  alert receiver     http://{host}:{alerts}/_sandbox/alerts   (operator alerts: dead messages,"
                     " a peer down over a minute, backlog)")
    lines += [
        f"  API keys           province: {DEMO_PROVINCE_KEY} (dossiers:write+dossiers:read)   admin: {DEMO_ADMIN_KEY}"
        f"   monitor: {DEMO_MONITOR_KEY}",
        "",
        "Try it: on the province page press 'post a sample dossier'; watch it arrive in the ministry's",
        "pending-reception queue; act as the officer there; watch the statuses come back to the province.",
        "Choose the sample 'ngày sinh sai lệch CSDL dân cư': the population sandbox disagrees, the gateway holds it",
        f"(SAI_LECH_DAN_CU to the province; http://{host}:{gw}/admin/held lists it with a release button).",
        "Or from a shell:",
        f"  {sys.executable} -m adapters.province.post --gateway http://{host}:{gw} --api-key {DEMO_PROVINCE_KEY}",
        "",
    ]
    print("\n".join(lines), flush=True)


if __name__ == "__main__":
    sys.exit(main())
