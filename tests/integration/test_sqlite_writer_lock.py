"""SQLite writers queue on the Database's own locks (threads, then processes by flock) before SQLite's."""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from gateway import db as db_module
from gateway.db import Database, create_database


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Database]:
    database = create_database(f"sqlite:///{tmp_path / 'w.db'}")
    with database.session(write=True) as session:
        session.execute(text("CREATE TABLE counter (n INTEGER NOT NULL)"))
        session.execute(text("INSERT INTO counter VALUES (0)"))
    yield database
    database.dispose()


def _increment(database: Database) -> None:
    with database.session(write=True) as session:
        n = session.execute(text("SELECT n FROM counter")).scalar_one()
        session.execute(text("UPDATE counter SET n = :n"), {"n": n + 1})


def _count(database: Database) -> int:
    with database.session() as session:
        return int(session.execute(text("SELECT n FROM counter")).scalar_one())


def test_concurrent_writers_of_one_process_all_commit(database: Database) -> None:
    def work() -> None:
        for _ in range(25):
            _increment(database)

    threads = [threading.Thread(target=work) for _ in range(8)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert _count(database) == 200
    # Queued on the thread lock, not in SQLite's busy handler (sleeps of up to 100 ms each).
    assert time.monotonic() - started < 20


def _hold_file_lock(database_file: Path) -> int:
    fd = os.open(f"{database_file}-writer.lock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


def test_a_writer_waits_for_another_process_holding_the_file_lock(database: Database, tmp_path: Path) -> None:
    fd = _hold_file_lock(tmp_path / "w.db")  # another open file description: as another process would
    try:
        writer = threading.Thread(target=_increment, args=(database,))
        writer.start()
        time.sleep(0.3)
        assert writer.is_alive() and _count(database) == 0
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
    writer.join(timeout=10)
    assert _count(database) == 1


def test_past_the_busy_timeout_a_writer_goes_on_and_sqlite_decides(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db_module, "_BUSY_TIMEOUT_S", 0.2)
    database = create_database(f"sqlite:///{tmp_path / 'w.db'}")
    fd = _hold_file_lock(tmp_path / "w.db")  # a stuck holder that is not writing: SQLite's lock is free
    try:
        started = time.monotonic()
        with database.session(write=True) as session:
            session.execute(text("CREATE TABLE t (x INTEGER)"))
        assert 0.15 < time.monotonic() - started < 5
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
        database.dispose()
