"""Contract tests of §8: the gateway's real MinistryClient against the ministry sandbox, over a real socket.

The recovery is always built the one way the gateway builds it, ``mappings.money.recovery`` over the record the
lookup returned, so "accepted by the sandbox" means the two computations agree.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from adapters.ministry.client import STOP_PATH, MinistryClient
from adapters.ministry.errors import PermanentMinistryError, TransientMinistryError
from adapters.ministry.models import AllowanceStatus, BeneficiaryRecord
from mappings import money
from tests.contract.ministry_support import SandboxHandle

pytestmark = pytest.mark.timeout(30)

HOA_ID = "038141001234"
LAN_ID = "038130005678"
THANH_ID = "038038002468"
DIED_ON = date(2024, 9, 28)


def stop_body(record: BeneficiaryRecord, died_on: date = DIED_ON) -> dict[str, Any]:
    """The stop of a death, with the recovery computed from the ministry's own record."""
    stop_month, overpaid = money.recovery(record.group_code, record.birth_date, died_on=died_on,
                                          paid_through=record.paid_through)
    return {"lyDo": "CHET", "ngaySuKien": died_on.isoformat(), "thangThoiHuong": stop_month,
            "truyThu": overpaid.as_ministry() if overpaid is not None else None,
            "canCu": {"loai": "TRICH_LUC_KHAI_TU", "so": "123/TLKT-BS", "ngay": "2024-10-01"}, "ghiChu": None}


async def one(ministry: MinistryClient, personal_id: str) -> BeneficiaryRecord:
    [record] = await ministry.find_beneficiaries(personal_id)
    return record


async def test_the_lookup_finds_the_person_the_ministry_pays(ministry: MinistryClient) -> None:
    record = await one(ministry, HOA_ID)
    assert record.id.startswith("DT-") and record.dossier_id and record.dossier_id.startswith("HS-")
    assert (record.personal_id, record.full_name, record.birth_date, record.gender) == (
        HOA_ID, "Nguyễn Thị Hoa", "1941-03-02", "NU")
    assert (record.group_code, record.commune_code, record.status, record.monthly_amount, record.start_month,
            record.paid_through) == ("NCT_80_KHONG_LUONG", "16171", AllowanceStatus.DANG_HUONG, 500000, "2023-05",
                                     "2024-12")
    assert HOA_ID not in repr(record) and "Hoa" not in repr(record)


async def test_the_lookup_of_someone_not_paid_is_empty(ministry: MinistryClient) -> None:
    assert await ministry.find_beneficiaries("001099000001") == []


async def test_a_stop_with_the_recovery_computed_from_the_record_is_accepted(
    sandbox: SandboxHandle, ministry: MinistryClient
) -> None:
    record = await one(ministry, HOA_ID)
    body = stop_body(record)
    result = await ministry.stop_allowance(record.id, body, idempotency_key=f"stop-{record.id}")
    assert (result.id, result.status, result.stop_month) == (record.id, "DA_THOI_HUONG", "2024-10")
    assert result.recovery == {"soTien": 1500000, "chiTiet": [
        {"thang": "2024-10", "soTien": 500000}, {"thang": "2024-11", "soTien": 500000},
        {"thang": "2024-12", "soTien": 500000}]}
    assert (await one(ministry, HOA_ID)).status == AllowanceStatus.DA_THOI_HUONG
    # Paid only through the month of death: nothing to recover.
    lan = await one(ministry, LAN_ID)
    nothing = await ministry.stop_allowance(lan.id, stop_body(lan), idempotency_key=f"stop-{lan.id}")
    assert nothing.recovery is None and nothing.stop_month == "2024-10"


async def test_a_wrong_amount_is_permanent_and_names_the_month(ministry: MinistryClient) -> None:
    record = await one(ministry, HOA_ID)
    body = stop_body(record)
    body["truyThu"]["chiTiet"][1]["soTien"] = 360000  # 2024-11 at the pre-July base level
    body["truyThu"]["soTien"] = 1360000
    with pytest.raises(PermanentMinistryError) as caught:
        await ministry.stop_allowance(record.id, body, idempotency_key="stop-wrong")
    assert (caught.value.status, caught.value.code) == (422, "SAI_SO_TIEN")
    named = {d.field: d.message for d in caught.value.details}
    assert set(named) == {"truyThu.chiTiet[1].soTien", "truyThu.soTien"}
    assert "2024-11" in named["truyThu.chiTiet[1].soTien"]
    assert (await one(ministry, HOA_ID)).status == AllowanceStatus.DANG_HUONG


async def test_an_allowance_stopped_from_another_month_is_permanent(ministry: MinistryClient) -> None:
    record = await one(ministry, THANH_ID)
    assert record.status == AllowanceStatus.DA_THOI_HUONG
    with pytest.raises(PermanentMinistryError) as caught:
        await ministry.stop_allowance(record.id, stop_body(record, date(2024, 8, 20)), idempotency_key="late")
    assert (caught.value.status, caught.value.code) == (409, "TRANG_THAI_KHONG_PHU_HOP")
    # Its own month again is the same stop, answered again.
    again = await ministry.stop_allowance(record.id, stop_body(record), idempotency_key="same")
    assert again.stop_month == "2024-10" and again.recovery is None


async def test_an_unknown_beneficiary_is_permanent(ministry: MinistryClient) -> None:
    record = await one(ministry, HOA_ID)
    with pytest.raises(PermanentMinistryError) as caught:
        await ministry.stop_allowance("DT-000000000000", stop_body(record), idempotency_key="unknown")
    assert (caught.value.status, caught.value.code) == (404, "KHONG_TIM_THAY")


async def test_a_503_then_a_lost_answer_then_the_retry_with_the_same_key_make_one_stop(
    sandbox: SandboxHandle, ministry: MinistryClient
) -> None:
    record = await one(ministry, HOA_ID)
    body = stop_body(record)
    path = STOP_PATH.format(id=record.id)
    sandbox.faults(fail_next=1, status=503, error_503_retry_after=None, sequence=["lost_answer"],
                   path_prefixes=[path])
    with pytest.raises(TransientMinistryError) as unavailable:
        await ministry.stop_allowance(record.id, body, idempotency_key="stop-1")
    assert unavailable.value.status == 503
    with pytest.raises(TransientMinistryError) as lost:
        await ministry.stop_allowance(record.id, body, idempotency_key="stop-1")
    assert lost.value.status is None  # the ministry acted; the client did not hear it
    result = await ministry.stop_allowance(record.id, body, idempotency_key="stop-1")
    assert result.replayed and result.stop_month == "2024-10" and result.recovery == body["truyThu"]
    stops = sandbox.http.get("/_sandbox/thoi-huong").json()["thoiHuong"]
    assert [s["doiTuongId"] for s in stops] == [record.id]
    assert stops[0]["ketQua"] == {"id": record.id, "trangThaiHuong": "DA_THOI_HUONG", "thangThoiHuong": "2024-10",
                                  "truyThu": result.recovery}
    trail = [(r["status"], r["fault"], r["answered"], r["replayed"]) for r in sandbox.requests(path)]
    assert trail == [(503, "error_503", True, False), (200, "lost_answer", False, False), (200, None, True, True)]
