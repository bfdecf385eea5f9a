"""The attachment store behind its one interface, ``fs`` (on SQLite) and ``postgresql`` (on PostgreSQL).

Same bytes stored once even when committed twice at once; read back as a stream; a publish killed
midway leaves nothing visible; the garbage collector takes only what no row needs and spares bytes a
commit has just used.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from starlette.testclient import TestClient

from adapters.province.client import post_death_notice
from adapters.province.samples import numbered_dossier, sample_death_notice, sample_pdf_bytes
from gateway.admin.service import collect_blobs
from gateway.app import create_app
from gateway.blobs import BlobMissingError, BlobStore, create_blob_store
from gateway.blobs.fs import FileBlobStore
from gateway.blobs.postgresql import CHUNK_BYTES, PostgresBlobStore
from gateway.db import Database, create_database
from gateway.settings import Settings
from tests.conftest import API_KEYS, PROVINCE_KEY
from tests.support.admin import audit_entries
from tests.support.intake import post_json, sample_files

ROOT = Path(__file__).resolve().parents[2]
ACTOR = "test:gc"
HOUR = timedelta(hours=1)


@pytest.fixture(params=["fs", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_settings(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> Settings:
    """Settings naming each store: ``fs`` over SQLite, ``postgresql`` over a fresh PostgreSQL database."""
    if request.param == "fs":
        shutil.copyfile(sqlite_template, tmp_path / "gateway.db")
        url = f"sqlite:///{tmp_path / 'gateway.db'}"
    else:
        url = request.getfixturevalue("pg_url")
    return Settings(database_url=url, blob_dir=tmp_path / "blobs", blob_store=request.param, api_keys=API_KEYS,
                    embedded_worker=False, log_format="json")


@pytest.fixture
def db(store_settings: Settings) -> Iterator[Database]:
    database = create_database(store_settings.database_url)
    yield database
    database.dispose()


@pytest.fixture
def store(store_settings: Settings, db: Database) -> BlobStore:
    found = create_blob_store(store_settings, db)
    found.ensure()
    return found


@pytest.fixture
def pg_db(pg_url: str) -> Iterator[Database]:
    database = create_database(pg_url)
    yield database
    database.dispose()


def put(store: BlobStore, data: bytes, piece: int = 10_000) -> str:
    """Stage ``data`` in pieces, commit it, drop the staging; its digest."""
    staged = store.stage(len(data) + 1)
    try:
        for start in range(0, len(data), piece):
            staged.write(data[start:start + piece])
        staged.commit()
        return staged.sha256
    finally:
        staged.discard()


def read_all(store: BlobStore, sha256: str, piece: int = 7_777) -> bytes:
    out = bytearray()
    with store.open(sha256) as stream:
        while chunk := stream.read(piece):
            out += chunk
    return bytes(out)


def stored_copies(store: BlobStore, sha256: str) -> int:
    """How many times the bytes are kept: files under sha256/ (fs), header rows (postgresql)."""
    if isinstance(store, FileBlobStore):
        return sum(1 for p in store.data_dir.rglob("*") if p.is_file() and p.name == sha256)
    assert isinstance(store, PostgresBlobStore)
    with store.db.engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM blob WHERE sha256 = :s"), {"s": sha256}).scalar_one())


def age(store: BlobStore, sha256: str, by: timedelta) -> None:
    """Make the blob look unused for ``by`` (as after a long quiet spell)."""
    if isinstance(store, FileBlobStore):
        then = time.time() - by.total_seconds()
        os.utime(store.path_for(sha256), (then, then))
        return
    assert isinstance(store, PostgresBlobStore)
    with store.db.engine.begin() as conn:
        conn.execute(text("UPDATE blob SET used_at = used_at - :by WHERE sha256 = :s"), {"by": by, "s": sha256})


# ---- writing and reading -----------------------------------------------------------------------------


def test_the_same_bytes_committed_twice_at_once_are_stored_once(store: BlobStore) -> None:
    data = os.urandom(2 * CHUNK_BYTES + 1234)  # three chunks in the database
    ready = threading.Barrier(2)
    digests: list[str] = []
    errors: list[BaseException] = []

    def commit_copy() -> None:
        staged = store.stage(len(data))
        try:
            staged.write(data)
            staged.finish()
            ready.wait(timeout=10)
            staged.commit()
            digests.append(staged.sha256)
        except BaseException as exc:
            errors.append(exc)
        finally:
            staged.discard()

    threads = [threading.Thread(target=commit_copy) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    assert digests == [hashlib.sha256(data).hexdigest()] * 2
    assert stored_copies(store, digests[0]) == 1
    assert read_all(store, digests[0]) == data
    assert store.verify(digests[0])
    assert not list(store.tmp_dir.glob("*.part"))
    if isinstance(store, PostgresBlobStore):
        assert store.stored_chunks(digests[0]) == 3


def test_a_blob_reads_back_as_a_seekable_stream(store: BlobStore) -> None:
    data = os.urandom(CHUNK_BYTES + 5000)
    sha = put(store, data)
    assert store.exists(sha)
    with store.open(sha) as stream:
        assert stream.read(10) == data[:10]
        assert stream.seek(0, os.SEEK_END) == len(data)  # how the ministry client measures a stream
        stream.seek(0)
        assert stream.read(CHUNK_BYTES + 1) == data[:CHUNK_BYTES + 1]  # across the chunk boundary
        assert stream.read() == data[CHUNK_BYTES + 1:]
        assert stream.read(1) == b""
    assert read_all(store, sha) == data


def test_missing_bytes_are_a_file_not_found(store: BlobStore) -> None:
    absent = hashlib.sha256(b"never stored").hexdigest()
    assert not store.exists(absent)
    with pytest.raises(BlobMissingError) as caught:
        store.open(absent)
    assert isinstance(caught.value, FileNotFoundError)
    with pytest.raises(FileNotFoundError):
        store.verify(absent)


@pytest.mark.postgres
def test_a_database_blob_is_read_one_chunk_at_a_time(pg_db: Database, tmp_path: Path) -> None:
    store = PostgresBlobStore(pg_db, tmp_path / "blobs", chunk_bytes=1024)
    data = os.urandom(10 * 1024 + 300)
    sha = put(store, data, piece=999)
    assert store.stored_chunks(sha) == 11
    fetched: list[int] = []
    original = store.read_chunk

    def counting(sha256: str, seq: int) -> bytes:
        fetched.append(seq)
        return original(sha256, seq)

    store.read_chunk = counting  # type: ignore[method-assign]
    with store.open(sha) as stream:
        assert stream.read(100) == data[:100]
        assert fetched == [0]  # the start of the blob costs one chunk, not the blob
        rest = bytearray()
        while piece := stream.read(777):
            rest += piece
    assert bytes(rest) == data[100:]
    assert fetched == list(range(11))  # each chunk fetched once, in order


@pytest.mark.postgres
def test_a_corrupted_database_chunk_fails_verification(pg_db: Database, tmp_path: Path) -> None:
    store = PostgresBlobStore(pg_db, tmp_path / "blobs", chunk_bytes=1024)
    sha = put(store, os.urandom(3000))
    with pg_db.engine.begin() as conn:
        conn.execute(text("UPDATE blob_chunk SET data = :d WHERE sha256 = :s AND seq = 1"),
                     {"d": os.urandom(1024), "s": sha})
    assert not store.verify(sha)


_SLOW_PUBLISHER = """
import sys, time
from pathlib import Path
from gateway.blobs.postgresql import PostgresBlobStore
from gateway.db import create_database

