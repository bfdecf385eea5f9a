"""``GATEWAY_BLOB_STORE=postgresql``: attachment bytes in the database, for gateways on several machines.

The sole owner of the ``blob`` and ``blob_chunk`` tables. A blob is a header row (digest, size, chunk
size, created and last used) and its bytes in ``CHUNK_BYTES`` rows keyed (digest, seq).

- **Written atomically, once per content.** The staged file is streamed into chunk rows inside the one
  transaction that inserts the header: until it commits, no other session sees any of it, and a crash
  (of the process, the connection, the database) rolls it all back. Two commits of the same bytes at
  once: the second's header insert waits for the first transaction and then finds the row (it only
  marks it used). Bytes already stored are never sent again: the commit just marks them used.
- **Never whole in memory.** Written one chunk at a time from the staged file; read by :meth:`open`'s
  stream one chunk at a time, each in a short query of its own (no connection is held between reads,
  so a delivery with many files open does not drain the pool).
"""

from __future__ import annotations

import errno
import io
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import SQLAlchemyError

from gateway.blobs import GC_IDLE, BlobMissingError, BlobStore, Referenced, StagedBlob, check_digest
from gateway.db import Database
from gateway.models import Blob, BlobChunk
from outbox.columns import utcnow

CHUNK_BYTES = 256 * 1024
GC_BATCH = 500
_READ_BUFFER = 64 * 1024
_READ_CHUNK = "SELECT data FROM blob_chunk WHERE sha256 = %s AND seq = %s"
_WRITE_CHUNK = "INSERT INTO blob_chunk (sha256, seq, data) VALUES (%s, %s, %b)"


_B: Any = Blob.__table__  # type: ignore[attr-defined]
_C: Any = BlobChunk.__table__  # type: ignore[attr-defined]


