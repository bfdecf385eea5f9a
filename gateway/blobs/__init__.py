"""The attachment store: bytes addressed by their SHA-256, behind one interface, :class:`BlobStore`.

Two implementations (``GATEWAY_BLOB_STORE``):

- ``fs`` (:class:`gateway.blobs.fs.FileBlobStore`): files under ``GATEWAY_BLOB_DIR/sha256/ab/cd/<hex>``.
  Every process that reads them must see that folder: one machine.
- ``postgresql`` (:class:`gateway.blobs.postgresql.PostgresBlobStore`): the bytes in the database, in
  chunks; every process sharing the PostgreSQL database, on any machine, reads what any other took in.

Receiving a file is the same for both: it is staged to a temporary file of this machine
(``GATEWAY_BLOB_DIR/tmp/``) while it is hashed, measured and its type sniffed (the content checks read
it there), then :meth:`StagedBlob.commit` publishes it under its digest, atomically: a crash at any
instant leaves either nothing visible or the complete bytes. Bytes already stored are not stored again;
their "last used" mark is refreshed instead, which is what the garbage collector
(:meth:`BlobStore.collect_garbage`) spares. Names given by clients are never used as paths.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Collection
from contextlib import suppress
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import filetype

if TYPE_CHECKING:
    from gateway.db import Database
    from gateway.settings import Settings

ALLOWED_TYPES = frozenset({"application/pdf", "image/jpeg", "image/png"})
SNIFF_BYTES = 262
HEX64 = re.compile(r"^[0-9a-f]{64}$")
_NO_SPACE = frozenset({errno.ENOSPC, errno.EDQUOT})
# PostgreSQL's "disk full" (class 53: insufficient resources) when the database store has no room left.
_PG_DISK_FULL = frozenset({"53100"})
# Bytes a published blob must have gone unused (not committed again) before the garbage collector may take
# it: far longer than any intake takes from committing its files to committing the rows that name them.
GC_IDLE = timedelta(hours=1)
Referenced = Callable[[Collection[str]], set[str]]
"""Given digests, those that a live row still needs (see ``gateway.admin.service.collect_blobs``)."""


def is_storage_full(exc: BaseException) -> bool:
    """True when ``exc`` says the attachment store (its file system, or its database) is full or over quota."""
    if isinstance(exc, OSError) and exc.errno in _NO_SPACE:
        return True
    original = getattr(exc, "orig", None)  # SQLAlchemy's wrapper of the driver's error
    return getattr(original, "sqlstate", None) in _PG_DISK_FULL


def check_digest(sha256: str) -> str:
    """``sha256`` if it is a lowercase hex SHA-256 digest; raises ValueError otherwise."""
    if not HEX64.match(sha256):
        raise ValueError("not a lowercase sha256 hex digest")
    return sha256


class BlobTooLargeError(Exception):
    """A file grew past the limit it was written under."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"file larger than {limit} bytes")
        self.limit = limit


class BlobMissingError(FileNotFoundError):
    """No bytes are stored under this digest (a ``FileNotFoundError`` whichever the store)."""

    def __init__(self, sha256: str) -> None:
        super().__init__(errno.ENOENT, "no blob stored under this digest", sha256)
        self.sha256 = sha256


def sniff_content_type(head: bytes) -> str | None:
    """The type of a file by its first bytes, when it is one we accept (PDF, JPEG, PNG), else None."""
    mime = filetype.guess_mime(head)
    if mime in ALLOWED_TYPES:
        return str(mime)
    # filetype only recognises a PDF header at offset 0; the PDF spec tolerates leading bytes (≤1024).
    if b"%PDF-" in head[:SNIFF_BYTES]:
        return "application/pdf"
    return None


class StagedBlob:
    """A file being received: written to a temporary file of this machine, hashed and measured on the way."""

    def __init__(self, store: BlobStore, limit: int) -> None:
        self._store = store
        self._limit = limit
        self.temp_path = store.tmp_dir / f"{uuid.uuid4().hex}.part"
        self._file: BinaryIO | None = open(self.temp_path, "xb")  # noqa: SIM115 (closed by finish/discard)
        self._hash = hashlib.sha256()
        self._head = b""
        self.size = 0
        self.sha256 = ""
        self.content_type: str | None = None
        self.committed = False

    def write(self, chunk: bytes) -> None:
        """Append bytes; raises :class:`BlobTooLargeError` past the limit (the caller then discards)."""
        if self._file is None:
            raise RuntimeError("blob already finished")
        self.size += len(chunk)
        if self.size > self._limit:
            raise BlobTooLargeError(self._limit)
        if len(self._head) < SNIFF_BYTES:
            self._head += chunk[: SNIFF_BYTES - len(self._head)]
        self._hash.update(chunk)
        self._file.write(chunk)

    def finish(self) -> None:
        """Close the temporary file (fsynced when the store publishes it by renaming it); fixes ``sha256`` and
        ``content_type``."""
        if self._file is None:
            return
        self._file.flush()
        if self._store.durable_staging:
            os.fsync(self._file.fileno())
        self._file.close()
        self._file = None
        self.sha256 = self._hash.hexdigest()
        self.content_type = sniff_content_type(self._head)

    def open_staged(self) -> BinaryIO:
        """The finished staged bytes, open for reading (the content checks read them before the commit)."""
        self.finish()
        return open(self.temp_path, "rb")

    def commit(self) -> None:
        """Publish the finished bytes under their digest (keeping, and marking used, identical ones stored)."""
        self.finish()
        if not self.committed:
            self._store.publish(self)
            self.committed = True

    def discard(self) -> None:
        """Drop the temporary file (the request failed, or the bytes were committed)."""
        if self._file is not None:
            # On a full disk, closing flushes the buffer and fails again; the file goes either way.
            with suppress(OSError):
                self._file.close()
            self._file = None
        self.temp_path.unlink(missing_ok=True)


