"""The ministry sandbox's §8, driven with plain httpx: the lookup, the stop of an allowance judged against
its own payment record (``mappings.money``), its strict 400s, 404/409/422, idempotency, seeding and page."""

from __future__ import annotations

import copy
from datetime import date
from typing import Any

import httpx
import pytest

from adapters.ministry.sandbox.beneficiaries import DEFAULT_BENEFICIARIES, RECORD_FIELDS
from mappings import money
from tests.contract.ministry_support import DELETE, SandboxHandle, with_changes

pytestmark = pytest.mark.timeout(30)

LOOKUP = "/api/v1/doi-tuong"
HOA, LAN, THANH = DEFAULT_BENEFICIARIES
HOA_RECOVERY = {"soTien": 1500000,
                "chiTiet": [{"thang": m, "soTien": 500000} for m in ("2024-10", "2024-11", "2024-12")]}
HOA_STOP: dict[str, Any] = {
    "lyDo": "CHET", "ngaySuKien": "2024-09-28", "thangThoiHuong": "2024-10", "truyThu": HOA_RECOVERY,
    "canCu": {"loai": "TRICH_LUC_KHAI_TU", "so": "123/TLKT-BS", "ngay": "2024-10-01"}, "ghiChu": None,
}


def stop_path(beneficiary_id: str) -> str:
    return f"/api/v1/doi-tuong/{beneficiary_id}/thoi-huong"


@pytest.fixture
def auth(sandbox: SandboxHandle) -> dict[str, str]:
    return {"Authorization": f"Bearer {sandbox.token()}"}


def fields(response: httpx.Response) -> dict[str, str]:
    """``chiTiet`` as {truong: thongDiep}, after checking the §2 body shape."""
    body = response.json()
    assert set(body) >= {"maLoi", "thongDiep", "chiTiet"}, body
    return {d["truong"]: d["thongDiep"] for d in body["chiTiet"]}


def stop(sandbox: SandboxHandle, auth: dict[str, str], beneficiary_id: str, body: Any, key: str | None = None,
         ) -> httpx.Response:
    headers = {**auth, **({"Idempotency-Key": key} if key else {})}
    return sandbox.http.post(stop_path(beneficiary_id), json=body, headers=headers)


# ---- GET /api/v1/doi-tuong ----------------------------------------------------------------------------------


def test_the_lookup_answers_the_section_8_record_exactly(sandbox: SandboxHandle, auth: dict[str, str]) -> None:
    response = sandbox.http.get(LOOKUP, params={"soDinhDanh": "038141001234"}, headers=auth)
    assert response.status_code == 200, response.text
    body = response.json()
    assert list(body) == ["ketQua"]
    [record] = body["ketQua"]
    assert list(record) == list(RECORD_FIELDS)
    assert {k: v for k, v in record.items() if k not in ("id", "hoSoId")} == {
        "soDinhDanh": "038141001234", "hoTen": "Nguyễn Thị Hoa", "ngaySinh": "1941-03-02", "gioiTinh": "NU",
        "nhomDoiTuong": "NCT_80_KHONG_LUONG", "maXa": "16171", "trangThaiHuong": "DANG_HUONG",
        "mucHuongThang": 500000, "thangBatDauHuong": "2023-05", "daChiTraDenThang": "2024-12"}
    assert record["id"].startswith("DT-") and record["hoSoId"].startswith("HS-")


def test_anyone_else_is_an_empty_list(sandbox: SandboxHandle, auth: dict[str, str]) -> None:
    response = sandbox.http.get(LOOKUP, params={"soDinhDanh": "001099000001"}, headers=auth)
    assert response.status_code == 200 and response.json() == {"ketQua": []}


@pytest.mark.parametrize("query", [
    {}, {"soDinhDanh": "03814100123"}, {"soDinhDanh": "0381410012345"}, {"soDinhDanh": "０３８１４１００１２３４"},
    {"soDinhDanh": "03814100123x"}, {"soDinhDanh": ""}, {"soDinhDanh": "038141001234", "hoTen": "x"},
])
def test_the_lookup_needs_exactly_a_12_digit_number(sandbox: SandboxHandle, auth: dict[str, str],
                                                    query: dict[str, str]) -> None:
    response = sandbox.http.get(LOOKUP, params=query, headers=auth)
    assert response.status_code == 400 and response.json()["maLoi"] == "DU_LIEU_KHONG_HOP_LE"
    assert fields(response)


def test_the_lookup_needs_a_token_and_logs_the_number_masked(sandbox: SandboxHandle) -> None:
    response = sandbox.http.get(LOOKUP, params={"soDinhDanh": "038141001234"})
    assert response.status_code == 401 and response.json() == {"error": "invalid_token"}
    [logged] = sandbox.requests(LOOKUP)
    assert logged["query"] == "soDinhDanh=038*******34"