class PostgresBlobStore(BlobStore):
    """Attachments in the PostgreSQL database ``db``; ``root`` holds only this machine's staging folder."""

    kind = "postgresql"

    def __init__(self, db: Database, root: Path, *, chunk_bytes: int = CHUNK_BYTES) -> None:
        if db.dialect != "postgresql":
            raise ValueError(f"the postgresql blob store needs a PostgreSQL database, not {db.dialect}")
        if chunk_bytes < 1:
            raise ValueError("chunk_bytes must be positive")
        super().__init__(root)
        self.db = db
        self.chunk_bytes = chunk_bytes

    # ---- writing ------------------------------------------------------------------------------------

    def publish(self, staged: StagedBlob) -> None:
        """Store the staged bytes under their digest in one transaction, unless they are stored already."""
        sha256 = check_digest(staged.sha256)
        if self._mark_used(sha256):
            return
        now = utcnow()
        with self.db.session(write=True) as session:
            connection = session.connection()
            inserted = connection.execute(
                pg_insert(_B).values(sha256=sha256, size=staged.size, chunk_size=self.chunk_bytes, created_at=now,
                                     used_at=now).on_conflict_do_nothing(index_elements=["sha256"])
                .returning(_B.c.sha256)).first()
            if inserted is None:
                # A concurrent commit of the same bytes published them (this insert waited for it).
                connection.execute(update(_B).where(_B.c.sha256 == sha256).values(used_at=now))
                return
            with open(staged.temp_path, "rb") as source:
                seq = 0
                while chunk := source.read(self.chunk_bytes):
                    self._write_chunk(connection, sha256, seq, chunk)
                    seq += 1

    def _write_chunk(self, connection: Any, sha256: str, seq: int, data: bytes) -> None:
        # On the transaction's own connection; the bytes as a binary parameter (in text format: hex, twice them).
        with connection.connection.driver_connection.cursor() as cursor:
            cursor.execute(_WRITE_CHUNK, (sha256, seq, data))

    def _mark_used(self, sha256: str) -> bool:
        """Refresh the blob's ``used_at``; False when it is not stored."""
        with self.db.session(write=True) as session:
            result = session.connection().execute(
                update(_B).where(_B.c.sha256 == sha256).values(used_at=utcnow()))
            return bool(result.rowcount)

    # ---- reading ------------------------------------------------------------------------------------

    def exists(self, sha256: str) -> bool:
        """True when the blob is published."""
        check_digest(sha256)
        with self.db.engine.connect() as connection:
            return connection.execute(select(_B.c.sha256).where(_B.c.sha256 == sha256)).first() is not None

    def open(self, sha256: str) -> BinaryIO:
        """A stream over the blob's chunks (seekable; each chunk fetched when the reading reaches it)."""
        check_digest(sha256)
        with self.db.engine.connect() as connection:
            header = connection.execute(select(_B.c.size, _B.c.chunk_size).where(_B.c.sha256 == sha256)).first()
        if header is None:
            raise BlobMissingError(sha256)
        return io.BufferedReader(_ChunkReader(self, sha256, int(header.size), int(header.chunk_size)),
                                 buffer_size=_READ_BUFFER)

    def read_chunk(self, sha256: str, seq: int) -> bytes:
        """Chunk ``seq`` of the blob; raises :class:`BlobMissingError` when it is not there."""
        # In PostgreSQL's binary format: in text format a bytea travels as hex, twice the chunk, and the reading
        # thread kept those larger buffers (bench/memory.py: a 100 MiB delivery grew the gateway 1.9 MiB more).
        with self.db.engine.connect() as connection, \
                connection.connection.driver_connection.cursor(binary=True) as cursor:  # type: ignore[union-attr]
            cursor.execute(_READ_CHUNK, (sha256, seq))
            row = cursor.fetchone()
        if row is None:
            raise BlobMissingError(sha256)
        return bytes(row[0])

    def check_writable(self) -> bool:
        """The staging folder is writable and the blob table answers."""
        if not super().check_writable():
            return False
        try:
            with self.db.engine.connect() as connection:
                connection.execute(select(_B.c.sha256).limit(1)).first()
            return True
        except SQLAlchemyError:
            return False

    # ---- garbage collection ---------------------------------------------------------------------------

    def collect_garbage(self, referenced: Referenced, *, idle_for: timedelta = GC_IDLE,
                        should_stop: Callable[[], bool] | None = None) -> int:
        """Delete blobs unused for ``idle_for`` that ``referenced`` does not name (see :class:`BlobStore`)."""
        cutoff = utcnow() - idle_for
        removed = 0
        after = ""
        while should_stop is None or not should_stop():
            with self.db.engine.connect() as connection:
                batch = [str(s) for s in connection.execute(
                    select(_B.c.sha256).where(_B.c.used_at < cutoff, _B.c.sha256 > after)
                    .order_by(_B.c.sha256).limit(GC_BATCH)).scalars()]
            if not batch:
                break
            after = batch[-1]
            needed = referenced(batch)
            doomed = [s for s in batch if s not in needed]
            if doomed:
                removed += self._delete_idle(doomed, cutoff)
        return removed

    def _delete_idle(self, digests: list[str], cutoff: datetime) -> int:
        # used_at is checked again by the DELETE itself: a commit that marked a blob used since the listing
        # (and will write rows naming it) holds or has released its row lock, and the re-read row is kept.
        with self.db.session(write=True) as session:
            gone = session.connection().execute(
                delete(_B).where(_B.c.sha256.in_(digests), _B.c.used_at < cutoff).returning(_B.c.sha256))
            return len(gone.all())  # the chunks go with their header (ON DELETE CASCADE)

    def stored_chunks(self, sha256: str) -> int:
        """How many chunk rows of this digest a reader sees (tests, operations)."""
        with self.db.engine.connect() as connection:
            return len(connection.execute(select(_C.c.seq).where(_C.c.sha256 == sha256)).all())


class _ChunkReader(io.RawIOBase):
    """The raw stream under :meth:`PostgresBlobStore.open`: one chunk held at a time."""

    def __init__(self, store: PostgresBlobStore, sha256: str, size: int, chunk_size: int) -> None:
        super().__init__()
        self._store = store
        self._sha256 = sha256
        self._size = size
        self._chunk_size = chunk_size
        self._pos = 0
        self._seq = -1
        self._data = memoryview(b"")

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}.get(whence)
        if base is None:
            raise ValueError(f"invalid whence {whence}")
        if base + offset < 0:
            raise OSError(errno.EINVAL, "negative seek position")
        self._pos = base + offset
        return self._pos

    def readinto(self, buffer: Any) -> int:
        if self.closed:
            raise ValueError("read of a closed blob")
        if self._pos >= self._size:
            return 0
        seq, offset = divmod(self._pos, self._chunk_size)
        if seq != self._seq:
            data = self._store.read_chunk(self._sha256, seq)
            expected = min(self._chunk_size, self._size - seq * self._chunk_size)
            if len(data) != expected:
                raise OSError(errno.EIO, f"chunk {seq} of blob {self._sha256} holds {len(data)} bytes, not {expected}")
            self._data, self._seq = memoryview(data), seq
        target = memoryview(buffer).cast("B")
        count = min(len(target), len(self._data) - offset)
        target[:count] = self._data[offset:offset + count]
        self._pos += count
        return count

    def close(self) -> None:
        self._data = memoryview(b"")
        super().close()
