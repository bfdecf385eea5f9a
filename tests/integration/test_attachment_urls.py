"""Attachments by URL (``DuongDanTaiTepTin``): fetched over real sockets, with the SSRF rules enforced.

A tiny file server runs on 127.0.0.1; the gateway allowlists ``127.0.0.1`` and allows it to be a
private address (the test server is on loopback). Refusals are checked against that same setup.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio
import anyio.lowlevel
import pytest
from fastapi import FastAPI, Request, Response
from fastapi.responses import RedirectResponse, StreamingResponse
from sqlalchemy import func, select
from starlette.testclient import TestClient

from adapters.province import fetch
from adapters.province.samples import sample_dossier, sample_pdf_bytes
from gateway.app import create_app
from gateway.db import Database, create_database
from gateway.models import Attachment, Dossier, DossierRevision
from gateway.settings import Settings
from outbox.models import OutboxMessage
from tests.conftest import PROVINCE_KEY
from tests.support.intake import auth, sha256_hex
from tests.support.servers import run_server

PDF = sample_pdf_bytes("fetched by url")
FIELD = "TaiLieuNop[0].DuongDanTaiTepTin"


class FileServer:
    """The province's file server, as seen by the tests: its base URL, port, and what it was asked."""

    def __init__(self) -> None:
        self.hits: dict[str, int] = {}
        self.hosts: list[str] = []
        self.base = ""
        self.port = 0
        self.app = FastAPI()
        app = self.app

        def hit(request: Request, name: str) -> int:
            self.hosts.append(request.headers.get("host", ""))
            self.hits[name] = self.hits.get(name, 0) + 1
            return self.hits[name]

        @app.get("/doc.pdf")
        def doc(request: Request) -> Response:
            hit(request, "doc")
            return Response(PDF, media_type="application/pdf")

        @app.get("/redirect")
        def redirect(request: Request) -> Response:
            hit(request, "redirect")
            return RedirectResponse("/doc.pdf", status_code=302)

        @app.get("/redirect-away")
        def redirect_away(request: Request) -> Response:
            return RedirectResponse("http://files.elsewhere.example/doc.pdf", status_code=302)

        @app.get("/redirect-localhost")
        def redirect_localhost(request: Request) -> Response:
            return RedirectResponse(f"http://localhost:{self.port}/doc.pdf", status_code=307)

        @app.get("/loop")
        def loop(request: Request) -> Response:
            hit(request, "loop")
            return RedirectResponse("/loop", status_code=302)

        @app.get("/flaky")
        def flaky(request: Request) -> Response:
            if hit(request, "flaky") == 1:
                return Response("down", status_code=500)
            return Response(PDF, media_type="application/pdf")

        @app.get("/busy")
        def busy(request: Request) -> Response:
            if hit(request, "busy") == 1:
                return Response("slow down", status_code=429, headers={"Retry-After": "0"})
            return Response(PDF, media_type="application/pdf")

        @app.get("/broken")
        def broken(request: Request) -> Response:
            hit(request, "broken")
            return Response("down", status_code=503)

        @app.get("/missing")
        def missing(request: Request) -> Response:
            hit(request, "missing")
            return Response("no", status_code=404)

        @app.get("/badgzip")
        def badgzip(request: Request) -> Response:
            hit(request, "badgzip")
            return Response(b"not gzip at all", media_type="application/pdf", headers={"Content-Encoding": "gzip"})

        @app.get("/forever")
        def forever(request: Request) -> StreamingResponse:
            async def chunks() -> AsyncIterator[bytes]:
                yield PDF[:200]
                while True:
                    yield b"\0" * 65536
                    await anyio.lowlevel.checkpoint()

            return StreamingResponse(chunks(), media_type="application/pdf")

    def reset(self) -> None:
        self.hits.clear()
        self.hosts.clear()


@pytest.fixture(scope="module")
def file_server() -> Iterator[FileServer]:
    server = FileServer()
    with run_server(server.app, graceful_shutdown_seconds=0.5) as base:
        server.base = base
        server.port = int(base.rsplit(":", 1)[1])
        yield server


@pytest.fixture
def files(file_server: FileServer, monkeypatch: pytest.MonkeyPatch) -> FileServer:
    file_server.reset()
    monkeypatch.setattr(fetch, "BACKOFF_BASE_S", 0.01)
    return file_server


def url_settings(settings: Settings, allow: str = "127.0.0.1", private: str = "127.0.0.1", **extra: Any) -> Settings:
    return settings.model_copy(update={"attachment_url_allowlist": allow, "attachment_url_allow_private": private,
                                       **extra})