# ---- POST .../thoi-huong ------------------------------------------------------------------------------------


def test_a_death_with_the_right_recovery_stops_the_allowance(sandbox: SandboxHandle, auth: dict[str, str]) -> None:
    response = stop(sandbox, auth, HOA.id, HOA_STOP, key="stop-1")
    assert response.status_code == 200, response.text
    assert response.json() == {"id": HOA.id, "trangThaiHuong": "DA_THOI_HUONG", "thangThoiHuong": "2024-10",
                               "truyThu": HOA_RECOVERY}
    # The same months money computes, each at its own amount.
    assert money.span("NCT_80_KHONG_LUONG", "1941-03-02", "2024-10", "2024-12").as_ministry() == HOA_RECOVERY
    [record] = sandbox.http.get(LOOKUP, params={"soDinhDanh": HOA.soDinhDanh}, headers=auth).json()["ketQua"]
    assert record["trangThaiHuong"] == "DA_THOI_HUONG"
    [made] = sandbox.http.get("/_sandbox/thoi-huong").json()["thoiHuong"]
    assert made["doiTuongId"] == HOA.id and made["ketQua"]["truyThu"] == HOA_RECOVERY
    # The same stop again (another key) is the same answer, not a second stop; another month is 409.
    again = stop(sandbox, auth, HOA.id, HOA_STOP, key="stop-2")
    assert again.status_code == 200 and again.json() == response.json()
    later = with_changes(HOA_STOP, ngaySuKien="2024-10-28", thangThoiHuong="2024-11",
                         truyThu={"soTien": 1000000, "chiTiet": HOA_RECOVERY["chiTiet"][1:]})
    conflict = stop(sandbox, auth, HOA.id, later, key="stop-3")
    assert conflict.status_code == 409 and conflict.json()["maLoi"] == "TRANG_THAI_KHONG_PHU_HOP"
    assert "2024-10" in fields(conflict)["thangThoiHuong"]
    assert sandbox.http.get("/_sandbox/thoi-huong").json()["count"] == 1


def test_no_month_paid_after_the_death_means_a_null_recovery(sandbox: SandboxHandle, auth: dict[str, str]) -> None:
    body = with_changes(HOA_STOP, ngaySuKien="2024-09-25", truyThu=None)
    response = stop(sandbox, auth, LAN.id, body)
    assert response.status_code == 200, response.text
    assert response.json()["truyThu"] is None
    assert money.recovery("NCT_80_KHONG_LUONG", "1930", died_on=date(2024, 9, 25),
                          paid_through="2024-09") == ("2024-10", None)


def test_the_seeded_stopped_person_is_409_from_another_month_and_200_from_its_own(
    sandbox: SandboxHandle, auth: dict[str, str]
) -> None:
    own = with_changes(HOA_STOP, truyThu=None)
    assert stop(sandbox, auth, THANH.id, own).status_code == 200
    other = with_changes(HOA_STOP, ngaySuKien="2024-08-28", thangThoiHuong="2024-09",
                         truyThu={"soTien": 500000, "chiTiet": [{"thang": "2024-09", "soTien": 500000}]})
    response = stop(sandbox, auth, THANH.id, other)
    assert response.status_code == 409 and response.json()["maLoi"] == "TRANG_THAI_KHONG_PHU_HOP"


@pytest.mark.parametrize(("recovery", "named"), [
    ({"soTien": 1450000, "chiTiet": [{"thang": "2024-10", "soTien": 500000}, {"thang": "2024-11", "soTien": 450000},
                                     {"thang": "2024-12", "soTien": 500000}]},
     {"truyThu.chiTiet[1].soTien": "2024-11", "truyThu.soTien": "1500000"}),
    ({"soTien": 1000000, "chiTiet": HOA_RECOVERY["chiTiet"][:2]}, {"truyThu.chiTiet": "2024-12",
                                                                   "truyThu.soTien": "1500000"}),
    ({"soTien": 2000000, "chiTiet": [*HOA_RECOVERY["chiTiet"], {"thang": "2025-01", "soTien": 500000}]},
     {"truyThu.chiTiet[3].thang": "2025-01", "truyThu.soTien": "1500000"}),
    ({"soTien": 1400000, "chiTiet": HOA_RECOVERY["chiTiet"]}, {"truyThu.soTien": "1500000"}),
    (None, {"truyThu": "2024-12"}),
])
def test_a_recovery_that_disagrees_is_422_naming_each_month(
    sandbox: SandboxHandle, auth: dict[str, str], recovery: Any, named: dict[str, str]
) -> None:
    response = stop(sandbox, auth, HOA.id, with_changes(HOA_STOP, truyThu=recovery), key="wrong")
    assert response.status_code == 422 and response.json()["maLoi"] == "SAI_SO_TIEN"
    faults = fields(response)
    assert set(faults) == set(named)
    for field, month in named.items():
        assert month in faults[field]
    # Nothing changed, and the refusal was not stored against the key: the right amounts then succeed.
    assert sandbox.http.get("/_sandbox/thoi-huong").json()["count"] == 0
    assert stop(sandbox, auth, HOA.id, HOA_STOP, key="wrong").status_code == 200