class BlobStore(ABC):
    """What intake, delivery, death notices, readiness and the purge use of the attachment store.

    ``tmp_dir`` is this machine's staging folder (``GATEWAY_BLOB_DIR/tmp``) whichever the store.
    """

    kind: str
    durable_staging: bool = False  # fsync the staged file (when publishing renames it into place)

    def __init__(self, root: Path) -> None:
        self.root = root
        self.tmp_dir = root / "tmp"

    def ensure(self) -> None:
        """Create the local folders."""
        self.tmp_dir.mkdir(parents=True, exist_ok=True)

    def stage(self, limit: int) -> StagedBlob:
        """Start receiving one file of at most ``limit`` bytes."""
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        return StagedBlob(self, limit)

    @abstractmethod
    def publish(self, staged: StagedBlob) -> None:
        """Make the finished ``staged`` bytes readable under ``staged.sha256`` (called by
        :meth:`StagedBlob.commit`): atomically, once per content, marking stored bytes used."""

    @abstractmethod
    def exists(self, sha256: str) -> bool:
        """True when bytes are stored under this digest."""

    @abstractmethod
    def open(self, sha256: str) -> BinaryIO:
        """The stored bytes as a binary stream at its start (readable, seekable; the caller closes it), read
        piece by piece, never whole; raises :class:`BlobMissingError` when there are none."""

    def verify(self, sha256: str) -> bool:
        """Re-hash the stored bytes (streaming) and compare; raises :class:`BlobMissingError` when there are none."""
        digest = hashlib.sha256()
        with self.open(sha256) as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
        return digest.hexdigest() == sha256

    @abstractmethod
    def collect_garbage(self, referenced: Referenced, *, idle_for: timedelta = GC_IDLE,
                        should_stop: Callable[[], bool] | None = None) -> int:
        """Delete the stored blobs unused (not committed again) for ``idle_for`` that ``referenced`` does not
        return, in batches (``should_stop()`` asked between them); returns how many were deleted.

        A commit of the same bytes racing the deletion either marks them used first (they are kept) or
        finds them gone and stores them again: a row written after its files were committed never points
        at deleted bytes.
        """

    def check_writable(self) -> bool:
        """True when a file can be created, fsynced and removed in the staging folder (readiness probe)."""
        try:
            self.ensure()
            probe = self.tmp_dir / f".probe-{uuid.uuid4().hex}"
            with open(probe, "xb") as handle:
                handle.write(b"ok")
                handle.flush()
                os.fsync(handle.fileno())
            probe.unlink()
            return True
        except OSError:
            return False

    def remove_stale_temp(self, older_than_s: float = 3600.0) -> int:
        """Delete temporary files left by a crashed process; returns how many."""
        if not self.tmp_dir.is_dir():
            return 0
        cutoff = time.time() - older_than_s
        removed = 0
        for path in self.tmp_dir.glob("*.part"):
            try:
                if path.stat().st_mtime < cutoff:
                    path.unlink()
                    removed += 1
            except FileNotFoundError:
                continue
        return removed


def create_blob_store(settings: Settings, db: Database) -> BlobStore:
    """The store ``GATEWAY_BLOB_STORE`` names; ``postgresql`` on a database that is not PostgreSQL is refused."""
    if settings.blob_store == "postgresql":
        if db.dialect != "postgresql":
            raise ValueError("GATEWAY_BLOB_STORE=postgresql keeps attachments in the database, which must then be "
                             f"PostgreSQL (it is {db.dialect}); use GATEWAY_BLOB_STORE=fs")
        from gateway.blobs.postgresql import PostgresBlobStore

        return PostgresBlobStore(db, settings.blob_dir)
    from gateway.blobs.fs import FileBlobStore

    return FileBlobStore(settings.blob_dir)


__all__ = ["ALLOWED_TYPES", "GC_IDLE", "SNIFF_BYTES", "BlobMissingError", "BlobStore", "BlobTooLargeError",
           "Referenced", "StagedBlob", "check_digest", "create_blob_store", "is_storage_full", "sniff_content_type"]
