"""Input limits (issue 6, item 3): JSON depth, string lengths, multipart part count, header size, slow bodies.

Every refusal is a problem+json 4xx and nothing is stored (no dossier, no staged file). The slow-body and
header limits are also checked against a real ``gateway serve`` process over raw sockets.
"""

from __future__ import annotations

import json
import shutil
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from adapters.province.samples import sample_dossier
from gateway.app import create_app
from gateway.settings import Settings
from tests.conftest import API_KEYS, PROVINCE_KEY
from tests.support.intake import auth, multipart_body, post_json, post_multipart, sample_files
from tests.support.procs import gateway_env, serve_gateway

PROBLEM = "application/problem+json"


def _with(settings: Settings, **overrides: Any) -> Settings:
    return Settings(**{**settings.model_dump(), **overrides})


@pytest.fixture
def limited(sqlite_settings: Settings) -> Settings:
    """Small limits, so the tests stay small."""
    return _with(sqlite_settings, max_parts=5, max_json_depth=32)


@pytest.fixture
def client(limited: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(limited)) as http:
        yield http


def nested(depth: int) -> Any:
    """An array nested ``depth`` levels deep."""
    value: Any = "x"
    for _ in range(depth):
        value = [value]
    return value


def assert_refused(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    return body


def assert_nothing_stored(client: TestClient, settings: Settings) -> None:
    listing = client.get("/api/v1/dossiers", headers=auth(PROVINCE_KEY))
    assert listing.status_code == 200
    assert listing.json()["items"] == [], listing.text
    stored = [p for p in settings.blob_dir.rglob("*") if p.is_file()] if settings.blob_dir.exists() else []
    assert stored == []


def test_json_nested_too_deep_names_the_place(client: TestClient, limited: Settings) -> None:
    dossier = sample_dossier()
    dossier["DuLieuToKhai"]["GhiChu"] = nested(40)
    body = assert_refused(post_json(client, PROVINCE_KEY, dossier, sample_files(dossier)), 400, "json_too_deep")
    assert body["errors"][0]["field"].startswith("DuLieuToKhai.GhiChu[0]")
    # The same in the multipart encoding (the place is inside part 'hoso').
    body = assert_refused(post_multipart(client, PROVINCE_KEY, dossier, sample_files(dossier)), 400, "json_too_deep")
    assert body["errors"][0]["field"].startswith("hoso.DuLieuToKhai.GhiChu[0]")
    # Nested far beyond what the decoder itself can take: still a 400, not a RecursionError (500).
    deep = b"[" * 200_000 + b"]" * 200_000
    response = client.post("/api/v1/dossiers", content=deep,
                           headers={**auth(PROVINCE_KEY), "Content-Type": "application/json"})
    assert_refused(response, 400, "json_too_deep")
    # 32 levels are fine (judged by the validator, not refused by the reader).
    dossier["DuLieuToKhai"]["GhiChu"] = nested(29)
    response = post_json(client, PROVINCE_KEY, dossier, sample_files(dossier))
    assert response.status_code != 400 or response.json()["code"] != "json_too_deep"


def test_refused_deep_json_stores_nothing(client: TestClient, limited: Settings) -> None:
    dossier = sample_dossier()
    dossier["ChuHoSo"]["X"] = nested(100)
    assert_refused(post_json(client, PROVINCE_KEY, dossier, sample_files(dossier)), 400, "json_too_deep")
    assert_refused(post_multipart(client, PROVINCE_KEY, dossier, sample_files(dossier)), 400, "json_too_deep")
    assert_nothing_stored(client, limited)


def test_string_length_caps(client: TestClient, limited: Settings) -> None:
    dossier = sample_dossier(MaHoSo="0" * 10_000)
    dossier["DuLieuToKhai"]["HoTen"] = "A" * 5_000
    body = assert_refused(post_json(client, PROVINCE_KEY, dossier, sample_files(dossier)), 422, "validation_failed")
    faults = {(e["field"], e["code"]) for e in body["errors"]}
    assert ("MaHoSo", "too_long") in faults
    assert ("DuLieuToKhai.HoTen", "too_long") in faults
    # The refusal does not echo the huge value back.
    assert len(json.dumps(body)) < 5_000
    assert_nothing_stored(client, limited)


def test_too_many_multipart_parts(client: TestClient, limited: Settings) -> None:
    dossier = sample_dossier()
    files = {**sample_files(dossier), **{f"extra{i}": b"%PDF-1.4 x" for i in range(8)}}
    body = assert_refused(post_multipart(client, PROVINCE_KEY, dossier, files), 413, "too_many_parts")
    assert "5" in body["detail"]
    # Thousands of tiny named parts: refused by count at the sixth, before anything else is judged.
    boundary = "gw-test-boundary"
    many = b"".join(f'--{boundary}\r\nContent-Disposition: form-data; name="p{i}"\r\n\r\nz\r\n'.encode()
                    for i in range(5000))
    many += f"--{boundary}--\r\n".encode()
    assert_refused(post_multipart(client, PROVINCE_KEY, dossier, {}, body=many), 413, "too_many_parts")
    assert_nothing_stored(client, limited)


def test_oversized_headers_431(client: TestClient, limited: Settings) -> None:
    response = client.get("/api/v1/dossiers", headers={**auth(PROVINCE_KEY), "X-Big": "a" * 40_000})
    assert_refused(response, 431, "headers_too_large")
    dossier = sample_dossier()
    response = client.post("/api/v1/dossiers", content=json.dumps(dossier),
                           headers={**auth(PROVINCE_KEY), "Content-Type": "application/json",
                                    **{f"X-H{i}": "b" * 1000 for i in range(40)}})
    assert_refused(response, 431, "headers_too_large")
    assert_nothing_stored(client, limited)


# --- a real server: slow bodies and big heads over raw sockets ---------------------------------------------


@pytest.fixture
def served(tmp_path: Path, sqlite_template: Path) -> Iterator[tuple[str, int, Path]]:
    """``gateway serve`` with a 2 s body deadline; yields (base url, port, blob dir)."""
    database = tmp_path / "served.db"
    shutil.copyfile(sqlite_template, database)
    blob_dir = tmp_path / "blobs"
    env = gateway_env(f"sqlite:///{database}", blob_dir, API_KEYS, GATEWAY_BODY_TIMEOUT_S="2")
    with serve_gateway(env, tmp_path / "serve.log") as gateway:
        yield gateway.base_url, gateway.port, blob_dir


def _read_answer(sock: socket.socket, timeout: float) -> bytes:
    sock.settimeout(timeout)
    data = b""
    try:
        while b"\r\n\r\n" not in data or len(data.partition(b"\r\n\r\n")[2]) < _length(data):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    except (TimeoutError, ConnectionResetError):
        pass
    return data


def _length(data: bytes) -> int:
    for line in data.partition(b"\r\n\r\n")[0].split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value.strip())
    return 0