def test_a_recovery_where_none_was_paid_is_422(sandbox: SandboxHandle, auth: dict[str, str]) -> None:
    body = with_changes(HOA_STOP, truyThu={"soTien": 500000, "chiTiet": [{"thang": "2024-10", "soTien": 500000}]})
    response = stop(sandbox, auth, LAN.id, body)
    assert response.status_code == 422 and set(fields(response)) == {"truyThu"}


def test_an_unknown_id_is_404(sandbox: SandboxHandle, auth: dict[str, str]) -> None:
    response = stop(sandbox, auth, "DT-000000000000", HOA_STOP)
    assert response.status_code == 404 and response.json()["maLoi"] == "KHONG_TIM_THAY"


@pytest.mark.parametrize(("changes", "field"), [
    ({"lyDo": "DI_CHUYEN"}, "lyDo"),
    ({"lyDo": DELETE}, "lyDo"),
    ({"extra": 1}, "extra"),
    ({"ngaySuKien": "28/09/2024"}, "ngaySuKien"),
    ({"ngaySuKien": "2024-02-30"}, "ngaySuKien"),
    ({"ngaySuKien": "2999-01-01", "thangThoiHuong": "2999-02"}, "ngaySuKien"),
    ({"thangThoiHuong": "2024-13"}, "thangThoiHuong"),
    ({"thangThoiHuong": "2024-9"}, "thangThoiHuong"),
    ({"thangThoiHuong": "2024-09"}, "thangThoiHuong"),  # a death: the month after the month of death
    ({"thangThoiHuong": "2024-11"}, "thangThoiHuong"),
    ({"truyThu": {"soTien": 1500000}}, "truyThu.chiTiet"),
    ({"truyThu": {"soTien": "1500000", "chiTiet": HOA_RECOVERY["chiTiet"]}}, "truyThu.soTien"),
    ({"truyThu": {"soTien": 0, "chiTiet": HOA_RECOVERY["chiTiet"]}}, "truyThu.soTien"),
    ({"truyThu": {"soTien": 1500000, "chiTiet": []}}, "truyThu.chiTiet"),
    ({"truyThu": {"soTien": 1500000, "chiTiet": [{"thang": "2024-10", "soTien": True}]}},
     "truyThu.chiTiet[0].soTien"),
    ({"truyThu": {"soTien": 1000000, "chiTiet": [{"thang": "2024-11", "soTien": 500000},
                                                 {"thang": "2024-10", "soTien": 500000}]}},
     "truyThu.chiTiet[1].thang"),
    ({"truyThu": {"soTien": 500000, "chiTiet": [{"thang": "2024-10", "soTien": 500000, "x": 1}]}},
     "truyThu.chiTiet[0].x"),
    ({"canCu": None}, "canCu"),
    ({"canCu": {"loai": "TRICH_LUC_KHAI_TU", "so": "123"}}, "canCu.ngay"),
    ({"canCu": {"loai": "trich luc", "so": "123", "ngay": "2024-10-01"}}, "canCu.loai"),
    ({"canCu": {"loai": "TRICH_LUC_KHAI_TU", "so": "123", "ngay": "2024-10-01", "ghiChu": None}}, "canCu.ghiChu"),
    ({"ghiChu": 5}, "ghiChu"),
])
def test_a_body_section_8_does_not_describe_is_400(sandbox: SandboxHandle, auth: dict[str, str],
                                                  changes: dict[str, Any], field: str) -> None:
    response = stop(sandbox, auth, HOA.id, with_changes(HOA_STOP, **changes))
    assert response.status_code == 400 and response.json()["maLoi"] == "DU_LIEU_KHONG_HOP_LE", response.text
    assert field in fields(response)


def test_a_note_and_another_reason_are_accepted(sandbox: SandboxHandle, auth: dict[str, str]) -> None:
    body = with_changes(HOA_STOP, lyDo="KHONG_DU_DIEU_KIEN", ngaySuKien="2024-10-15", thangThoiHuong="2024-11",
                        truyThu={"soTien": 1000000, "chiTiet": HOA_RECOVERY["chiTiet"][1:]},
                        canCu={"loai": "QUYET_DINH", "so": "45/QĐ-UBND", "ngay": "2024-10-20"}, ghiChu="Chuyển đi")
    response = stop(sandbox, auth, HOA.id, body)
    assert response.status_code == 200, response.text
    assert response.json()["thangThoiHuong"] == "2024-11"