def post_url(settings: Settings, url: str) -> tuple[Any, Database]:
    dossier = sample_dossier()
    dossier["TaiLieuNop"][0]["DuongDanTaiTepTin"] = url
    database = create_database(settings.database_url)
    with TestClient(create_app(settings, database=database)) as client:
        response = client.post("/api/v1/dossiers", json=dossier, headers=auth(PROVINCE_KEY))
    return response, database


def count(db: Database, model: Any) -> int:
    with db.session() as session:
        return int(session.execute(select(func.count()).select_from(model)).scalar_one())


def assert_nothing_stored(db: Database, settings: Settings) -> None:
    for model in (Dossier, DossierRevision, Attachment, OutboxMessage):
        assert count(db, model) == 0
    for folder in ("sha256", "tmp"):
        path = settings.blob_dir / folder
        assert not path.exists() or [p for p in path.rglob("*") if p.is_file()] == []
    db.dispose()


def refused(response: Any, code: str, status: int = 422) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    errors = {(e["field"], e["code"]): e["message"] for e in response.json()["errors"]}
    assert (FIELD, code) in errors, errors
    assert errors[(FIELD, code)] and "{" not in errors[(FIELD, code)]  # a filled-in Vietnamese message


# --- fetched ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/doc.pdf", "/redirect", "/flaky", "/busy"])
def test_url_attachment_is_fetched_and_stored(settings: Settings, files: FileServer, path: str) -> None:
    settings = url_settings(settings)
    response, db = post_url(settings, files.base + path)
    assert response.status_code == 202, response.text
    digest = sha256_hex(PDF)
    assert (settings.blob_dir / "sha256" / digest[:2] / digest[2:4] / digest).read_bytes() == PDF
    assert count(db, Attachment) == 1
    assert [p for p in (settings.blob_dir / "tmp").glob("*.part")] == []
    if path in ("/flaky", "/busy"):
        assert files.hits[path.strip("/")] == 2  # one transient failure, then the file
    db.dispose()


def test_declared_hash_is_checked_against_fetched_bytes(settings: Settings, files: FileServer) -> None:
    settings = url_settings(settings)
    dossier = sample_dossier()
    dossier["TaiLieuNop"][0].update(DuongDanTaiTepTin=files.base + "/doc.pdf", MaBam="0" * 64)
    database = create_database(settings.database_url)
    with TestClient(create_app(settings, database=database)) as client:
        response = client.post("/api/v1/dossiers", json=dossier, headers=auth(PROVINCE_KEY))
    assert response.status_code == 422
    assert "hash_mismatch" in {e["code"] for e in response.json()["errors"]}
    assert_nothing_stored(database, settings)


