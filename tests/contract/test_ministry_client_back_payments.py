"""Contract tests of §9: the gateway's real MinistryClient against the ministry sandbox, over a real socket.

The months are always built the one way the gateway would, ``mappings.money.span`` over the record the lookup
returned, from ``thangBatDauHuong`` to the month before ``thangChiTraDauTien``, so "accepted by the sandbox" means
the two computations agree.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from adapters.ministry.client import BACK_PAYMENT_PATH, MinistryClient
from adapters.ministry.errors import PermanentMinistryError, TransientMinistryError
from adapters.ministry.models import AllowanceStatus, BeneficiaryRecord
from mappings import money
from tests.contract.ministry_support import SandboxHandle, dossier_body, file_digest

pytestmark = pytest.mark.timeout(30)

BINH_ID = "001040000001"
BINH = {"id": "DT-B1NH00000001", "hoSoId": "HS-B1NH00000001", "soDinhDanh": BINH_ID, "hoTen": "Trần Văn Bình",
        "ngaySinh": "1940-01-15", "gioiTinh": "NAM", "nhomDoiTuong": "NCT_80_KHONG_LUONG", "maXa": "16171",
        "trangThaiHuong": "DANG_HUONG", "mucHuongThang": 360000, "thangBatDauHuong": "2024-05",
        "daChiTraDenThang": "2024-08"}
DECISION = {"soQuyetDinh": "123/QĐ-UBND", "ngayQuyetDinh": "2024-09-05"}


def back_payment_body(record: BeneficiaryRecord, first_list: str) -> dict[str, Any]:
    """The months owed back, computed from the ministry's own record: start month .. the month before the list."""
    assert record.paid_through is not None and record.dossier_id is not None
    owed = money.span(record.group_code, record.birth_date, record.start_month, record.paid_through)
    assert money.month_after(date.fromisoformat(f"{record.paid_through}-01")) == first_list
    return {"doiTuongId": record.id, "hoSoId": record.dossier_id, "tuThang": owed.months[0][0],
            "denThang": owed.months[-1][0], **owed.as_ministry(), "canCu": dict(DECISION)}


@pytest.fixture
async def binh(sandbox: SandboxHandle, ministry: MinistryClient) -> BeneficiaryRecord:
    assert sandbox.http.post("/_sandbox/doi-tuong", json=BINH).status_code == 201
    [record] = await ministry.find_beneficiaries(BINH_ID)
    return record


async def test_the_right_months_are_accepted_with_the_list_that_carries_them(
    sandbox: SandboxHandle, ministry: MinistryClient, binh: BeneficiaryRecord
) -> None:
    body = back_payment_body(binh, "2024-09")
    assert body["soTien"] == 1720000 and [m["soTien"] for m in body["chiTiet"]] == [360000, 360000, 500000, 500000]
    result = await ministry.send_back_payment(body, idempotency_key=f"tl-{binh.id}")
    assert result.id.startswith("TL-") and result.list_month == "2024-09" and not result.replayed
    again = await ministry.send_back_payment(body, idempotency_key=f"tl-{binh.id}")
    assert again.replayed and (again.id, again.list_month) == (result.id, result.list_month)
    [made] = sandbox.http.get("/_sandbox/truy-linh").json()["truyLinh"]
    assert made["ketQua"] == {"id": result.id, "thangChiTra": "2024-09"}


async def test_a_wrong_month_amount_is_permanent_and_names_the_month(
    sandbox: SandboxHandle, ministry: MinistryClient, binh: BeneficiaryRecord
) -> None:
    body = back_payment_body(binh, "2024-09")
    body["chiTiet"][2]["soTien"] = 360000  # 2024-07 at the pre-July base level
    body["soTien"] = 1580000
    with pytest.raises(PermanentMinistryError) as caught:
        await ministry.send_back_payment(body, idempotency_key="tl-wrong")
    assert (caught.value.status, caught.value.code) == (422, "SAI_SO_TIEN")
    named = {d.field: d.message for d in caught.value.details}
    assert set(named) == {"chiTiet[2].soTien", "soTien"} and "2024-07" in named["chiTiet[2].soTien"]
    assert sandbox.http.get("/_sandbox/truy-linh").json()["count"] == 0


