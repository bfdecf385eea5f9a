"""The content-addressed attachment store: ``<root>/sha256/ab/cd/<hex>``.

A file is written to ``<root>/tmp/`` while its hash is computed, fsynced, and only then renamed into
place (and the folder fsynced), so a crash at any instant leaves either nothing under ``sha256/`` or
the complete, verified file. Names given by clients are never used as paths.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import time
import uuid
from contextlib import suppress
from pathlib import Path
from typing import BinaryIO

import filetype

ALLOWED_TYPES = frozenset({"application/pdf", "image/jpeg", "image/png"})
SNIFF_BYTES = 262
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_NO_SPACE = frozenset({errno.ENOSPC, errno.EDQUOT})


def is_storage_full(exc: BaseException) -> bool:
    """True when ``exc`` says the blob store's file system is full or over quota."""
    return isinstance(exc, OSError) and exc.errno in _NO_SPACE


class BlobTooLargeError(Exception):
    """A file grew past the limit it was written under."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"file larger than {limit} bytes")
        self.limit = limit


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
    """A file being received: written to a temporary file, hashed and measured on the way."""

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
        """Flush and fsync the temporary file; fixes ``sha256`` and ``content_type``."""
        if self._file is None:
            return
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        self._file = None
        self.sha256 = self._hash.hexdigest()
        self.content_type = sniff_content_type(self._head)

    def commit(self) -> Path:
        """Move the finished file to its content address (keeping an existing identical one)."""
        self.finish()
        final = self._store.path_for(self.sha256)
        if final.exists():
            self.temp_path.unlink(missing_ok=True)
            return final
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(self.temp_path, final)
        _fsync_dir(final.parent)
        return final

    def discard(self) -> None:
        """Drop the temporary file (the request failed or was a repeat)."""
        if self._file is not None:
            # On a full disk, closing flushes the buffer and fails again; the file goes either way.
            with suppress(OSError):
                self._file.close()
            self._file = None
        self.temp_path.unlink(missing_ok=True)


class BlobStore:
    """The attachment store rooted at ``GATEWAY_BLOB_DIR``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.tmp_dir = root / "tmp"
        self.data_dir = root / "sha256"

    def ensure(self) -> None:
        """Create the folders."""
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir.mkdir(parents=True, exist_ok=True)

    def stage(self, limit: int) -> StagedBlob:
        """Start receiving one file of at most ``limit`` bytes."""
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        return StagedBlob(self, limit)

    def path_for(self, sha256: str) -> Path:
        """Where the bytes with this digest live (whether or not they are there)."""
        if not _HEX64.match(sha256):
            raise ValueError("not a lowercase sha256 hex digest")
        return self.data_dir / sha256[:2] / sha256[2:4] / sha256

    def exists(self, sha256: str) -> bool:
        """True when the bytes are stored."""
        return self.path_for(sha256).is_file()

    def verify(self, sha256: str) -> bool:
        """Re-hash the stored bytes and compare (streaming)."""
        digest = hashlib.sha256()
        with open(self.path_for(sha256), "rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
        return digest.hexdigest() == sha256

    def check_writable(self) -> bool:
        """True when a file can be created, fsynced and removed in the store (readiness probe)."""
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


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
