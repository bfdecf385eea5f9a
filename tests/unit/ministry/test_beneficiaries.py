"""The ministry client's §8 exchanges (respx): the beneficiary lookup and the stop of an allowance, what
they send, how they read each answer, and how the §8 refusals are classified."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import respx
from structlog.testing import capture_logs

from adapters.ministry.client import BENEFICIARIES_PATH, STOP_PATH, MinistryClient
from adapters.ministry.errors import (
    AMOUNT_MISMATCH,
    WRONG_STATE,
    PermanentMinistryError,
    TransientMinistryError,
    classify,
)
from adapters.ministry.models import AllowanceStatus, BeneficiaryRecord, StopResult

BASE = "https://bo.test"
HOA_ID = "038141001234"
HOA = {
    "id": "DT-1", "soDinhDanh": HOA_ID, "hoTen": "Nguyễn Thị Hoa", "ngaySinh": "1941-03-02", "gioiTinh": "NU",
    "nhomDoiTuong": "NCT_80_KHONG_LUONG", "maXa": "16171", "trangThaiHuong": "DANG_HUONG", "mucHuongThang": 500000,
    "thangBatDauHuong": "2023-05", "daChiTraDenThang": "2024-12", "hoSoId": "HS-1",
}
RECOVERY = {"soTien": 1500000, "chiTiet": [{"thang": m, "soTien": 500000} for m in ("2024-10", "2024-11", "2024-12")]}
STOP = {"lyDo": "CHET", "ngaySuKien": "2024-09-28", "thangThoiHuong": "2024-10", "truyThu": RECOVERY,
        "canCu": {"loai": "TRICH_LUC_KHAI_TU", "so": "123/TLKT-BS", "ngay": "2024-10-01"}, "ghiChu": None}


def error(status: int, code: str, details: list[dict[str, str]] | None = None) -> httpx.Response:
    return httpx.Response(status, json={"maLoi": code, "thongDiep": "Thông điệp", "chiTiet": details or []})


@pytest.fixture
async def mock() -> AsyncIterator[respx.MockRouter]:
    async with respx.mock(base_url=BASE, assert_all_called=False) as router:
        router.post("/oauth2/token").mock(return_value=httpx.Response(
            200, json={"access_token": "tok-1", "token_type": "Bearer", "expires_in": 300}))
        yield router


@pytest.fixture
async def client(mock: respx.MockRouter) -> AsyncIterator[MinistryClient]:
    # The plain httpx transport, which respx intercepts (the default one is aiohttp, transport.py).
    async with MinistryClient(BASE, "sandbox-client", "sandbox-secret", transport=httpx.AsyncHTTPTransport()) as c:
        yield c


# ---- lookup -------------------------------------------------------------------------------------------------


async def test_the_lookup_sends_the_number_as_a_query_parameter_and_reads_every_field(
    mock: respx.MockRouter, client: MinistryClient
) -> None:
    route = mock.get(BENEFICIARIES_PATH).mock(return_value=httpx.Response(
        200, json={"ketQua": [{**HOA, "somethingNew": 1}]}))
    with capture_logs() as lines:
        found = await client.find_beneficiaries(HOA_ID)
    assert found == [BeneficiaryRecord(
        id="DT-1", personal_id=HOA_ID, full_name="Nguyễn Thị Hoa", birth_date="1941-03-02", gender="NU",
        group_code="NCT_80_KHONG_LUONG", commune_code="16171", status=AllowanceStatus.DANG_HUONG,
        monthly_amount=500000, start_month="2023-05", paid_through="2024-12", dossier_id="HS-1")]
    sent = route.calls.last.request
    assert sent.url.params["soDinhDanh"] == HOA_ID and sent.headers["Authorization"] == "Bearer tok-1"
    # Nothing personal in the log lines or the record's repr.
    for text in (repr(lines), repr(found)):
        assert HOA_ID not in text and "Hoa" not in text and "1941" not in text


async def test_nobody_paid_is_an_empty_list_and_never_paid_is_none(mock: respx.MockRouter,
                                                                   client: MinistryClient) -> None:
    mock.get(BENEFICIARIES_PATH).mock(side_effect=[
        httpx.Response(200, json={"ketQua": []}),
        httpx.Response(200, json={"ketQua": [{**HOA, "daChiTraDenThang": None, "hoSoId": None}]}),
    ])
    assert await client.find_beneficiaries("038999000111") == []
    [record] = await client.find_beneficiaries(HOA_ID)
    assert record.paid_through is None and record.dossier_id is None


@pytest.mark.parametrize("personal_id", ["03814100123", "0381410012345", "０３８１４１００１２３４", "03814100123a"])
async def test_a_number_that_is_not_12_ascii_digits_is_not_sent(client: MinistryClient, personal_id: str) -> None:
    with pytest.raises(ValueError):
        await client.find_beneficiaries(personal_id)


@pytest.mark.parametrize("answer", [
    {"ketQua": None}, {"ketQua": [1]}, {"ketQua": [{**HOA, "mucHuongThang": "500000"}]},
    {"ketQua": [{**HOA, "trangThaiHuong": "KHAC"}]}, {"ketQua": [{k: v for k, v in HOA.items() if k != "id"}]},
    {"ketQua": [{**HOA, "soDinhDanh": "038141009999"}]},
])
async def test_an_unreadable_lookup_answer_is_transient(mock: respx.MockRouter, client: MinistryClient,
                                                         answer: dict[str, Any]) -> None:
    mock.get(BENEFICIARIES_PATH).mock(return_value=httpx.Response(200, json=answer))
    with pytest.raises(TransientMinistryError) as caught:
        await client.find_beneficiaries(HOA_ID)
    assert caught.value.code == "INVALID_RESPONSE"
    assert HOA_ID not in str(caught.value)


# ---- stop ---------------------------------------------------------------------------------------------------


async def test_the_stop_posts_the_body_with_the_idempotency_key(mock: respx.MockRouter,
                                                                client: MinistryClient) -> None:
    answer = {"id": "DT-1", "trangThaiHuong": "DA_THOI_HUONG", "thangThoiHuong": "2024-10", "truyThu": RECOVERY}
    route = mock.post(STOP_PATH.format(id="DT-1")).mock(side_effect=[
        httpx.Response(200, json=answer), httpx.Response(200, json=answer, headers={"Idempotent-Replayed": "true"})])
    result = await client.stop_allowance("DT-1", STOP, idempotency_key="stop-DT-1")
    assert result == StopResult(id="DT-1", status="DA_THOI_HUONG", stop_month="2024-10", recovery=RECOVERY)
    sent = route.calls.last.request
    assert sent.headers["Idempotency-Key"] == "stop-DT-1"
    assert sent.headers["Content-Type"].startswith("application/json") and json.loads(sent.content) == STOP
    again = await client.stop_allowance("DT-1", STOP, idempotency_key="stop-DT-1")
    assert again.replayed and route.calls[1].request.content == route.calls[0].request.content


async def test_a_stop_without_recovery_reads_none(mock: respx.MockRouter, client: MinistryClient) -> None:
    mock.post(STOP_PATH.format(id="DT-2")).mock(return_value=httpx.Response(200, json={
        "id": "DT-2", "trangThaiHuong": "DA_THOI_HUONG", "thangThoiHuong": "2024-10", "truyThu": None}))
    result = await client.stop_allowance("DT-2", {**STOP, "truyThu": None}, idempotency_key="k")
    assert result.recovery is None and not result.replayed


@pytest.mark.parametrize("key", ["", "x" * 65, "with space", "khóa"])
async def test_a_stop_needs_a_header_safe_key(client: MinistryClient, key: str) -> None:
    with pytest.raises(ValueError):
        await client.stop_allowance("DT-1", STOP, idempotency_key=key)


async def test_an_already_stopped_allowance_is_permanent(mock: respx.MockRouter, client: MinistryClient) -> None:
    mock.post(STOP_PATH.format(id="DT-3")).mock(return_value=error(409, WRONG_STATE, [
        {"truong": "thangThoiHuong", "thongDiep": "Đã thôi hưởng từ tháng 2024-10"}]))
    with pytest.raises(PermanentMinistryError) as caught:
        await client.stop_allowance("DT-3", {**STOP, "thangThoiHuong": "2024-11"}, idempotency_key="k")
    assert (caught.value.status, caught.value.code) == (409, "TRANG_THAI_KHONG_PHU_HOP")
    assert caught.value.details[0].field == "thangThoiHuong"


async def test_a_wrong_amount_is_permanent_and_names_the_months(mock: respx.MockRouter,
                                                                client: MinistryClient) -> None:
    details = [{"truong": "truyThu.chiTiet[1].soTien", "thongDiep": "Tháng 2024-11 đã chi trả 500000"},
               {"truong": "truyThu.soTien", "thongDiep": "Tổng số đã chi trả là 1500000"}]
    mock.post(STOP_PATH.format(id="DT-1")).mock(return_value=error(422, AMOUNT_MISMATCH, details))
    with pytest.raises(PermanentMinistryError) as caught:
        await client.stop_allowance("DT-1", STOP, idempotency_key="k")
    assert (caught.value.status, caught.value.code) == (422, "SAI_SO_TIEN")
    assert [(d.field, d.message) for d in caught.value.details] == [(d["truong"], d["thongDiep"]) for d in details]


async def test_an_unknown_beneficiary_is_permanent(mock: respx.MockRouter, client: MinistryClient) -> None:
    mock.post(STOP_PATH.format(id="DT-X")).mock(return_value=error(404, "KHONG_TIM_THAY"))
    with pytest.raises(PermanentMinistryError) as caught:
        await client.stop_allowance("DT-X", STOP, idempotency_key="k")
    assert (caught.value.status, caught.value.code) == (404, "KHONG_TIM_THAY")


async def test_an_id_cannot_reach_another_path(mock: respx.MockRouter, client: MinistryClient) -> None:
    route = mock.post(url__regex=r".*").mock(return_value=error(404, "KHONG_TIM_THAY"))
    with pytest.raises(PermanentMinistryError):
        await client.stop_allowance("../../ho-so/tra-cuu", STOP, idempotency_key="k")
    assert route.calls.last.request.url.raw_path == b"/api/v1/doi-tuong/..%2F..%2Fho-so%2Ftra-cuu/thoi-huong"


# ---- the classification table (§2, §8) ----------------------------------------------------------------------


@pytest.mark.parametrize(("status", "code", "transient"), [
    (409, "TRANG_THAI_KHONG_PHU_HOP", False),
    (422, "SAI_SO_TIEN", False),
    (422, "SAI_MA_BAM", True),
    (422, "KHOA_TRUNG_LAP_KHAC_NOI_DUNG", False),
    (404, "KHONG_TIM_THAY", False),
    (400, "DU_LIEU_KHONG_HOP_LE", False),
    (503, "LOI_HE_THONG", True),
])
def test_the_table_classifies_the_section_8_refusals(status: int, code: str, transient: bool) -> None:
    details = [{"truong": "truyThu.chiTiet[0].soTien", "thongDiep": "Tháng 2024-10"}]
    error_ = classify(error(status, code, details))
    assert (error_.transient, error_.status, error_.code) == (transient, status, code)
    assert [d.field for d in error_.details] == ["truyThu.chiTiet[0].soTien"]
