"""A throw-away PostgreSQL cluster started from the local binaries (initdb + pg_ctl) in a temp dir."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path


class PostgresUnavailableError(RuntimeError):
    """No PostgreSQL server binaries on this machine."""


def find_bindir() -> Path:
    """The folder holding initdb, pg_ctl and postgres."""
    candidates = []
    if env := os.environ.get("PG_BINDIR"):
        candidates.append(Path(env))
    if which := shutil.which("pg_config"):
        out = subprocess.run([which, "--bindir"], capture_output=True, text=True, check=False).stdout.strip()
        if out:
            candidates.append(Path(out))
    candidates += [Path(p) for p in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)]
    if which := shutil.which("initdb"):
        candidates.append(Path(which).resolve().parent)
    for candidate in candidates:
        if (candidate / "initdb").exists() and (candidate / "pg_ctl").exists() and (candidate / "postgres").exists():
            return candidate
    raise PostgresUnavailableError("PostgreSQL server binaries (initdb, pg_ctl, postgres) not found")


def free_port() -> int:
    """A TCP port free on loopback right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PgCluster:
    """A running cluster: its data dir, port, and how to run its binaries."""

    bindir: Path
    datadir: Path
    port: int
    as_user: list[str]

    @property
    def admin_url(self) -> str:
        """SQLAlchemy URL of the ``postgres`` database."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def url(self, database: str) -> str:
        """SQLAlchemy URL of a database in this cluster."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def ctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run pg_ctl against this cluster."""
        return subprocess.run(
            [*self.as_user, str(self.bindir / "pg_ctl"), "-D", str(self.datadir), *args],
            capture_output=True, text=True, check=check, timeout=120,
        )

    def stop(self) -> None:
        """Stop the server now and remove its files."""
        self.ctl("stop", "-m", "immediate", check=False)
        shutil.rmtree(self.datadir.parent, ignore_errors=True)


def start_cluster() -> PgCluster:
    """initdb a new cluster in a temp dir and start it on a free loopback port (trust auth)."""
    bindir = find_bindir()
    root = Path(tempfile.mkdtemp(prefix="gw-pg-"))
    datadir = root / "data"
    as_user: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root
        runuser = shutil.which("runuser") or "runuser"
        as_user = [runuser, "-u", "postgres", "--"]
        shutil.chown(root, "postgres", "postgres")
        root.chmod(0o700)
    subprocess.run(
        [*as_user, str(bindir / "initdb"), "-D", str(datadir), "-U", "postgres", "--auth=trust",
         "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync"],
        capture_output=True, text=True, check=True, timeout=120,
    )
    port = free_port()
    options = (f"-p {port} -h 127.0.0.1 -k {root} -c fsync=off -c synchronous_commit=off "
               f"-c full_page_writes=off -c max_connections=200 -c shared_buffers=64MB")
    cluster = PgCluster(bindir, datadir, port, as_user)
    result = cluster.ctl("start", "-w", "-t", "60", "-o", options, "-l", str(root / "server.log"), check=False)
    if result.returncode != 0:
        log = (root / "server.log").read_text() if (root / "server.log").exists() else ""
        raise RuntimeError(f"pg_ctl start failed: {result.stderr}\n{log}")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return cluster
        time.sleep(0.1)
    raise RuntimeError("PostgreSQL did not start listening")