class Slow(PostgresBlobStore):
    def _write_chunk(self, connection, sha256, seq, data):
        super()._write_chunk(connection, sha256, seq, data)
        if seq == 3:
            print(sha256, flush=True)
            time.sleep(120)

store = Slow(create_database(sys.argv[1]), Path(sys.argv[2]), chunk_bytes=1024)
staged = store.stage(1 << 20)
staged.write(Path(sys.argv[3]).read_bytes())
staged.commit()
"""


@pytest.mark.postgres
def test_a_publish_killed_midway_leaves_nothing_visible_and_the_bytes_can_be_stored_after(
    pg_url: str, pg_db: Database, tmp_path: Path
) -> None:
    data = os.urandom(10 * 1024)
    source = tmp_path / "source.pdf"
    source.write_bytes(data)
    child = subprocess.Popen([sys.executable, "-c", _SLOW_PUBLISHER, pg_url, str(tmp_path / "child"), str(source)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
    try:
        assert child.stdout is not None
        sha = child.stdout.readline().decode().strip()  # four chunks written, not committed
        assert sha == hashlib.sha256(data).hexdigest(), child.stderr.read().decode() if child.stderr else ""
        store = PostgresBlobStore(pg_db, tmp_path / "blobs", chunk_bytes=1024)
        assert not store.exists(sha) and store.stored_chunks(sha) == 0
        with pytest.raises(BlobMissingError):
            store.open(sha)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
    assert not store.exists(sha) and store.stored_chunks(sha) == 0
    # The killed transaction's locks go with its connection: the same bytes are stored whole afterwards.
    assert put(store, data) == sha
    assert read_all(store, sha) == data and store.stored_chunks(sha) == 10


# ---- garbage collection -------------------------------------------------------------------------------


def test_the_collector_takes_only_bytes_no_row_needs(store_settings: Settings, db: Database,
                                                     store: BlobStore) -> None:
    dossier = numbered_dossier(4242)
    dossier_files = sample_files(dossier)
    notice = sample_death_notice()
    notice_files = {item["TepDinhKemId"]: sample_pdf_bytes(f"notice {item['TepDinhKemId']}")
                    for item in notice["TaiLieuNop"]}
    with TestClient(create_app(store_settings, database=db)) as client:
        # A dossier whose delivery is pending (no worker runs), and a death notice whose files no dossier has yet.
        assert post_json(client, PROVINCE_KEY, dossier, dossier_files).status_code == 202
        answer = post_death_notice(client, PROVINCE_KEY, notice, notice_files)  # type: ignore[arg-type]
        assert answer.status_code == 202, answer.text
    needed = {hashlib.sha256(data).hexdigest() for data in [*dossier_files.values(), *notice_files.values()]}
    orphan = put(store, sample_pdf_bytes("committed by a request that then failed"))
    assert all(store.exists(sha) for sha in [*needed, orphan])

    assert collect_blobs(db, store, ACTOR, idle_for=HOUR) == 0  # everything was used just now
    assert collect_blobs(db, store, ACTOR, idle_for=timedelta(0)) == 1
    assert not store.exists(orphan)
    assert all(store.exists(sha) and store.verify(sha) for sha in needed)
    [entry] = [e for e in audit_entries(db) if e.action == "collect_blobs"]
    assert (entry.actor, entry.result) == (ACTOR, {"deleted": 1})
    assert collect_blobs(db, store, ACTOR, idle_for=timedelta(0)) == 0

    again = put(store, sample_pdf_bytes("committed by a request that then failed"))  # the bytes may come back
    assert again == orphan and store.exists(orphan)


def test_bytes_committed_again_are_spared_however_long_they_lay_unused(store: BlobStore, db: Database) -> None:
    reused_bytes, forgotten_bytes = sample_pdf_bytes("posted again"), sample_pdf_bytes("forgotten")
    reused, forgotten = put(store, reused_bytes), put(store, forgotten_bytes)
    age(store, reused, 2 * HOUR)
    age(store, forgotten, 2 * HOUR)
    # An intake commits the same bytes (and will write the rows naming them): that marks them used.
    assert put(store, reused_bytes) == reused
    assert collect_blobs(db, store, ACTOR, idle_for=HOUR) == 1
    assert store.exists(reused) and not store.exists(forgotten)


def test_the_retention_purge_collects_the_store_too(store: BlobStore, db: Database) -> None:
    """What each worker runs every GATEWAY_RETENTION_INTERVAL_S (the CLI's ``gateway purge`` as well)."""
    from gateway.admin.service import purge

    orphan = put(store, sample_pdf_bytes("left behind a day ago"))
    age(store, orphan, timedelta(days=1))
    fresh = put(store, sample_pdf_bytes("being taken in right now"))
    assert purge(db, timedelta(days=30), ACTOR, blobs=store) == 0  # no message to purge; blobs collected
    assert not store.exists(orphan) and store.exists(fresh)