def test_connects_to_the_validated_address_with_the_original_host_header(
    settings: Settings, files: FileServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A LAN name (allowlisted and allowed private) resolved by the guard, Host header kept."""
    real = anyio.getaddrinfo

    async def resolve(host: Any, port: Any, **kwargs: Any) -> Any:
        return await real("127.0.0.1" if host == "files.lan" else host, port, **kwargs)

    monkeypatch.setattr(anyio, "getaddrinfo", resolve)
    settings = url_settings(settings, allow="files.lan", private="files.lan")
    response, db = post_url(settings, f"http://files.lan:{files.port}/doc.pdf")
    assert response.status_code == 202, response.text
    assert files.hosts == [f"files.lan:{files.port}"]
    db.dispose()


# --- refused ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("url", [
    "http://files.example.vn/doc.pdf",   # host not allowlisted
    "file:///etc/passwd",
    "ftp://127.0.0.1/doc.pdf",
    "http://169.254.169.254/latest/meta-data/",
    "gopher://127.0.0.1:70/x",
])
def test_url_outside_the_allowlist_or_not_http_is_refused(settings: Settings, files: FileServer, url: str) -> None:
    settings = url_settings(settings)
    response, db = post_url(settings, url)
    refused(response, "attachment_url_not_allowed")
    assert files.hits == {}
    assert_nothing_stored(db, settings)


def test_empty_allowlist_refuses_url_mode(settings: Settings, files: FileServer) -> None:
    response, db = post_url(settings, files.base + "/doc.pdf")
    refused(response, "attachment_url_not_allowed")
    assert files.hits == {}
    assert_nothing_stored(db, settings)


def test_allowlisted_host_resolving_to_loopback_needs_allow_private(settings: Settings, files: FileServer) -> None:
    settings = url_settings(settings, allow="127.0.0.1,localhost", private="127.0.0.1")
    response, db = post_url(settings, f"http://localhost:{files.port}/doc.pdf")
    refused(response, "attachment_url_private_address")
    assert files.hits == {}
    assert_nothing_stored(db, settings)


def test_wildcard_entry_never_grants_private_addresses(settings: Settings, files: FileServer) -> None:
    settings = url_settings(settings, allow="*.localhost,localhost", private="*.localhost")
    response, db = post_url(settings, f"http://localhost:{files.port}/doc.pdf")
    refused(response, "attachment_url_private_address")
    assert_nothing_stored(db, settings)


def test_metadata_address_is_refused_even_when_allowlisted(settings: Settings, files: FileServer) -> None:
    settings = url_settings(settings, allow="169.254.169.254", private="169.254.169.254")
    response, db = post_url(settings, "http://169.254.169.254/latest/meta-data/")
    refused(response, "attachment_url_private_address")
    assert_nothing_stored(db, settings)


def test_rebinding_to_loopback_is_caught_at_connect(
    settings: Settings, files: FileServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A public name whose DNS answer turns into loopback is refused on the address actually connected to."""
    real = anyio.getaddrinfo

    async def rebind(host: Any, port: Any, **kwargs: Any) -> Any:
        if host == "files.tinh.example":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", port)),
                    (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]
        return await real(host, port, **kwargs)

    monkeypatch.setattr(anyio, "getaddrinfo", rebind)
    settings = url_settings(settings, allow="files.tinh.example", private="")
    response, db = post_url(settings, f"http://files.tinh.example:{files.port}/doc.pdf")
    refused(response, "attachment_url_private_address")
    assert files.hits == {}
    assert_nothing_stored(db, settings)


@pytest.mark.parametrize(("path", "code"), [
    ("/redirect-away", "attachment_url_not_allowed"),
    ("/redirect-localhost", "attachment_url_private_address"),
    ("/loop", "attachment_url_too_many_redirects"),
])
def test_redirects_are_rechecked(settings: Settings, files: FileServer, path: str, code: str) -> None:
    settings = url_settings(settings, allow="127.0.0.1,localhost")
    response, db = post_url(settings, files.base + path)
    refused(response, code)
    assert "doc" not in files.hits
    if path == "/loop":
        assert files.hits["loop"] == fetch.MAX_REDIRECTS + 1
    assert_nothing_stored(db, settings)


@pytest.mark.parametrize(("path", "code", "hits"), [
    ("/missing", "attachment_url_http_error", 1),
    ("/broken", "attachment_url_http_error", fetch.ATTEMPTS),
    ("/badgzip", "attachment_url_http_error", 1),
])
def test_http_errors_are_field_errors(settings: Settings, files: FileServer, path: str, code: str,
                                      hits: int) -> None:
    settings = url_settings(settings)
    response, db = post_url(settings, files.base + path)
    refused(response, code)
    assert files.hits[path.strip("/")] == hits
    assert_nothing_stored(db, settings)


def test_unreachable_server_is_a_field_error(settings: Settings, files: FileServer) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = url_settings(settings)
    response, db = post_url(settings, f"http://127.0.0.1:{port}/doc.pdf")
    refused(response, "attachment_url_unreachable")
    assert_nothing_stored(db, settings)


def test_endless_file_is_cut_at_the_size_cap(settings: Settings, files: FileServer) -> None:
    settings = url_settings(settings, max_file_bytes=256 * 1024)
    response, db = post_url(settings, files.base + "/forever")
    refused(response, "attachment_too_large", status=413)
    assert_nothing_stored(db, settings)


# --- the address rules themselves --------------------------------------------------------------------


@pytest.mark.parametrize("address", [
    "127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0",
    "224.0.0.1", "240.0.0.1", "255.255.255.255", "::1", "::", "fe80::1", "fc00::1", "ff02::1",
    "::ffff:127.0.0.1", "::ffff:169.254.169.254", "2002:7f00:1::1", "64:ff9b::a00:1",
])
def test_forbidden_addresses(address: str) -> None:
    assert fetch.is_forbidden_address(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["93.184.215.14", "8.8.8.8", "2606:4700:4700::1111"])
def test_public_addresses(address: str) -> None:
    assert not fetch.is_forbidden_address(ipaddress.ip_address(address))


def test_allowlist_matching() -> None:
    policy = fetch.UrlPolicy(fetch.parse_host_list(" Files.Tinh.gov.vn. , *.hue.gov.vn"), frozenset())
    assert policy.host_allowed("files.tinh.gov.vn")
    assert policy.host_allowed("a.b.hue.gov.vn")
    assert not policy.host_allowed("hue.gov.vn")
    assert not policy.host_allowed("evilhue.gov.vn")
    assert not policy.host_allowed("files.tinh.gov.vn.evil.example")
