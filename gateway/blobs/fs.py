"""``GATEWAY_BLOB_STORE=fs``: the attachment store as files, ``<root>/sha256/ab/cd/<hex>``.

A staged file is fsynced, then renamed into place (and the folder fsynced), so a crash at any instant
leaves either nothing under ``sha256/`` or the complete, verified file. A file's modification time is
its "last used" mark: committing the same bytes again touches it.

The garbage collector and a commit of bytes already stored take ``<root>/gc.lock`` (an ``flock``:
exclusive for the collector's last look and unlink, shared for the commit's touch), so that the
collector never removes a file between a commit's touch and the rows that commit then writes.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import BinaryIO

from gateway.blobs import GC_IDLE, BlobMissingError, BlobStore, Referenced, StagedBlob, check_digest

GC_BATCH = 500


class FileBlobStore(BlobStore):
    """The attachment store rooted at ``GATEWAY_BLOB_DIR`` (one machine)."""

    kind = "fs"
    durable_staging = True

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.data_dir = root / "sha256"
        self._lock_path = root / "gc.lock"

    def ensure(self) -> None:
        """Create the folders."""
        super().ensure()
        self.data_dir.mkdir(parents=True, exist_ok=True)

    def path_for(self, sha256: str) -> Path:
        """Where the bytes with this digest live (whether or not they are there)."""
        check_digest(sha256)
        return self.data_dir / sha256[:2] / sha256[2:4] / sha256

    def publish(self, staged: StagedBlob) -> None:
        """Rename the staged file to its content address, or touch an identical file already there."""
        final = self.path_for(staged.sha256)
        if final.exists():
            with self._gc_lock(exclusive=False):
                try:
                    os.utime(final)
                    staged.temp_path.unlink(missing_ok=True)
                    return
                except FileNotFoundError:
                    pass  # collected since: stored again below
                except PermissionError:
                    staged.temp_path.unlink(missing_ok=True)  # stored by another user: kept as it is
                    return
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staged.temp_path, final)
        _fsync_dir(final.parent)

    def exists(self, sha256: str) -> bool:
        """True when the bytes are stored."""
        return self.path_for(sha256).is_file()

    def open(self, sha256: str) -> BinaryIO:
        """The stored file, open for reading."""
        try:
            return open(self.path_for(sha256), "rb")
        except (FileNotFoundError, IsADirectoryError):
            raise BlobMissingError(sha256) from None

    def collect_garbage(self, referenced: Referenced, *, idle_for: timedelta = GC_IDLE,
                        should_stop: Callable[[], bool] | None = None) -> int:
        """Remove files untouched for ``idle_for`` that ``referenced`` does not name (see :class:`BlobStore`)."""
        cutoff = time.time() - idle_for.total_seconds()
        removed = 0
        batch: dict[str, Path] = {}
        for path in self._files():
            try:
                if path.stat().st_mtime >= cutoff:
                    continue
            except FileNotFoundError:
                continue
            batch[path.name] = path
            if len(batch) >= GC_BATCH:
                removed += self._remove_unreferenced(batch, referenced, cutoff)
                batch = {}
                if should_stop is not None and should_stop():
                    return removed
        if batch:
            removed += self._remove_unreferenced(batch, referenced, cutoff)
        return removed

    def _files(self) -> Iterator[Path]:
        """Every stored file (the three levels of ``sha256/ab/cd/<hex>``), anything else skipped."""
        for second in _subfolders(self.data_dir):
            for folder in _subfolders(second):
                with os.scandir(folder) as entries:
                    found = [Path(e.path) for e in entries if e.is_file(follow_symlinks=False) and len(e.name) == 64]
                yield from found

    def _remove_unreferenced(self, batch: dict[str, Path], referenced: Referenced, cutoff: float) -> int:
        needed = referenced(list(batch))
        removed = 0
        for sha256, path in batch.items():
            if sha256 in needed:
                continue
            with self._gc_lock(exclusive=True):
                try:
                    if path.stat().st_mtime >= cutoff:  # committed again since the listing: kept
                        continue
                    path.unlink()
                    removed += 1
                except FileNotFoundError:
                    continue  # another collector took it
        return removed

    @contextmanager
    def _gc_lock(self, *, exclusive: bool) -> Iterator[None]:
        # A descriptor of its own each time: flock excludes open file descriptions, so threads of one process
        # (intake and the embedded worker's purge) exclude each other too.
        fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            yield
        finally:
            os.close(fd)


def _subfolders(path: Path) -> list[Path]:
    try:
        with os.scandir(path) as entries:
            return [Path(e.path) for e in entries if e.is_dir(follow_symlinks=False)]
    except FileNotFoundError:
        return []


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
