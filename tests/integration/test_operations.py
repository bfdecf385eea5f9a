"""Operating the gateway: refusing an unmigrated database, readiness, masked logs, SIGKILL mid-upload."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import psycopg
import pytest
import structlog
from sqlalchemy import func, select, text
from starlette.testclient import TestClient

from adapters.province.samples import sample_dossier
from gateway.blobs.fs import FileBlobStore
from gateway.db import Database, create_database
from gateway.logging import configure_logging
from gateway.models import Dossier, DossierRevision
from gateway.settings import Settings
from outbox.models import OutboxMessage
from tests.conftest import API_KEYS, PROVINCE_KEY, READER_KEY
from tests.support.intake import auth, multipart_body, post_json, post_multipart, sample_files
from tests.support.pg import PgCluster
from tests.support.procs import gateway_env, run_gateway, serve_gateway


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database that exists but was never migrated."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    cluster: PgCluster = request.getfixturevalue("pg_cluster")
    name = f"e_{uuid.uuid4().hex[:12]}"
    dsn = f"host=127.0.0.1 port={cluster.port} user=postgres dbname=postgres"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    yield cluster.url(name)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def test_serve_refuses_an_unmigrated_database_then_starts_after_migrate(empty_db_url: str, tmp_path: Path) -> None:
    env = gateway_env(empty_db_url, tmp_path / "blobs", API_KEYS)
    refused = run_gateway(["serve", "--port", "1"], env)
    assert refused.returncode == 3
    assert "gateway migrate" in refused.stderr

    migrated = run_gateway(["migrate"], env)
    assert migrated.returncode == 0, migrated.stderr
    assert "migrated from empty" in migrated.stdout
    assert "already at" in run_gateway(["migrate"], env).stdout

    with serve_gateway(env, tmp_path / "serve.log") as gateway:
        ready = httpx.get(f"{gateway.base_url}/health/ready", timeout=5)
        assert ready.status_code == 200, ready.text


def test_migrate_from_another_working_directory_uses_the_packaged_migrations(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = gateway_env("sqlite:///./relative.db", tmp_path / "blobs", API_KEYS)
    done = subprocess.run([sys.executable, "-m", "gateway", "migrate"], env=env, cwd=elsewhere,
                          capture_output=True, text=True, check=False, timeout=60)
    assert done.returncode == 0, done.stderr
    assert (elsewhere / "relative.db").exists()


def test_ready_is_503_when_the_blob_store_is_not_writable(client: TestClient, settings: Settings) -> None:
    assert client.get("/health/ready").status_code == 200
    shutil.rmtree(settings.blob_dir)
    settings.blob_dir.write_text("a file where the blob store should be")

    response = client.get("/health/ready")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unready"
    assert body["components"]["blob_store"]["status"] == "not_writable"
    assert body["components"]["database"]["status"] == "ok"


def test_ready_is_503_when_the_database_is_not_migrated(client: TestClient, db: Database) -> None:
    with db.engine.begin() as conn:
        conn.execute(text("DROP TABLE alembic_version"))
    response = client.get("/health/ready")
    assert response.status_code == 503
    assert response.json()["components"]["database"]["status"] == "not_migrated"
    # Liveness is about the process, not its dependencies.
    assert client.get("/health/live").status_code == 200


def test_ready_reports_the_age_of_the_oldest_undelivered_message(client: TestClient) -> None:
    assert client.get("/health/ready").json()["oldest_undelivered_age_s"] is None
    dossier = sample_dossier()
    post_json(client, PROVINCE_KEY, dossier, sample_files(dossier))
    body = client.get("/health/ready").json()
    assert body["oldest_undelivered_age_s"] is not None and body["oldest_undelivered_age_s"] >= 0
    metrics = client.get("/metrics").text
    assert "gateway_intake_requests_total" in metrics


def test_personal_data_never_reaches_the_logs(
    client: TestClient, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("json", "DEBUG")
    dossier = sample_dossier()
    personal = [dossier["DuLieuToKhai"]["SoDinhDanh"], dossier["DuLieuToKhai"]["HoTen"],
                dossier["DuLieuToKhai"]["NgaySinh"], dossier["ChuHoSo"]["SoDienThoai"],
                dossier["ChuHoSo"]["SoDinhDanh"], dossier["ChuHoSo"]["HoTen"]]
    assert post_json(client, PROVINCE_KEY, dossier, sample_files(dossier)).status_code == 202
    wrong = sample_dossier(MaHoSo="000.00.12.H56-240115-0002")
    wrong["DuLieuToKhai"]["GioiTinh"] = 1  # contradicts the ID: the fault quotes the fields at fault
    assert post_json(client, PROVINCE_KEY, wrong, sample_files(wrong)).status_code == 422
    client.get(f"/api/v1/dossiers/{dossier['MaHoSo']}", headers=auth(READER_KEY))

    # A careless call site passing personal data, under a personal key or inside free text.
    structlog.get_logger("test").warning("careless", soDinhDanh="038141001234", full_name="Nguyễn Thị Hoa",
                                         detail="CCCD 038141001234, sinh 02/03/1941, ĐT 0912345678")
    output = capsys.readouterr().err
    lines = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    assert any(line.get("event") == "dossier_received" for line in lines)
    assert any(line.get("event") == "careless" for line in lines)
    for value in personal:
        assert value not in output, f"{value!r} leaked into the logs"
    assert "02/03/1941" not in output


def test_a_gateway_killed_mid_upload_leaves_nothing_half_written(db_url: str, tmp_path: Path) -> None:
    """SIGKILL while a multipart body is streaming: no dossier, no outbox row, no blob; then all works."""
    blob_dir = tmp_path / "blobs"
    env = gateway_env(db_url, blob_dir, API_KEYS)
    dossier = sample_dossier()
    files = {"f1": sample_files(dossier)["f1"] + b"\n%" + b"0" * (4 * 1024 * 1024)}
    body = multipart_body(dossier, files)
    head = (
        "POST /api/v1/dossiers HTTP/1.1\r\nHost: gateway\r\n"
        f"Authorization: Bearer {PROVINCE_KEY}\r\n"
        "Content-Type: multipart/form-data; boundary=gw-test-boundary\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()

    with serve_gateway(env, tmp_path / "serve.log") as gateway:
        host = urlsplit(gateway.base_url)
        with socket.create_connection((host.hostname or "127.0.0.1", gateway.port)) as sock:
            sock.sendall(head + body[: len(body) // 2])
            deadline = time.monotonic() + 10
            while not list((blob_dir / "tmp").glob("*.part")) and time.monotonic() < deadline:
                time.sleep(0.05)  # wait until the gateway is streaming the file to disk
            gateway.kill()

    assert list((blob_dir / "tmp").glob("*.part")), "the upload should have been mid-stream"
    assert not [p for p in (blob_dir / "sha256").rglob("*") if p.is_file()]
    database = create_database(db_url)
    try:
        with database.session() as session:
            for model in (Dossier, DossierRevision, OutboxMessage):
                assert session.execute(select(func.count()).select_from(model)).scalar_one() == 0
    finally:
        database.dispose()

    with serve_gateway(env, tmp_path / "serve2.log") as gateway, \
            httpx.Client(base_url=gateway.base_url, timeout=30) as http:
        assert post_multipart(http, PROVINCE_KEY, dossier, files).status_code == 202
    # Leftover partial files are swept once they are surely abandoned.
    assert FileBlobStore(blob_dir).remove_stale_temp(older_than_s=0) >= 1
    assert not list((blob_dir / "tmp").glob("*.part"))
