"""A bad network for the reliability suite: a network namespace reached over a veth pair, both ends shaped
with ``tc netem``, and a ministry sandbox process running inside it.

Where the kernel has no ``sch_netem`` (some VM kernels, e.g. Firecracker's, ship without it) the same link is
built from two TUN devices and a relay process that delays every packet and drops some at random, in both
directions: the kernels' TCP stacks see the same loss and delay. Needs iproute2 and the right to create
namespaces (root or CAP_NET_ADMIN); :class:`NetnsUnavailableError` says why when that is missing.

``python -m tests.reliability.netns relay HOST_IF NS_IF LOSS DELAY_S`` is that relay.
"""

from __future__ import annotations

import fcntl
import heapq
import os
import random
import re
import select
import shutil
import signal
import struct
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.contract.ministry_support import SandboxHandle


class NetnsUnavailableError(RuntimeError):
    """Network namespaces, veth pairs or netem cannot be set up here."""


@dataclass
class LossyLink:
    """A namespace and the link leading into it (``shaper``: ``netem`` or ``tun-relay``)."""

    namespace: str
    host_if: str
    ns_if: str
    host_ip: str
    ns_ip: str
    loss: float
    delay_s: float
    shaper: str = "netem"
    relay: subprocess.Popen[bytes] | None = None


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check, timeout=15)


def _free_subnet() -> int:
    """A third octet for 10.231.<n>.0/30 that no interface of the host uses yet."""
    shown = _ip("-4", "-o", "addr", "show", check=False)
    if shown.returncode != 0:
        raise NetnsUnavailableError(f"`ip addr show` failed: {shown.stderr.strip()}")
    taken = {int(m) for m in re.findall(r"10\.231\.(\d+)\.", shown.stdout)}
    start = os.getpid() % 250 + 1
    for offset in range(254):
        n = (start + offset) % 254 + 1
        if n not in taken:
            return n
    raise NetnsUnavailableError("no free 10.231.<n>.0/30 subnet")


class _NoNetemError(NetnsUnavailableError):
    """The kernel has no netem qdisc."""


def _run_setup(*command: str) -> None:
    """Run one setup command; a refusal means this machine cannot give us a bad network."""
    done = subprocess.run(list(command), capture_output=True, text=True, timeout=15)
    if done.returncode != 0:
        message = f"`{' '.join(command)}` failed: {done.stderr.strip() or done.returncode}"
        if "netem" in command and "qdisc kind is unknown" in done.stderr:
            raise _NoNetemError(message)
        raise NetnsUnavailableError(message)


@contextmanager
def lossy_link(loss: float = 0.20, delay_s: float = 0.200) -> Iterator[LossyLink]:
    """A fresh namespace joined to the host with ``loss`` and ``delay_s`` each way; always removed."""
    if shutil.which("ip") is None or shutil.which("tc") is None:
        raise NetnsUnavailableError("iproute2 (`ip`, `tc`) is not installed")
    tag = uuid.uuid4().hex[:6]
    n = _free_subnet()
    link = LossyLink(namespace=f"gwrel-{tag}", host_if=f"vgr{tag}h", ns_if=f"vgr{tag}n",
                     host_ip=f"10.231.{n}.1", ns_ip=f"10.231.{n}.2", loss=loss, delay_s=delay_s)
    try:
        _run_setup("ip", "netns", "add", link.namespace)
        try:
            _veth_with_netem(link)
        except _NoNetemError:
            _ip("link", "del", link.host_if, check=False)
            _ip("netns", "exec", link.namespace, "ip", "link", "del", link.ns_if, check=False)
            _tun_relay(link)
        _run_setup("ip", "netns", "exec", link.namespace, "ip", "link", "set", "lo", "up")
        yield link
    finally:
        _remove(link)


def _veth_with_netem(link: LossyLink) -> None:
    inside = ("ip", "netns", "exec", link.namespace)
    _run_setup("ip", "link", "add", link.host_if, "type", "veth", "peer", "name", link.ns_if)
    _run_setup("ip", "link", "set", link.ns_if, "netns", link.namespace)
    _run_setup("ip", "addr", "add", f"{link.host_ip}/30", "dev", link.host_if)
    _run_setup("ip", "link", "set", link.host_if, "up")
    _run_setup(*inside, "ip", "addr", "add", f"{link.ns_ip}/30", "dev", link.ns_if)
    _run_setup(*inside, "ip", "link", "set", link.ns_if, "up")
    # Both ends, so requests and answers both suffer (netem shapes only what leaves an interface).
    netem = ("root", "netem", "loss", f"{link.loss * 100:g}%", "delay", f"{link.delay_s * 1000:g}ms")
    _run_setup("tc", "qdisc", "add", "dev", link.host_if, *netem)
    _run_setup(*inside, "tc", "qdisc", "add", "dev", link.ns_if, *netem)


def _tun_relay(link: LossyLink) -> None:
    inside = ("ip", "netns", "exec", link.namespace)
    link.shaper = "tun-relay"
    link.relay = subprocess.Popen(
        [sys.executable, "-m", "tests.reliability.netns", "relay", link.host_if, link.ns_if, str(link.loss),
         str(link.delay_s)], stdout=subprocess.PIPE, cwd=Path(__file__).resolve().parents[2])
    assert link.relay.stdout is not None
    if link.relay.stdout.readline().strip() != b"ready":
        raise NetnsUnavailableError(f"the TUN relay did not start (exit {link.relay.poll()})")
    _run_setup("ip", "link", "set", link.ns_if, "netns", link.namespace)
    _run_setup("ip", "addr", "add", link.host_ip, "peer", f"{link.ns_ip}/32", "dev", link.host_if)
    _run_setup("ip", "link", "set", link.host_if, "up")
    _run_setup(*inside, "ip", "addr", "add", link.ns_ip, "peer", f"{link.host_ip}/32", "dev", link.ns_if)
    _run_setup(*inside, "ip", "link", "set", link.ns_if, "up")


