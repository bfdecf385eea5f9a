"""Dossier intake (province-api.md §2–§3), run on SQLite and on a real PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from adapters.province.samples import sample_dossier, sample_pdf_bytes
from gateway.app import create_app
from gateway.db import Database
from gateway.models import Attachment, Dossier, DossierRevision
from gateway.settings import Settings
from outbox.models import OutboxMessage
from tests.conftest import PROVINCE_KEY, READER_KEY
from tests.support.intake import auth, multipart_body, post_json, post_multipart, sample_files, sha256_hex

PROBLEM = "application/problem+json"


def count(db: Database, model: Any) -> int:
    with db.session() as session:
        return int(session.execute(select(func.count()).select_from(model)).scalar_one())


def outbox_rows(db: Database) -> list[OutboxMessage]:
    with db.session() as session:
        return [row for (row,) in session.execute(select(OutboxMessage).order_by(OutboxMessage.id))]  # type: ignore[arg-type]


def stored_blobs(settings: Settings) -> list[Path]:
    return [p for p in (settings.blob_dir / "sha256").rglob("*") if p.is_file()] if settings.blob_dir.exists() else []


def temp_files(settings: Settings) -> list[Path]:
    tmp = settings.blob_dir / "tmp"
    return list(tmp.glob("*.part")) if tmp.exists() else []


def assert_nothing_stored(db: Database, settings: Settings) -> None:
    assert count(db, Dossier) == 0
    assert count(db, DossierRevision) == 0
    assert count(db, Attachment) == 0
    assert count(db, OutboxMessage) == 0
    assert stored_blobs(settings) == []
    assert temp_files(settings) == []


def error_codes(response: Any) -> set[tuple[str, str]]:
    return {(e["field"], e["code"]) for e in response.json()["errors"]}


@pytest.mark.parametrize("encoding", ["json", "multipart"])
def test_dossier_is_stored_with_its_files_and_one_outbox_message(
    client: TestClient, db: Database, settings: Settings, encoding: str
) -> None:
    dossier = sample_dossier()
    files = sample_files(dossier)
    post = post_json if encoding == "json" else post_multipart
    response = post(client, PROVINCE_KEY, dossier, files)

    assert response.status_code == 202, response.text
    body = response.json()
    assert body["MaHoSo"] == dossier["MaHoSo"]
    assert body["revision"] == 1
    assert body["state"] == "queued"
    assert body["links"]["self"] == f"/api/v1/dossiers/{dossier['MaHoSo']}"

    detail = client.get(body["links"]["self"], headers=auth(READER_KEY))
    assert detail.status_code == 200
    shown = detail.json()
    assert shown["state"] == "queued" and shown["revision"] == 1
    assert {a["TepDinhKemId"]: a["sha256"] for a in shown["attachments"]} == {
        fid: sha256_hex(data) for fid, data in files.items()
    }
    assert shown["content"]["beneficiary"]["full_name"] == "Nguyễn Thị Hoa"
    assert [h["event"] for h in shown["history"]] == ["received"]

    for data in files.values():
        digest = sha256_hex(data)
        assert (settings.blob_dir / "sha256" / digest[:2] / digest[2:4] / digest).read_bytes() == data
    [message] = outbox_rows(db)
    assert (message.kind, message.key, message.state) == ("deliver_dossier", dossier["MaHoSo"], "pending")
    assert message.payload == {"dossier_id": body["id"], "revision": 1}
    assert temp_files(settings) == []


def test_same_content_again_is_idempotent(client: TestClient, db: Database) -> None:
    dossier = sample_dossier()
    files = sample_files(dossier)
    first = post_json(client, PROVINCE_KEY, dossier, files)
    # The same content in the other encoding and with keys in another order is the same dossier.
    reordered = dict(reversed(list(dossier.items())))
    again = post_multipart(client, PROVINCE_KEY, reordered, files)

    assert first.status_code == 202
    assert again.status_code == 200, again.text
    assert again.json() == first.json()
    assert count(db, DossierRevision) == 1
    assert len(outbox_rows(db)) == 1


def test_changed_content_makes_a_new_revision_superseding_the_undelivered_one(
    client: TestClient, db: Database
) -> None:
    dossier = sample_dossier()
    files = sample_files(dossier)
    assert post_json(client, PROVINCE_KEY, dossier, files).status_code == 202
    changed = sample_dossier()
    changed["DuLieuToKhai"]["NoiThuongTru"]["DiaChiChiTiet"] = "Thôn 5"
    response = post_json(client, PROVINCE_KEY, changed, files)

    assert response.status_code == 202
    assert response.json()["revision"] == 2
    first, second = outbox_rows(db)
    assert (first.state, second.state) == ("cancelled", "pending")
    assert second.payload["revision"] == 2
    with db.session() as session:
        states = dict(session.execute(select(DossierRevision.revision, DossierRevision.state)).all())  # type: ignore[call-overload]
    assert states == {1: "superseded", 2: "pending"}
    # A changed file is a change too.
    files["f1"] = sample_pdf_bytes("another scan")
    assert post_json(client, PROVINCE_KEY, changed, files).json()["revision"] == 3


def test_a_delivered_dossier_cannot_be_replaced_unless_the_ministry_asked_for_more(
    client: TestClient, db: Database
) -> None:
    dossier = sample_dossier()
    files = sample_files(dossier)
    post_json(client, PROVINCE_KEY, dossier, files)
    with db.session(write=True) as session:
        row = session.execute(select(Dossier)).scalar_one()
        row.delivered_revision, row.delivery_state, row.ministry_status = 1, "delivered", "DA_TIEP_NHAN"
    changed = sample_dossier()
    changed["ChuHoSo"]["SoDienThoai"] = "0987654321"

    refused = post_json(client, PROVINCE_KEY, changed, files)
    assert refused.status_code == 409
    assert refused.headers["content-type"] == PROBLEM
    assert refused.json()["code"] == "already_delivered"
    assert count(db, DossierRevision) == 1

    with db.session(write=True) as session:
        session.execute(select(Dossier)).scalar_one().ministry_status = "YEU_CAU_BO_SUNG"
    accepted = post_json(client, PROVINCE_KEY, changed, files)
    assert accepted.status_code == 202 and accepted.json()["revision"] == 2
    assert [m.kind for m in outbox_rows(db)] == ["deliver_dossier", "supplement_dossier"]


def test_every_fault_is_listed_at_once_and_nothing_is_stored(
    client: TestClient, db: Database, settings: Settings
) -> None:
    dossier = sample_dossier()
    files = sample_files(dossier)
    dossier["MaTTHC"] = "9.999999"
    dossier["DuLieuToKhai"]["GioiTinh"] = 1  # the ID says female
    dossier["DuLieuToKhai"]["MaDanToc"] = "99"
    dossier["DuLieuToKhai"]["NoiThuongTru"]["MaXa"] = "99999"
    dossier["NgayTiepNhan"] = "20240231083000"

    response = post_multipart(client, PROVINCE_KEY, dossier, files)

    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    problem = response.json()
    assert problem["status"] == 422 and problem["type"].endswith("validation_failed")
    fields = {e["field"] for e in problem["errors"]}
    assert {"MaTTHC", "DuLieuToKhai.SoDinhDanh", "DuLieuToKhai.MaDanToc", "NgayTiepNhan"} <= fields
    assert any(f.startswith("DuLieuToKhai.NoiThuongTru") for f in fields)
    assert all(e["message"] and e["code"] for e in problem["errors"])
    assert_nothing_stored(db, settings)


def test_declared_hash_must_match_the_bytes(client: TestClient, db: Database, settings: Settings) -> None:
    dossier = sample_dossier()
    files = sample_files(dossier)
    dossier["TaiLieuNop"][0]["MaBam"] = sha256_hex(b"something else")
    response = post_json(client, PROVINCE_KEY, dossier, files)
    assert response.status_code == 422
    assert ("TaiLieuNop[0].MaBam", "hash_mismatch") in error_codes(response)
    assert_nothing_stored(db, settings)

    dossier["TaiLieuNop"][0]["MaBam"] = sha256_hex(files["f1"]).upper()
    assert post_json(client, PROVINCE_KEY, dossier, files).status_code == 202


def test_missing_and_undeclared_files_are_faults(client: TestClient, db: Database, settings: Settings) -> None:
    dossier = sample_dossier()
    files = {"stray": sample_pdf_bytes("not declared")}
    response = post_multipart(client, PROVINCE_KEY, dossier, files)
    assert response.status_code == 422
    codes = {code for _, code in error_codes(response)}
    assert {"attachment_missing", "attachment_undeclared"} <= codes
    assert_nothing_stored(db, settings)


def test_attachment_by_url_is_refused_without_an_allowlist(
    client: TestClient, db: Database, settings: Settings
) -> None:
    dossier = sample_dossier()
    dossier["TaiLieuNop"][0]["DuongDanTaiTepTin"] = "https://files.example.vn/to-khai.pdf"
    response = client.post("/api/v1/dossiers", json=dossier, headers=auth(PROVINCE_KEY))
    assert response.status_code == 422
    assert ("TaiLieuNop[0].DuongDanTaiTepTin", "attachment_url_not_allowed") in error_codes(response)
    assert_nothing_stored(db, settings)


def test_invalid_base64_is_a_field_fault(client: TestClient, db: Database, settings: Settings) -> None:
    dossier = sample_dossier()
    dossier["TaiLieuNop"][0]["NoiDungBase64"] = "not base64 at all!!"
    response = client.post("/api/v1/dossiers", json=dossier, headers=auth(PROVINCE_KEY))
    assert response.status_code == 422
    assert ("TaiLieuNop[0].NoiDungBase64", "invalid_base64") in error_codes(response)
    assert_nothing_stored(db, settings)


@pytest.fixture
def small_limits(settings: Settings) -> Settings:
    return settings.model_copy(update={"max_file_bytes": 64 * 1024, "max_base64_file_bytes": 64 * 1024})


def test_oversized_file_is_413_and_leaves_nothing(small_limits: Settings, db: Database) -> None:
    dossier = sample_dossier()
    big = sample_pdf_bytes("big") + b"0" * (200 * 1024)
    with TestClient(create_app(small_limits, database=db)) as client:
        multipart = post_multipart(client, PROVINCE_KEY, dossier, {"f1": big})
        as_json = post_json(client, PROVINCE_KEY, dossier, {"f1": big})
    for response in (multipart, as_json):
        assert response.status_code == 413, response.text
        assert response.headers["content-type"] == PROBLEM
        assert response.json()["code"] == "file_too_large"
    assert_nothing_stored(db, small_limits)


def test_file_that_is_not_pdf_jpeg_or_png_by_its_bytes_is_415(
    client: TestClient, db: Database, settings: Settings
) -> None:
    dossier = sample_dossier()
    # Declared as PDF in the part headers, but the bytes are a Windows executable.
    response = post_multipart(client, PROVINCE_KEY, dossier, {"f1": b"MZ\x90\x00" + b"\x00" * 500})
    assert response.status_code == 415
    assert response.json()["errors"][0]["field"] == "TaiLieuNop[0]"
    assert_nothing_stored(db, settings)


def test_png_and_jpeg_are_accepted(client: TestClient) -> None:
    dossier = sample_dossier()
    dossier["TaiLieuNop"].append({"TepDinhKemId": "f2", "TenTepDinhKem": "cccd.png",
                                  "MaThanhPhanHoSo": "BAN_SAO_GIAY_TO_TUY_THAN"})
    dossier["TaiLieuNop"].append({"TepDinhKemId": "f3", "TenTepDinhKem": "khac.jpg",
                                  "MaThanhPhanHoSo": "GIAY_TO_KHAC"})
    files = {"f1": sample_pdf_bytes("x"), "f2": b"\x89PNG\r\n\x1a\n" + b"\x00" * 64,
             "f3": b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 64}
    response = post_multipart(client, PROVINCE_KEY, dossier, files)
    assert response.status_code == 202, response.text
    types = {a["TepDinhKemId"]: a["contentType"]
             for a in client.get(response.json()["links"]["self"], headers=auth(READER_KEY)).json()["attachments"]}
    assert types == {"f1": "application/pdf", "f2": "image/png", "f3": "image/jpeg"}


def test_other_media_types_are_415(client: TestClient) -> None:
    response = client.post("/api/v1/dossiers", content=b"MaHoSo=1", headers={
        **auth(PROVINCE_KEY), "Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 415
    assert response.headers["content-type"] == PROBLEM


def test_truncated_multipart_is_400_and_leaves_nothing(
    client: TestClient, db: Database, settings: Settings
) -> None:
    dossier = sample_dossier()
    body = multipart_body(dossier, sample_files(dossier))
    response = post_multipart(client, PROVINCE_KEY, dossier, {}, body=body[: len(body) - 200])
    assert response.status_code == 400
    assert response.json()["code"] == "multipart_truncated"
    assert_nothing_stored(db, settings)


def test_broken_json_is_400(client: TestClient, db: Database, settings: Settings) -> None:
    response = client.post("/api/v1/dossiers", content=b'{"MaHoSo": ', headers={
        **auth(PROVINCE_KEY), "Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_json"
    assert_nothing_stored(db, settings)


def test_authentication_and_scopes(client: TestClient) -> None:
    dossier = sample_dossier()
    files = sample_files(dossier)
    no_key = client.post("/api/v1/dossiers", json=dossier)
    assert no_key.status_code == 401 and no_key.headers["content-type"] == PROBLEM
    assert no_key.headers["www-authenticate"].startswith("Bearer")
    assert post_json(client, "wrong-key", dossier, files).status_code == 401
    assert post_json(client, READER_KEY, dossier, files).status_code == 403
    assert post_json(client, PROVINCE_KEY, dossier, files).status_code == 202
    url = f"/api/v1/dossiers/{dossier['MaHoSo']}"
    assert client.get(url).status_code == 401
    assert client.get(url, headers=auth(READER_KEY)).status_code == 200


def test_unknown_dossier_is_404_problem(client: TestClient) -> None:
    response = client.get("/api/v1/dossiers/000.00.12.H56-240115-9999", headers=auth(READER_KEY))
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM


def test_funeral_support_dossier(client: TestClient) -> None:
    from adapters.province.samples import sample_funeral_dossier

    dossier = sample_funeral_dossier()
    response = post_multipart(client, PROVINCE_KEY, dossier, sample_files(dossier))
    assert response.status_code == 202, response.text
    missing = sample_funeral_dossier()
    missing["TaiLieuNop"] = [d for d in missing["TaiLieuNop"] if d["MaThanhPhanHoSo"] != "TRICH_LUC_KHAI_TU"]
    refused = post_multipart(client, PROVINCE_KEY, missing, sample_files(missing))
    assert refused.status_code == 422
    assert "component_missing" in {code for _, code in error_codes(refused)}


def test_health(client: TestClient) -> None:
    assert client.get("/health/live").status_code == 200
    ready = client.get("/health/ready")
    assert ready.status_code == 200
    report = ready.json()
    assert report["components"]["database"]["status"] == "ok"
    assert report["components"]["blob_store"]["status"] == "ok"
    assert report["oldest_undelivered_age_s"] is None
    dossier = sample_dossier()
    post_json(client, PROVINCE_KEY, dossier, sample_files(dossier))
    assert client.get("/health/ready").json()["oldest_undelivered_age_s"] >= 0


def test_request_id_is_echoed(client: TestClient) -> None:
    response = client.get("/health/live", headers={"X-Request-ID": "abc-123"})
    assert response.headers["x-request-id"] == "abc-123"
    assert client.get("/health/live").headers["x-request-id"]


def test_repeat_body_is_valid_json_document(client: TestClient) -> None:
    dossier = sample_dossier()
    files = sample_files(dossier)
    post_json(client, PROVINCE_KEY, dossier, files)
    again = post_json(client, PROVINCE_KEY, dossier, files)
    assert json.loads(again.content)["revision"] == 1


JS_PDF = (b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R /OpenAction 3 0 R >>\nendobj\n"
          b"3 0 obj\n<< /S /J#61vaScript /JS (app.alert\\(1\\)) >>\nendobj\n%%EOF\n")


@pytest.mark.parametrize("encoding", ["json", "multipart"])
def test_pdf_with_javascript_is_refused_and_nothing_is_stored(
    client: TestClient, db: Database, settings: Settings, encoding: str
) -> None:
    dossier = sample_dossier()
    post = post_json if encoding == "json" else post_multipart
    response = post(client, PROVINCE_KEY, dossier, {"f1": JS_PDF})
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM
    assert error_codes(response) == {("TaiLieuNop[0]", "attachment_active_content")}
    assert "JavaScript" in response.json()["errors"][0]["message"]
    assert_nothing_stored(db, settings)


def test_active_pdf_refusal_can_be_switched_off(settings: Settings, db: Database) -> None:
    relaxed = settings.model_copy(update={"refuse_active_pdf": False})
    with TestClient(create_app(relaxed, database=db)) as relaxed_client:
        dossier = sample_dossier()
        response = post_multipart(relaxed_client, PROVINCE_KEY, dossier, {"f1": JS_PDF})
    assert response.status_code == 202, response.text


def test_image_beyond_the_pixel_cap_is_refused(client: TestClient, db: Database, settings: Settings) -> None:
    dossier = sample_dossier()
    dossier["TaiLieuNop"].append({"TepDinhKemId": "f2", "TenTepDinhKem": "bomb.png",
                                  "MaThanhPhanHoSo": "BAN_SAO_GIAY_TO_TUY_THAN"})
    bomb = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR" + (100_000).to_bytes(4, "big") * 2
            + b"\x08\x02\x00\x00\x00" + b"\x00" * 40)
    response = post_multipart(client, PROVINCE_KEY, dossier, {"f1": sample_pdf_bytes("x"), "f2": bomb})
    assert response.status_code == 422, response.text
    assert error_codes(response) == {("TaiLieuNop[1]", "attachment_image_too_large")}
    assert_nothing_stored(db, settings)
