"""The ministry sandbox's §9, driven with plain httpx: the back-payment judged against its own record
(``mappings.money``), its strict 400s, 404/409/422, idempotency, the listing and the page."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import httpx
import pytest

from adapters.ministry.sandbox.beneficiaries import DEFAULT_BENEFICIARIES
from mappings import money
from tests.contract.ministry_support import DELETE, SandboxHandle, dossier_body, with_changes

pytestmark = pytest.mark.timeout(30)

PATH = "/api/v1/chi-tra/truy-linh"
HOA = DEFAULT_BENEFICIARIES[0]
# Approved from 2024-05, first carried by the 2024-09 list: 2024-05..08 are owed back (the §9 example's amounts).
BINH = {"id": "DT-B1NH00000001", "hoSoId": "HS-B1NH00000001", "soDinhDanh": "001040000001",
        "hoTen": "Trần Văn Bình", "ngaySinh": "1940-01-15", "gioiTinh": "NAM", "nhomDoiTuong": "NCT_80_KHONG_LUONG",
        "maXa": "16171", "trangThaiHuong": "DANG_HUONG", "mucHuongThang": 360000, "thangBatDauHuong": "2024-05",
        "daChiTraDenThang": "2024-08"}
MONTHS = [("2024-05", 360000), ("2024-06", 360000), ("2024-07", 500000), ("2024-08", 500000)]
BODY: dict[str, Any] = {
    "doiTuongId": BINH["id"], "hoSoId": BINH["hoSoId"], "tuThang": "2024-05", "denThang": "2024-08",
    "soTien": 1720000, "chiTiet": [{"thang": m, "soTien": a} for m, a in MONTHS],
    "canCu": {"soQuyetDinh": "123/QĐ-UBND", "ngayQuyetDinh": "2024-09-05"},
}


@pytest.fixture
def auth(sandbox: SandboxHandle) -> dict[str, str]:
    added = sandbox.http.post("/_sandbox/doi-tuong", json=BINH)
    assert added.status_code == 201, added.text
    return {"Authorization": f"Bearer {sandbox.token()}"}


def fields(response: httpx.Response) -> dict[str, str]:
    body = response.json()
    assert set(body) >= {"maLoi", "thongDiep", "chiTiet"}, body
    return {d["truong"]: d["thongDiep"] for d in body["chiTiet"]}


def post(sandbox: SandboxHandle, auth: dict[str, str], body: Any, key: str | None = None) -> httpx.Response:
    headers = {**auth, **({"Idempotency-Key": key} if key else {})}
    return sandbox.http.post(PATH, json=body, headers=headers)


def listed(sandbox: SandboxHandle) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = sandbox.http.get("/_sandbox/truy-linh").json()["truyLinh"]
    return found


def test_the_right_months_are_201_with_the_payment_list_that_carries_them(sandbox: SandboxHandle,
                                                                          auth: dict[str, str]) -> None:
    assert money.span("NCT_80_KHONG_LUONG", "1940-01-15", "2024-05", "2024-08").as_ministry() == {
        "soTien": BODY["soTien"], "chiTiet": BODY["chiTiet"]}
    response = post(sandbox, auth, BODY, key="tl-1")
    assert response.status_code == 201, response.text
    answer = response.json()
    assert list(answer) == ["id", "thangChiTra"] and answer["id"].startswith("TL-")
    assert answer["thangChiTra"] == "2024-09"  # the month after daChiTraDenThang
    [made] = listed(sandbox)
    assert made["doiTuongId"] == BINH["id"] and made["ketQua"] == answer and made["chiTiet"] == BODY["chiTiet"]
    # Part of the months owed is a back-payment too; the others stay owed.
    part = with_changes(BODY, tuThang="2024-05", denThang="2024-05", soTien=360000, chiTiet=BODY["chiTiet"][:1])
    sandbox.reset()
    auth = {"Authorization": f"Bearer {sandbox.token()}"}
    assert sandbox.http.post("/_sandbox/doi-tuong", json=BINH).status_code == 201
    assert post(sandbox, auth, part).status_code == 201
    assert post(sandbox, auth, with_changes(BODY, tuThang="2024-06", soTien=1360000,
                                            chiTiet=BODY["chiTiet"][1:])).status_code == 201


def test_never_paid_means_the_current_months_list(sandbox: SandboxHandle, auth: dict[str, str]) -> None:
    today = sandbox.state.clock.now().date()
    current = money.month_code(today)
    start = money.month_code(date(today.year - 1, today.month, 1))
    before = date(today.year, today.month, 1) - timedelta(days=1)
    record = {**BINH, "id": "DT-B1NH00000002", "hoSoId": "HS-B1NH00000002", "thangBatDauHuong": start,
              "daChiTraDenThang": None}
    assert sandbox.http.post("/_sandbox/doi-tuong", json=record).status_code == 201
    owed = money.span("NCT_80_KHONG_LUONG", "1940-01-15", start, before)
    body = {**BODY, "doiTuongId": record["id"], "hoSoId": record["hoSoId"], "tuThang": owed.months[0][0],
            "denThang": owed.months[-1][0], **owed.as_ministry()}
    response = post(sandbox, auth, body)
    assert response.status_code == 201, response.text
    assert response.json()["thangChiTra"] == current
    # The current month is the list's, not a back-payment's.
    late = {**body, "tuThang": current, "denThang": current, "soTien": 500000,
            "chiTiet": [{"thang": current, "soTien": 500000}]}
    refused = post(sandbox, auth, late)
    assert refused.status_code == 422 and current in fields(refused)["chiTiet[0].thang"]


@pytest.mark.parametrize(("changes", "named"), [
    ({"chiTiet__2__soTien": 360000, "soTien": 1580000}, {"chiTiet[2].soTien": "2024-07", "soTien": "1720000"}),
    ({"chiTiet__0__soTien": 500000, "chiTiet__1__soTien": 500000, "soTien": 2000000},
     {"chiTiet[0].soTien": "2024-05", "chiTiet[1].soTien": "2024-06", "soTien": "1720000"}),
])
def test_a_month_at_another_amount_is_422_naming_it(sandbox: SandboxHandle, auth: dict[str, str],
                                                    changes: dict[str, Any], named: dict[str, str]) -> None:
    body = with_changes(BODY)
    for dotted, value in changes.items():
        target: Any = body
        *parents, leaf = dotted.split("__")
        for key in parents:
            target = target[int(key)] if key.isdigit() else target[key]
        target[int(leaf) if leaf.isdigit() else leaf] = value
    response = post(sandbox, auth, body, key="wrong")
    assert response.status_code == 422 and response.json()["maLoi"] == "SAI_SO_TIEN"
    faults = fields(response)
    assert set(faults) == set(named)
    for field, month in named.items():
        assert month in faults[field]
    # Nothing recorded, the refusal not stored against the key: the right amounts then succeed with it.
    assert listed(sandbox) == []
    assert post(sandbox, auth, BODY, key="wrong").status_code == 201


def test_months_not_owed_back_are_422(sandbox: SandboxHandle, auth: dict[str, str]) -> None:
    early = with_changes(BODY, tuThang="2024-04", soTien=2080000,
                         chiTiet=[{"thang": "2024-04", "soTien": 360000}, *BODY["chiTiet"]])
    response = post(sandbox, auth, early)
    assert response.status_code == 422 and set(fields(response)) == {"chiTiet[0].thang", "soTien"}
    assert "2024-05" in fields(response)["chiTiet[0].thang"]
    listed_month = with_changes(BODY, denThang="2024-09", soTien=2220000,
                                chiTiet=[*BODY["chiTiet"], {"thang": "2024-09", "soTien": 500000}])
    response = post(sandbox, auth, listed_month)
    assert response.status_code == 422 and "2024-09" in fields(response)["chiTiet[4].thang"]


def test_an_unknown_beneficiary_is_404_and_a_foreign_dossier_400(sandbox: SandboxHandle,
                                                                 auth: dict[str, str]) -> None:
    response = post(sandbox, auth, with_changes(BODY, doiTuongId="DT-000000000000"), key="unknown")
    assert response.status_code == 404 and response.json()["maLoi"] == "KHONG_TIM_THAY"
    assert "doiTuongId" in fields(response)
    again = post(sandbox, auth, with_changes(BODY, doiTuongId="DT-000000000000"), key="unknown")
    assert again.status_code == 404 and again.headers["Idempotent-Replayed"] == "true"
    other = post(sandbox, auth, with_changes(BODY, hoSoId=HOA.hoSoId))
    assert other.status_code == 400 and "hoSoId" in fields(other)


def test_the_key_replays_the_answer_and_another_key_for_the_same_months_is_409(sandbox: SandboxHandle,
                                                                              auth: dict[str, str]) -> None:
    first = post(sandbox, auth, BODY, key="k-1")
    again = post(sandbox, auth, BODY, key="k-1")
    assert again.status_code == 201 and again.content == first.content
    assert again.headers["Idempotent-Replayed"] == "true"
    other_body = post(sandbox, auth, with_changes(BODY, canCu__soQuyetDinh="124/QĐ-UBND"), key="k-1")
    assert other_body.status_code == 422 and other_body.json()["maLoi"] == "KHOA_TRUNG_LAP_KHAC_NOI_DUNG"
    twice = post(sandbox, auth, BODY, key="k-2")
    assert twice.status_code == 409 and twice.json()["maLoi"] == "TRANG_THAI_KHONG_PHU_HOP"
    assert first.json()["id"] in fields(twice)["chiTiet"]
    overlap = with_changes(BODY, tuThang="2024-08", soTien=500000, chiTiet=BODY["chiTiet"][3:])
    assert post(sandbox, auth, overlap, key="k-3").status_code == 409
    assert len(listed(sandbox)) == 1


@pytest.mark.parametrize(("changes", "field"), [
    ({"extra": 1}, "extra"),
    ({"doiTuongId": DELETE}, "doiTuongId"),
    ({"doiTuongId": "5EED"}, "doiTuongId"),
    ({"hoSoId": None}, "hoSoId"),
    ({"tuThang": "2024-5"}, "tuThang"),
    ({"denThang": "2024-13"}, "denThang"),
    ({"tuThang": "2024-09"}, "denThang"),
    ({"soTien": "1720000"}, "soTien"),
    ({"soTien": 1720001}, "soTien"),
    ({"chiTiet": []}, "chiTiet"),
    ({"chiTiet": None}, "chiTiet"),
    ({"denThang": "2024-09"}, "chiTiet"),
    ({"tuThang": "2024-04"}, "chiTiet[0].thang"),
    ({"chiTiet": [BODY["chiTiet"][1], BODY["chiTiet"][0], *BODY["chiTiet"][2:]]}, "chiTiet[0].thang"),
    ({"chiTiet": [*BODY["chiTiet"], {"thang": "2024-09", "soTien": 500000}], "soTien": 2220000}, "chiTiet[4].thang"),
    ({"chiTiet": [{**BODY["chiTiet"][0], "x": 1}, *BODY["chiTiet"][1:]]}, "chiTiet[0].x"),
    ({"chiTiet": [{"thang": "2024-05", "soTien": 0}, *BODY["chiTiet"][1:]], "soTien": 1360000}, "chiTiet[0].soTien"),
    ({"chiTiet": [{"thang": "2024-05"}, *BODY["chiTiet"][1:]]}, "chiTiet[0].soTien"),
    ({"canCu": None}, "canCu"),
    ({"canCu": {"soQuyetDinh": "123/QĐ-UBND"}}, "canCu.ngayQuyetDinh"),
    ({"canCu": {"soQuyetDinh": "123", "ngayQuyetDinh": "05/09/2024"}}, "canCu.ngayQuyetDinh"),
    ({"canCu": {"soQuyetDinh": "123", "ngayQuyetDinh": "2999-01-01"}}, "canCu.ngayQuyetDinh"),
    ({"canCu": {"soQuyetDinh": "123", "ngayQuyetDinh": "2024-09-05", "loai": "QD"}}, "canCu.loai"),
])
def test_a_body_section_9_does_not_describe_is_400(sandbox: SandboxHandle, auth: dict[str, str],
                                                  changes: dict[str, Any], field: str) -> None:
    response = post(sandbox, auth, with_changes(BODY, **changes))
    assert response.status_code == 400 and response.json()["maLoi"] == "DU_LIEU_KHONG_HOP_LE", response.text
    assert field in fields(response), fields(response)


def test_a_token_is_required(sandbox: SandboxHandle) -> None:
    response = sandbox.http.post(PATH, json=BODY)
    assert response.status_code == 401 and response.json() == {"error": "invalid_token"}


def test_reset_clears_and_the_page_lists_the_back_payments(sandbox: SandboxHandle, auth: dict[str, str]) -> None:
    made = post(sandbox, auth, BODY).json()
    page = sandbox.http.get("/").text
    for text in (made["id"], "1.720.000", "2024-05", "123/QĐ-UBND", "/_sandbox/truy-linh"):
        assert text in page
    sandbox.reset()
    assert sandbox.http.get("/_sandbox/truy-linh").json() == {"truyLinh": [], "count": 0}


# ---- the approval that starts the payments (§9 last paragraph) ----------------------------------------------


FEED = "/api/v1/ho-so/thay-doi"
DECISION = {"so": "7/QĐ-UBND", "ngay": "2024-09-05", "mucHuongThang": 500000, "thangBatDauHuong": "2024-05"}


def under_appraisal(sandbox: SandboxHandle, token: str, **person: Any) -> str:
    """A dossier (the sample's person, with ``person`` changed) moved to DANG_THAM_DINH; its id."""
    upload = sandbox.upload(token, b"%PDF-1.4\n%%EOF\n")
    assert upload.status_code == 201, upload.text
    body = dossier_body([upload.json()["id"]])
    body["doiTuong"].update(person)
    created = sandbox.http.post("/api/v1/ho-so/cho-tiep-nhan", json=body, headers={"Authorization": f"Bearer {token}"})
    assert created.status_code == 201, created.text
    dossier_id: str = created.json()["id"]
    for status in ("DA_TIEP_NHAN", "DANG_THAM_DINH"):
        assert sandbox.officer(dossier_id, status).status_code == 200
    return dossier_id


def last_change(sandbox: SandboxHandle, token: str) -> dict[str, Any]:
    page = sandbox.http.get(FEED, params={"gioiHan": 500}, headers={"Authorization": f"Bearer {token}"}).json()
    change: dict[str, Any] = page["thayDoi"][-1]
    return change


def test_an_approval_without_a_first_list_is_as_before(sandbox: SandboxHandle) -> None:
    token = sandbox.token()
    dossier_id = under_appraisal(sandbox, token, soDinhDanh="001040000009")
    assert sandbox.officer(dossier_id, "DA_PHE_DUYET", quyetDinh=DECISION).status_code == 200
    change = last_change(sandbox, token)
    assert set(change) == {"id", "maHoSoTinh", "trangThai", "thoiDiem", "quyetDinh"}
    assert sandbox.beneficiaries("001040000009") == []


def test_an_approval_with_a_first_list_makes_the_record_and_feeds_its_id(sandbox: SandboxHandle) -> None:
    token = sandbox.token()
    dossier_id = under_appraisal(sandbox, token, soDinhDanh="001040000009", ngaySinh="1940-01-15")
    granted = sandbox.officer(dossier_id, "DA_PHE_DUYET", quyetDinh=DECISION, thangChiTraDauTien="2024-09")
    assert granted.status_code == 200, granted.text
    change = last_change(sandbox, token)
    assert list(change) == ["id", "maHoSoTinh", "trangThai", "thoiDiem", "quyetDinh", "doiTuongId",
                            "thangChiTraDauTien"]
    assert change["quyetDinh"] == DECISION and change["thangChiTraDauTien"] == "2024-09"
    [record] = sandbox.beneficiaries("001040000009")
    assert record["id"] == change["doiTuongId"] == granted.json()["doiTuongId"]
    assert {k: record[k] for k in ("hoSoId", "trangThaiHuong", "mucHuongThang", "thangBatDauHuong",
                                   "daChiTraDenThang", "ngaySinh", "nhomDoiTuong", "maXa")} == {
        "hoSoId": dossier_id, "trangThaiHuong": "DANG_HUONG", "mucHuongThang": 500000, "thangBatDauHuong": "2024-05",
        "daChiTraDenThang": "2024-08", "ngaySinh": "1940-01-15", "nhomDoiTuong": "NCT_80_KHONG_LUONG",
        "maXa": "16171"}


def test_an_approval_paid_from_its_first_month_is_never_paid_and_updates_the_same_persons_record(
    sandbox: SandboxHandle,
) -> None:
    token = sandbox.token()
    dossier_id = under_appraisal(sandbox, token)  # the sample's person: the seeded HOA, same group
    assert sandbox.officer(dossier_id, "DA_PHE_DUYET", quyetDinh=DECISION,
                           thangChiTraDauTien="2024-05").status_code == 200
    [record] = sandbox.beneficiaries(HOA.soDinhDanh)
    assert record["id"] == HOA.id == last_change(sandbox, token)["doiTuongId"]
    assert (record["hoSoId"], record["thangBatDauHuong"], record["daChiTraDenThang"]) == (dossier_id, "2024-05", None)


@pytest.mark.parametrize(("status", "action", "field"), [
    ("DA_PHE_DUYET", {"thangChiTraDauTien": "2024-9"}, "thangChiTraDauTien"),
    ("DA_PHE_DUYET", {"thangChiTraDauTien": "2024-04"}, "thangChiTraDauTien"),
    ("DA_PHE_DUYET", {"thangChiTraDauTien": 202409}, "thangChiTraDauTien"),
    ("DA_PHE_DUYET", {"thangChiTraDauTien": "2024-09", "quyetDinh": {**DECISION, "mucHuongThang": 0}},
     "quyetDinh.mucHuongThang"),
    ("KHONG_PHE_DUYET", {"thangChiTraDauTien": "2024-09"}, "thangChiTraDauTien"),
])
def test_a_bad_first_list_is_400_and_changes_nothing(sandbox: SandboxHandle, status: str, action: dict[str, Any],
                                                     field: str) -> None:
    token = sandbox.token()
    dossier_id = under_appraisal(sandbox, token, soDinhDanh="001040000009")
    response = sandbox.officer(dossier_id, status, **{"quyetDinh": DECISION, **action}
                               if status == "DA_PHE_DUYET" else action)
    assert response.status_code == 400 and field in fields(response), response.text
    assert last_change(sandbox, token)["trangThai"] == "DANG_THAM_DINH"
    assert sandbox.beneficiaries("001040000009") == []


def test_a_per_child_amount_that_is_not_whole_children_is_400(sandbox: SandboxHandle) -> None:
    token = sandbox.token()
    dossier_id = under_appraisal(sandbox, token, soDinhDanh="001090000009", ngaySinh="1990-02-01",
                                 nhomDoiTuong="DON_THAN_NGHEO")
    response = sandbox.officer(dossier_id, "DA_PHE_DUYET", quyetDinh={**DECISION, "mucHuongThang": 400000},
                               thangChiTraDauTien="2024-09")
    assert response.status_code == 400 and "quyetDinh.mucHuongThang" in fields(response)
    # Two children: the record is made, and its back-payment is two children's months.
    assert sandbox.officer(dossier_id, "DA_PHE_DUYET", quyetDinh={**DECISION, "mucHuongThang": 720000},
                           thangChiTraDauTien="2024-09").status_code == 200
    [record] = sandbox.beneficiaries("001090000009")
    owed = money.span("DON_THAN_NGHEO", "1990-02-01", "2024-05", "2024-08", children=2)
    assert [a for _, a in owed.months] == [720000, 720000, 1000000, 1000000]
    body = {"doiTuongId": record["id"], "hoSoId": dossier_id, "tuThang": "2024-05", "denThang": "2024-08",
            **owed.as_ministry(), "canCu": {"soQuyetDinh": "7/QĐ-UBND", "ngayQuyetDinh": "2024-09-05"}}
    response = sandbox.http.post(PATH, json=body, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 201 and response.json()["thangChiTra"] == "2024-09", response.text


def test_the_officer_form_has_the_two_months(sandbox: SandboxHandle) -> None:
    token = sandbox.token()
    dossier_id = under_appraisal(sandbox, token, soDinhDanh="001040000009")
    page = sandbox.http.get("/").text
    assert 'name="thangBatDauHuong"' in page and 'name="thangChiTraDauTien"' in page
    form = {"trangThai": "DA_PHE_DUYET", "so": "8/QĐ-UBND", "mucHuongThang": "500.000",
            "thangBatDauHuong": "2024-06", "thangChiTraDauTien": "2024-08"}
    posted = sandbox.http.post(f"/_sandbox/ho-so/{dossier_id}/hanh-dong", data=form)
    assert posted.status_code == 303
    change = last_change(sandbox, token)
    assert change["quyetDinh"]["thangBatDauHuong"] == "2024-06" and change["thangChiTraDauTien"] == "2024-08"
    [record] = sandbox.beneficiaries("001040000009")
    assert record["daChiTraDenThang"] == "2024-07"