def _remove(link: LossyLink) -> None:
    """Kill what still runs inside, delete the namespace (which takes its end of the link) and the relay."""
    pids = _ip("netns", "pids", link.namespace, check=False).stdout.split()
    for pid in pids:
        with suppress(ProcessLookupError, ValueError):
            os.kill(int(pid), signal.SIGKILL)
    _ip("netns", "del", link.namespace, check=False)
    _ip("link", "del", link.host_if, check=False)
    if link.relay is not None and link.relay.poll() is None:
        link.relay.kill()
        link.relay.wait(timeout=10)


TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000


def _open_tun(name: str) -> int:
    fd = os.open("/dev/net/tun", os.O_RDWR)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TUN | IFF_NO_PI))
    return fd


def relay(host_if: str, ns_if: str, loss: float, delay_s: float) -> None:
    """Create two TUN devices and pass IP packets between them, each delayed ``delay_s``, a ``loss`` share dropped.

    Prints ``ready`` once both exist; runs until killed (the devices vanish with it).
    """
    fds = {_open_tun(host_if): _open_tun(ns_if)}
    fds.update({b: a for a, b in list(fds.items())})
    rng = random.Random()
    queue: list[tuple[float, int, int, bytes]] = []
    seq = 0
    print("ready", flush=True)
    while True:
        timeout = max(0.0, queue[0][0] - time.monotonic()) if queue else None
        readable, _, _ = select.select(list(fds), [], [], timeout)
        now = time.monotonic()
        for fd in readable:
            try:
                packet = os.read(fd, 65536)
            except OSError:
                return  # the namespace, and so one device, is gone: the link is being removed
            if rng.random() >= loss:
                seq += 1
                heapq.heappush(queue, (now + delay_s, seq, fds[fd], packet))
        while queue and queue[0][0] <= now:
            _, _, target, packet = heapq.heappop(queue)
            # The device may be down for a moment (being moved or configured): then the packet is lost.
            with suppress(OSError):
                os.write(target, packet)


class RemoteSandbox(SandboxHandle):
    """A ministry sandbox in another process, behind the lossy link: admin calls are patient and retried.

    Only the HTTP side of :class:`SandboxHandle` works (``state`` needs the app in this process).
    """

    def __init__(self, base_url: str, process: subprocess.Popen[bytes], log_path: Path) -> None:
        self.app: Any = None
        self.base_url = base_url
        self.process = process
        self.log_path = log_path
        # A lost SYN costs 1 s, then 3 s...; a lost segment a few RTOs: answers come, but late.
        self.http = httpx.Client(base_url=base_url, timeout=httpx.Timeout(10.0))
        self.admin_retries = 0

    def _get_json(self, path: str, attempts: int = 8) -> Any:
        """GET with retries: reads are safe to repeat."""
        for attempt in range(attempts):
            try:
                response = self.http.get(path)
                response.raise_for_status()
                return response.json()
            except httpx.HTTPError:
                if attempt == attempts - 1:
                    raise
                self.admin_retries += 1
                time.sleep(0.5)
        raise AssertionError("unreachable")

    def all_dossiers(self) -> list[dict[str, Any]]:
        """Every pending-reception dossier, whatever its status (retried over the bad link)."""
        found: list[dict[str, Any]] = self._get_json("/_sandbox/ho-so")["hoSo"]
        return found

    def requests(self, path: str | None = None, method: str | None = None) -> list[dict[str, Any]]:
        """The logged requests, optionally filtered by path prefix and method (retried over the bad link)."""
        query = "&".join(f"{k}={v}" for k, v in (("path", path), ("method", method)) if v is not None)
        found: list[dict[str, Any]] = self._get_json("/_sandbox/requests" + (f"?{query}" if query else ""))["requests"]
        return found

    def log(self) -> str:
        """What the sandbox process wrote."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@contextmanager
def sandbox_in(link: LossyLink, port: int, log_dir: Path, client_id: str,
               client_secret: str) -> Iterator[RemoteSandbox]:
    """``python -m adapters.ministry.sandbox`` inside the namespace, reached at ``link.ns_ip:port``."""
    log_path = log_dir / "ministry-sandbox.log"
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            ["ip", "netns", "exec", link.namespace, sys.executable, "-m", "adapters.ministry.sandbox",
             "--host", link.ns_ip, "--port", str(port), "--no-rate-limit",
             "--client-id", client_id, "--client-secret", client_secret],
            stdout=log, stderr=subprocess.STDOUT, cwd=Path(__file__).resolve().parents[2])
    handle = RemoteSandbox(f"http://{link.ns_ip}:{port}", process, log_path)
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the sandbox exited with {process.returncode}:\n{handle.log()[-3000:]}")
            try:
                if handle.http.get("/_sandbox/health", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the sandbox did not answer over the lossy link:\n{handle.log()[-3000:]}")
            time.sleep(0.2)
        yield handle
    finally:
        handle.close()
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)


if __name__ == "__main__":
    if len(sys.argv) != 6 or sys.argv[1] != "relay":
        sys.exit("usage: python -m tests.reliability.netns relay HOST_IF NS_IF LOSS DELAY_S")
    relay(sys.argv[2], sys.argv[3], float(sys.argv[4]), float(sys.argv[5]))