def test_a_trickling_body_is_cut_off_with_408(served: tuple[str, int, Path]) -> None:
    base_url, port, blob_dir = served
    dossier = sample_dossier()
    boundary = "gw-test-boundary"
    body = multipart_body(dossier, sample_files(dossier), boundary)
    head = (f"POST /api/v1/dossiers HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {PROVINCE_KEY}\r\n"
            f"Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {len(body)}\r\n\r\n")
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head.encode())
        answer = b""
        for offset in range(0, len(body), 50):  # 50 bytes every 0.25 s: far slower than the deadline allows
            try:
                sock.sendall(body[offset:offset + 50])
            except (BrokenPipeError, ConnectionResetError):
                break
            sock.settimeout(0.25)
            try:
                answer += sock.recv(65536)
            except TimeoutError:
                continue
            if answer:
                break
        answer += _read_answer(sock, 5)
    elapsed = time.monotonic() - started
    status_line, _, rest = answer.partition(b"\r\n")
    assert b" 408 " in status_line, answer[:500]
    assert b"application/problem+json" in rest.lower()
    assert b'"body_timeout"' in rest
    assert elapsed < 8
    listing = httpx.get(f"{base_url}/api/v1/dossiers", headers=auth(PROVINCE_KEY), timeout=5)
    assert listing.json()["items"] == []
    assert [p for p in blob_dir.rglob("*") if p.is_file()] == []


def test_a_stalled_body_is_cut_off_and_the_server_stays_up(served: tuple[str, int, Path]) -> None:
    base_url, port, _ = served
    head = (f"POST /api/v1/dossiers HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {PROVINCE_KEY}\r\n"
            "Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n{\"MaHoSo\": ")
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head.encode())
        answer = _read_answer(sock, 6)
    assert b" 408 " in answer.partition(b"\r\n")[0], answer[:300]
    assert httpx.get(f"{base_url}/health/live", timeout=5).status_code == 200


def test_big_request_heads_are_refused_by_the_server(served: tuple[str, int, Path]) -> None:
    base_url, port, _ = served
    # Over the app's limit: its 431 problem.
    response = httpx.get(f"{base_url}/api/v1/dossiers", headers={**auth(PROVINCE_KEY), "X-Big": "a" * 40_000})
    assert_refused(response, 431, "headers_too_large")
    # Far over it: the HTTP parser itself refuses (the head is never buffered whole).
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"GET /health/live HTTP/1.1\r\nHost: x\r\n")
        try:
            for _ in range(100):
                sock.sendall(b"X-Pad: " + b"p" * 4000 + b"\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        answer = _read_answer(sock, 5)
    assert answer == b"" or answer.split(b" ")[1].startswith(b"4"), answer[:200]
    assert httpx.get(f"{base_url}/health/live", timeout=5).status_code == 200
