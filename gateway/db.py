"""Engine and sessions: SQLite (WAL, single writer) by default, PostgreSQL with the same code."""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlmodel import Session

_BUSY_TIMEOUT_S = 30


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Build an engine for ``url``; on SQLite also create its folder and set the pragmas we rely on."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        kwargs.setdefault("pool_pre_ping", True)
        # Connections beyond pool_size are closed when returned: with 16 requests at once a pool of 10
        # opened and closed a PostgreSQL connection for a third of them. 30 at most, as before.
        kwargs.setdefault("pool_size", 20)
        kwargs.setdefault("max_overflow", 10)
        return create_engine(url, **kwargs)

    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": _BUSY_TIMEOUT_S}, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control from pysqlite so that "begin" below decides how a transaction starts.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_S * 1000}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # A writer takes the write lock at BEGIN: a deferred transaction that reads, then writes,
        # fails with SQLITE_BUSY instead of waiting when another writer committed in between.
        if connection.get_execution_options().get("write", False):
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            connection.exec_driver_sql("BEGIN")

    return engine


class Database:
    """The engine plus two ways to open a session: reading, or writing (serialised on SQLite)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._write_engine = engine.execution_options(write=True)
        self._writer = _WriterLock(engine.url.database) if engine.dialect.name == "sqlite" else None

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    @contextmanager
    def session(self, *, write: bool = False) -> Iterator[Session]:
        """A session in one transaction: committed when the block ends normally, rolled back otherwise."""
        with self._write_turn() if write else nullcontext(), \
                Session(self._write_engine if write else self.engine, expire_on_commit=False) as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    def _write_turn(self) -> AbstractContextManager[None]:
        return self._writer.turn() if self._writer is not None else nullcontext()

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()
        if self._writer is not None:
            self._writer.close()


class _WriterLock:
    """Queues a SQLite database's writers before they ask SQLite for its write lock.

    SQLite has one writer at a time, and a ``BEGIN IMMEDIATE`` that finds the lock taken waits in
    SQLite's busy handler, which sleeps in growing steps (up to 100 ms) instead of being woken: with
    16 requests writing at once, intake fell to ~100 req/s with a p99 of seconds. Writers of this
    process queue on a thread lock (woken at once), and processes sharing the file (``serve
    --workers``, ``gateway worker``) on an ``flock`` of ``<database>-writer.lock``, polled every
    0.1–1 ms. Past the busy timeout, or when the lock file cannot be used, a writer goes on
    regardless and SQLite's own locking decides, as before: this only orders, it never guards.
    """

    def __init__(self, database: str | None) -> None:
        self._thread_lock = threading.Lock()
        self._path = f"{database}-writer.lock" if database and database != ":memory:" else None
        self._fd: int | None = None

    @contextmanager
    def turn(self) -> Iterator[None]:
        """Hold both locks (as far as they can be had within the busy timeout) for one write transaction."""
        deadline = time.monotonic() + _BUSY_TIMEOUT_S
        if not self._thread_lock.acquire(timeout=_BUSY_TIMEOUT_S):
            yield
            return
        try:
            fd = self._lock_file(deadline)
            try:
                yield
            finally:
                if fd is not None:
                    fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            self._thread_lock.release()

    def _lock_file(self, deadline: float) -> int | None:
        """The lock file's descriptor, locked; None when it cannot be opened or the deadline passed."""
        if self._path is None:
            return None
        if self._fd is None:
            try:
                self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            except OSError:
                self._path = None
                return None
        delay = 0.0001
        while True:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return self._fd
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    return None
                time.sleep(delay)
                delay = min(delay * 2, 0.001)

    def close(self) -> None:
        """Close the lock file (it stays on disk, empty)."""
        with self._thread_lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None


def create_database(url: str) -> Database:
    """A :class:`Database` for ``url``."""
    return Database(make_engine(url))