def test_the_key_replays_the_answer_and_refuses_another_body(sandbox: SandboxHandle, auth: dict[str, str]) -> None:
    first = stop(sandbox, auth, HOA.id, HOA_STOP, key="k-1")
    again = stop(sandbox, auth, HOA.id, HOA_STOP, key="k-1")
    assert again.status_code == 200 and again.content == first.content
    assert again.headers["Idempotent-Replayed"] == "true"
    other = stop(sandbox, auth, HOA.id, with_changes(HOA_STOP, ghiChu="khác"), key="k-1")
    assert other.status_code == 422 and other.json()["maLoi"] == "KHOA_TRUNG_LAP_KHAC_NOI_DUNG"


def test_faults_apply_to_the_beneficiary_paths(sandbox: SandboxHandle, auth: dict[str, str]) -> None:
    sandbox.faults(fail_next=1, status=503, path_prefixes=["/api/v1/doi-tuong"])
    response = sandbox.http.get(LOOKUP, params={"soDinhDanh": HOA.soDinhDanh}, headers=auth)
    assert response.status_code == 503 and response.json()["maLoi"] == "LOI_HE_THONG"


# ---- seeding and the page -----------------------------------------------------------------------------------


def test_seeded_records_are_found_and_reset_restores_the_default_seed(sandbox: SandboxHandle,
                                                                      auth: dict[str, str]) -> None:
    record = {"soDinhDanh": "001099000001", "hoTen": "Trần Văn Bình", "ngaySinh": "1944-05", "gioiTinh": "NAM",
              "nhomDoiTuong": "NCT_80_KHONG_LUONG", "maXa": "16171", "trangThaiHuong": "TAM_DUNG",
              "mucHuongThang": 500000, "thangBatDauHuong": "2024-06", "daChiTraDenThang": None}
    added = sandbox.http.post("/_sandbox/doi-tuong", json={"doiTuong": [record]})
    assert added.status_code == 201, added.text
    [seeded] = added.json()["doiTuong"]
    found = sandbox.http.get(LOOKUP, params={"soDinhDanh": "001099000001"}, headers=auth).json()["ketQua"]
    assert found == [{k: seeded[k] for k in RECORD_FIELDS}]
    assert sandbox.http.get("/_sandbox/doi-tuong").json()["count"] == len(DEFAULT_BENEFICIARIES) + 1
    sandbox.reset()
    listed = sandbox.http.get("/_sandbox/doi-tuong").json()
    assert [r["id"] for r in listed["doiTuong"]] == [b.id for b in DEFAULT_BENEFICIARIES]
    fresh = {"Authorization": f"Bearer {sandbox.token()}"}  # the reset forgot every token too
    assert sandbox.http.get(LOOKUP, params={"soDinhDanh": "001099000001"}, headers=fresh).json() == {"ketQua": []}


@pytest.mark.parametrize(("changes", "field"), [
    ({"soDinhDanh": "123"}, "[0].soDinhDanh"),
    ({"trangThaiHuong": "DA_THOI_HUONG"}, "[0].thangThoiHuong"),
    ({"thangThoiHuong": "2024-10"}, "[0].thangThoiHuong"),
    ({"maXa": "99999"}, "[0].maXa"),
    ({"nhomDoiTuong": "KHAC"}, "[0].nhomDoiTuong"),
    ({"daChiTraDenThang": "2020-01"}, "[0].daChiTraDenThang"),
    ({"hoTen": DELETE}, "[0].hoTen"),
])
def test_a_bad_seed_is_400_and_stores_nothing(sandbox: SandboxHandle, changes: dict[str, Any], field: str) -> None:
    record = with_changes(copy.deepcopy(HOA.as_json()), id=DELETE, hoSoId=DELETE, **changes)
    response = sandbox.http.post("/_sandbox/doi-tuong", json=[record])
    assert response.status_code == 400, response.text
    assert field in fields(response)
    assert sandbox.http.get("/_sandbox/doi-tuong").json()["count"] == len(DEFAULT_BENEFICIARIES)


def test_the_page_shows_the_beneficiaries_and_the_stops(sandbox: SandboxHandle, auth: dict[str, str]) -> None:
    assert stop(sandbox, auth, HOA.id, HOA_STOP).status_code == 200
    page = sandbox.http.get("/").text
    for text in ("Nguyễn Thị Hoa", "Phạm Thị Lan", "Lê Văn Thành", HOA.id, "2024-12", "1.500.000"):
        assert text in page