async def test_an_unknown_beneficiary_and_months_sent_twice_are_permanent(
    ministry: MinistryClient, binh: BeneficiaryRecord
) -> None:
    body = back_payment_body(binh, "2024-09")
    with pytest.raises(PermanentMinistryError) as unknown:
        await ministry.send_back_payment({**body, "doiTuongId": "DT-000000000000"}, idempotency_key="tl-unknown")
    assert (unknown.value.status, unknown.value.code) == (404, "KHONG_TIM_THAY")
    await ministry.send_back_payment(body, idempotency_key="tl-1")
    with pytest.raises(PermanentMinistryError) as twice:
        await ministry.send_back_payment(body, idempotency_key="tl-2")
    assert (twice.value.status, twice.value.code) == (409, "TRANG_THAI_KHONG_PHU_HOP")


async def test_a_lost_answer_then_the_retry_with_the_same_key_make_one_back_payment(
    sandbox: SandboxHandle, ministry: MinistryClient, binh: BeneficiaryRecord
) -> None:
    body = back_payment_body(binh, "2024-09")
    sandbox.faults(sequence=["lost_answer"], path_prefixes=[BACK_PAYMENT_PATH])
    with pytest.raises(TransientMinistryError) as lost:
        await ministry.send_back_payment(body, idempotency_key="tl-lost")
    assert lost.value.status is None  # the ministry acted; the client did not hear it
    result = await ministry.send_back_payment(body, idempotency_key="tl-lost")
    assert result.replayed and result.list_month == "2024-09"
    made = sandbox.http.get("/_sandbox/truy-linh").json()["truyLinh"]
    assert [m["ketQua"]["id"] for m in made] == [result.id]
    trail = [(r["status"], r["fault"], r["answered"], r["replayed"]) for r in sandbox.requests(BACK_PAYMENT_PATH)]
    assert trail == [(201, "lost_answer", False, False), (201, None, True, True)]


async def test_an_approval_with_months_owed_feeds_the_beneficiary_and_its_back_payment(
    sandbox: SandboxHandle, ministry: MinistryClient, pdf: Path
) -> None:
    uploaded = await ministry.upload_file(path=pdf, filename="to-khai.pdf", content_type="application/pdf",
                                          component_code="TK_1C", sha256=file_digest(pdf), idempotency_key="up-1")
    body = dossier_body([uploaded.id])
    body["doiTuong"] = {**body["doiTuong"], "soDinhDanh": BINH_ID, "hoTen": "Trần Văn Bình",
                        "ngaySinh": "1940-01-15", "gioiTinh": "NAM"}
    dossier = await ministry.create_dossier(body, idempotency_key="hs-1")
    for status in ("DA_TIEP_NHAN", "DANG_THAM_DINH"):
        assert sandbox.officer(dossier.id, status).status_code == 200
    decision = {"so": "123/QĐ-UBND", "ngay": "2024-09-05", "mucHuongThang": 500000, "thangBatDauHuong": "2024-05"}
    approved = sandbox.officer(dossier.id, "DA_PHE_DUYET", quyetDinh=decision, thangChiTraDauTien="2024-09")
    assert approved.status_code == 200, approved.text

    page = await ministry.changes(None)
    change = page.changes[-1]
    assert change["trangThai"] == "DA_PHE_DUYET" and change["quyetDinh"] == decision
    assert change["thangChiTraDauTien"] == "2024-09" and change["doiTuongId"].startswith("DT-")

    [record] = await ministry.find_beneficiaries(BINH_ID)
    assert (record.id, record.dossier_id, record.status, record.monthly_amount, record.start_month,
            record.paid_through, record.group_code, record.commune_code) == (
        change["doiTuongId"], dossier.id, AllowanceStatus.DANG_HUONG, 500000, "2024-05", "2024-08",
        "NCT_80_KHONG_LUONG", "16171")
    result = await ministry.send_back_payment(back_payment_body(record, change["thangChiTraDauTien"]),
                                              idempotency_key=f"tl-{dossier.id}")
    assert result.list_month == change["thangChiTraDauTien"]
