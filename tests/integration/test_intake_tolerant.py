"""The tolerant reader through the HTTP layer (issue 14, item 3): nothing in front of the parser refuses
unknown members or numbers spelt as strings, and a respelt repeat is the same dossier (200, no new revision).
"""

from __future__ import annotations

from sqlalchemy import func, select
from starlette.testclient import TestClient

from adapters.province.samples import sample_dossier
from gateway.db import Database
from gateway.models import DossierRevision
from tests.conftest import PROVINCE_KEY
from tests.support.intake import auth, post_json, post_multipart, sample_files, with_base64


def revisions(db: Database) -> int:
    with db.session() as session:
        return int(session.execute(select(func.count()).select_from(DossierRevision)).scalar_one())


def test_gender_as_a_string_and_unknown_members_are_the_same_dossier(client: TestClient, db: Database) -> None:
    respelt = sample_dossier(KenhThucHien=" 2 ", MaHoSo=" 000.00.12.H56-240115-0001 ", NgayTiepNhan=20240115083000,
                             PhienBanXuatKhau="3.1", DonViXuat={"Ma": "H56", "Ten": "Sở Nội vụ"})
    respelt["DuLieuToKhai"].update(GioiTinh="2", MaDanToc=1, NoiSinh={"MaTinh": "38"})
    respelt["ChuHoSo"]["DiaChi"] = "Thôn 3"
    respelt["TaiLieuNop"][0].update(KichThuoc=12345, LoaiTep="application/pdf")
    files = sample_files(sample_dossier())

    first = post_json(client, PROVINCE_KEY, respelt, files)
    assert first.status_code == 202, first.text
    assert first.json()["MaHoSo"] == "000.00.12.H56-240115-0001"

    again = post_multipart(client, PROVINCE_KEY, sample_dossier(), files)
    assert again.status_code == 200, again.text
    assert again.json() == first.json()
    assert revisions(db) == 1


def test_a_word_for_a_gender_is_still_refused(client: TestClient) -> None:
    raw = sample_dossier()
    raw["DuLieuToKhai"]["GioiTinh"] = "nữ"
    answer = post_json(client, PROVINCE_KEY, raw, sample_files(raw))
    assert answer.status_code == 422
    assert [(e["field"], e["code"]) for e in answer.json()["errors"]] == [("DuLieuToKhai.GioiTinh", "invalid_type")]


def test_a_huge_digit_string_is_a_422_not_a_500(client: TestClient) -> None:
    raw = sample_dossier(KenhThucHien="7" * 5000)
    answer = post_json(client, PROVINCE_KEY, raw, sample_files(raw))
    assert answer.status_code == 422, answer.text
    assert [(e["field"], e["code"]) for e in answer.json()["errors"]] == [("KenhThucHien", "invalid_type")]


def test_a_numeric_or_padded_file_id_still_finds_its_base64_file(client: TestClient, db: Database) -> None:
    raw = sample_dossier(MaHoSo="000.00.12.H56-240115-0077")
    raw["TaiLieuNop"][0]["TepDinhKemId"] = "1"
    files = sample_files(raw)
    body = with_base64(raw, files)
    body["TaiLieuNop"][0]["TepDinhKemId"] = 1  # a number, as some exports send ids
    body["TaiLieuNop"][0]["NoiDungBase64"] = "\n " + body["TaiLieuNop"][0]["NoiDungBase64"] + " \n"
    first = client.post("/api/v1/dossiers", json=body, headers=auth(PROVINCE_KEY))
    assert first.status_code == 202, first.text

    body["TaiLieuNop"][0]["TepDinhKemId"] = " 1 "
    again = client.post("/api/v1/dossiers", json=body, headers=auth(PROVINCE_KEY))
    assert again.status_code == 200, again.text
    assert revisions(db) == 1
    detail = client.get("/api/v1/dossiers/000.00.12.H56-240115-0077", headers=auth(PROVINCE_KEY)).json()
    assert [a["TepDinhKemId"] for a in detail["attachments"]] == ["1"]


def test_a_split_commune_answers_422_with_the_choices(client: TestClient, db: Database) -> None:
    raw = sample_dossier(MaHoSo="000.00.12.H56-240115-0078", MaDonViXuLy="000.00.12.H56")
    raw["DuLieuToKhai"]["NoiThuongTru"].update(MaTinh="56", MaXa="22435")  # 2024: Xã Cam Tân, split in three
    answer = post_json(client, PROVINCE_KEY, raw, sample_files(raw))
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    [error] = answer.json()["errors"]
    assert (error["field"], error["code"]) == ("DuLieuToKhai.NoiThuongTru.MaXa", "commune_split_ambiguous")
    assert [c["code"] for c in error["choices"]] == ["22435", "22453", "22708"]
    assert revisions(db) == 0
