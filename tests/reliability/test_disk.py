"""Disk: the blob store on a tiny tmpfs, filled up. Intake answers 507 problem+json, keeps nothing of the
refused request, and takes dossiers again once there is room."""

from __future__ import annotations

import errno
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from adapters.province.samples import numbered_dossier
from gateway.migrate import upgrade
from tests.conftest import API_KEYS, IN_CI, PROVINCE_KEY
from tests.reliability.harness import Child, record
from tests.support.intake import auth, post_json, post_multipart, sample_files
from tests.support.pg import free_port
from tests.support.procs import gateway_env

pytestmark = [pytest.mark.reliability]


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MiB tmpfs; skipped (never in CI) where mounting is not permitted."""
    mount_point = tmp_path / "blobs"
    mount_point.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount_point)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        reason = f"cannot mount a tmpfs here ({done.stderr.strip() or done.returncode}); needs root or CAP_SYS_ADMIN"
        if IN_CI:
            pytest.fail(f"CI=true: {reason}")
        pytest.skip(reason)
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def _fill(directory: Path) -> Path:
    """Write a file until the file system refuses; returns it (delete it to give the room back)."""
    filler = directory / "filler.bin"
    with filler.open("wb", buffering=0) as handle:
        try:
            while True:
                handle.write(b"\0" * 65536)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
        try:
            while True:
                handle.write(b"\0" * 512)
        except OSError:
            pass
    return filler


def test_a_full_blob_store_answers_507_and_keeps_nothing_then_recovers(tiny_disk: Path, tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'gateway.db'}"
    upgrade(db_url)
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    serve = Child("serve", ["serve", "--port", str(port)], gateway_env(db_url, tiny_disk, API_KEYS), tmp_path,
                  health_url=f"{base_url}/health/live")
    started = time.monotonic()
    refused: list[int] = []
    try:
        serve.start()
        filler = _fill(tiny_disk)
        with httpx.Client(base_url=base_url, timeout=10) as http:
            for number, post in ((4001, post_multipart), (4002, post_json)):
                dossier = numbered_dossier(number)
                answer = post(http, PROVINCE_KEY, dossier, sample_files(dossier))
                refused.append(answer.status_code)
                assert answer.status_code == 507, answer.text
                assert answer.headers["content-type"].startswith("application/problem+json")
                assert answer.json()["code"] == "insufficient_storage"
                assert http.get(f"/api/v1/dossiers/{dossier['MaHoSo']}",
                                headers=auth(PROVINCE_KEY)).status_code == 404
            assert list((tiny_disk / "tmp").glob("*.part")) == [], "a staged file was left behind"
            assert not any(p.is_file() for p in (tiny_disk / "sha256").rglob("*")), "bytes stored for nothing"
            ready_while_full = http.get("/health/ready")
            assert ready_while_full.status_code == 503
            assert ready_while_full.json()["components"]["blob_store"]["status"] == "not_writable"

            filler.unlink()  # room again
            for number, post in ((4001, post_multipart), (4002, post_json)):
                dossier = numbered_dossier(number)
                assert post(http, PROVINCE_KEY, dossier, sample_files(dossier)).status_code == 202
            assert http.get("/health/ready").status_code == 200
    finally:
        serve.stop()
    record("disk_full", dossiers=2, refused_507=len(refused), accepted_after=2, lost=0, duplicates=0,
           runtime_s=round(time.monotonic() - started, 1))
