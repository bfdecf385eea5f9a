"""Concurrent posts of one dossier to a live gateway (real socket, real threads), on both engines."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from sqlalchemy import select

from adapters.province.samples import sample_dossier, sample_pdf_bytes
from gateway.db import create_database
from gateway.models import DossierRevision
from outbox.models import OutboxMessage
from tests.conftest import API_KEYS, PROVINCE_KEY
from tests.support.intake import post_json, post_multipart, sample_files
from tests.support.procs import gateway_env, serve_gateway

POSTERS = 8


def test_identical_posts_at_once_store_exactly_one_revision(db_url: str, tmp_path: Path) -> None:
    dossier = sample_dossier()
    files = sample_files(dossier)
    env = gateway_env(db_url, tmp_path / "blobs", API_KEYS)
    with serve_gateway(env, tmp_path / "serve.log") as gateway:
        def post(i: int) -> httpx.Response:
            with httpx.Client(base_url=gateway.base_url, timeout=60) as http:
                send = post_json if i % 2 else post_multipart
                return send(http, PROVINCE_KEY, dossier, files)

        with ThreadPoolExecutor(POSTERS) as pool:
            answers = list(pool.map(post, range(POSTERS)))

    statuses = Counter(a.status_code for a in answers)
    assert statuses == {202: 1, 200: POSTERS - 1}, [a.text for a in answers]
    assert len({a.text for a in answers}) == 1  # the same body every time
    database = create_database(db_url)
    try:
        with database.session() as session:
            revisions = session.execute(select(DossierRevision.revision)).scalars().all()  # type: ignore[call-overload]
            messages = session.execute(select(OutboxMessage.state)).scalars().all()  # type: ignore[call-overload]
    finally:
        database.dispose()
    assert revisions == [1]
    assert messages == ["pending"]


def test_different_revisions_at_once_leave_one_pending_delivery(db_url: str, tmp_path: Path) -> None:
    env = gateway_env(db_url, tmp_path / "blobs", API_KEYS)
    with serve_gateway(env, tmp_path / "serve.log") as gateway:
        def post(i: int) -> httpx.Response:
            dossier = sample_dossier()
            dossier["DuLieuToKhai"]["NoiThuongTru"]["DiaChiChiTiet"] = f"Thôn {i}"
            with httpx.Client(base_url=gateway.base_url, timeout=60) as http:
                return post_json(http, PROVINCE_KEY, dossier, {"f1": sample_pdf_bytes(f"scan {i}")})

        with ThreadPoolExecutor(POSTERS) as pool:
            answers = list(pool.map(post, range(POSTERS)))

    assert all(a.status_code == 202 for a in answers), [a.text for a in answers]
    assert sorted(a.json()["revision"] for a in answers) == list(range(1, POSTERS + 1))
    database = create_database(db_url)
    try:
        with database.session() as session:
            states = Counter(session.execute(select(OutboxMessage.state)).scalars().all())  # type: ignore[call-overload]
            pending = session.execute(
                select(OutboxMessage.payload).where(OutboxMessage.state == "pending")  # type: ignore[arg-type]
            ).scalars().all()
    finally:
        database.dispose()
    assert states == {"pending": 1, "cancelled": POSTERS - 1}
    assert pending[0]["revision"] == POSTERS  # the newest revision is the one to deliver
