"""The ministry client's §9 exchange (respx): the back-payment, what it sends, how it reads the answer, and how
its refusals are classified."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest
import respx

from adapters.ministry.client import BACK_PAYMENT_PATH, MinistryClient
from adapters.ministry.errors import (
    AMOUNT_MISMATCH,
    NOT_FOUND,
    WRONG_STATE,
    PermanentMinistryError,
    TransientMinistryError,
    classify,
)
from adapters.ministry.models import BackPaymentResult

BASE = "https://bo.test"
MONTHS = [("2024-05", 360000), ("2024-06", 360000), ("2024-07", 500000), ("2024-08", 500000)]
BODY = {"doiTuongId": "DT-1", "hoSoId": "HS-1", "tuThang": "2024-05", "denThang": "2024-08", "soTien": 1720000,
        "chiTiet": [{"thang": m, "soTien": a} for m, a in MONTHS],
        "canCu": {"soQuyetDinh": "123/QĐ-UBND", "ngayQuyetDinh": "2024-09-05"}}


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
    async with MinistryClient(BASE, "sandbox-client", "sandbox-secret", transport=httpx.AsyncHTTPTransport()) as c:
        yield c


async def test_the_back_payment_posts_the_body_with_the_idempotency_key(mock: respx.MockRouter,
                                                                        client: MinistryClient) -> None:
    answer = {"id": "TL-1", "thangChiTra": "2024-10", "somethingNew": True}
    route = mock.post(BACK_PAYMENT_PATH).mock(side_effect=[
        httpx.Response(201, json=answer), httpx.Response(201, json=answer, headers={"Idempotent-Replayed": "true"})])
    result = await client.send_back_payment(BODY, idempotency_key="tl-HS-1")
    assert result == BackPaymentResult(id="TL-1", list_month="2024-10")
    sent = route.calls.last.request
    assert sent.url.path == "/api/v1/chi-tra/truy-linh"
    assert sent.headers["Idempotency-Key"] == "tl-HS-1" and sent.headers["Authorization"] == "Bearer tok-1"
    assert sent.headers["Content-Type"].startswith("application/json") and json.loads(sent.content) == BODY
    again = await client.send_back_payment(BODY, idempotency_key="tl-HS-1")
    assert again.replayed and again.list_month == "2024-10"
    assert route.calls[1].request.content == route.calls[0].request.content


@pytest.mark.parametrize("answer", [{"thangChiTra": "2024-10"}, {"id": "TL-1"}, {"id": "TL-1", "thangChiTra": 202410},
                                    [1]])
async def test_an_unreadable_answer_is_transient(mock: respx.MockRouter, client: MinistryClient,
                                                 answer: object) -> None:
    mock.post(BACK_PAYMENT_PATH).mock(return_value=httpx.Response(201, json=answer))
    with pytest.raises(TransientMinistryError) as caught:
        await client.send_back_payment(BODY, idempotency_key="k")
    assert caught.value.code == "INVALID_RESPONSE"


@pytest.mark.parametrize("key", ["", "x" * 65, "with space", "khóa"])
async def test_a_back_payment_needs_a_header_safe_key(client: MinistryClient, key: str) -> None:
    with pytest.raises(ValueError):
        await client.send_back_payment(BODY, idempotency_key=key)


async def test_a_wrong_amount_is_permanent_and_names_the_months(mock: respx.MockRouter,
                                                                client: MinistryClient) -> None:
    details = [{"truong": "chiTiet[2].soTien", "thongDiep": "Tháng 2024-07 là 500000, không phải 360000"},
               {"truong": "soTien", "thongDiep": "Tổng số là 1720000"}]
    mock.post(BACK_PAYMENT_PATH).mock(return_value=error(422, AMOUNT_MISMATCH, details))
    with pytest.raises(PermanentMinistryError) as caught:
        await client.send_back_payment(BODY, idempotency_key="k")
    assert (caught.value.status, caught.value.code) == (422, "SAI_SO_TIEN")
    assert [(d.field, d.message) for d in caught.value.details] == [(d["truong"], d["thongDiep"]) for d in details]


async def test_an_unknown_beneficiary_is_permanent(mock: respx.MockRouter, client: MinistryClient) -> None:
    mock.post(BACK_PAYMENT_PATH).mock(return_value=error(404, NOT_FOUND, [{"truong": "doiTuongId",
                                                                           "thongDiep": "Không tìm thấy"}]))
    with pytest.raises(PermanentMinistryError) as caught:
        await client.send_back_payment({**BODY, "doiTuongId": "DT-X"}, idempotency_key="k")
    assert (caught.value.status, caught.value.code) == (404, "KHONG_TIM_THAY")
    assert caught.value.details[0].field == "doiTuongId"


async def test_months_sent_already_are_permanent(mock: respx.MockRouter, client: MinistryClient) -> None:
    mock.post(BACK_PAYMENT_PATH).mock(return_value=error(409, WRONG_STATE))
    with pytest.raises(PermanentMinistryError) as caught:
        await client.send_back_payment(BODY, idempotency_key="other")
    assert (caught.value.status, caught.value.code) == (409, "TRANG_THAI_KHONG_PHU_HOP")


async def test_a_503_is_transient(mock: respx.MockRouter, client: MinistryClient) -> None:
    mock.post(BACK_PAYMENT_PATH).mock(return_value=httpx.Response(
        503, json={"maLoi": "LOI_HE_THONG", "thongDiep": "Lỗi", "chiTiet": []}, headers={"Retry-After": "2"}))
    with pytest.raises(TransientMinistryError) as caught:
        await client.send_back_payment(BODY, idempotency_key="k")
    assert caught.value.status == 503 and caught.value.retry_after == 2


@pytest.mark.parametrize(("status", "code", "transient"), [
    (422, "SAI_SO_TIEN", False),
    (404, "KHONG_TIM_THAY", False),
    (409, "TRANG_THAI_KHONG_PHU_HOP", False),
    (400, "DU_LIEU_KHONG_HOP_LE", False),
    (422, "KHOA_TRUNG_LAP_KHAC_NOI_DUNG", False),
    (500, "LOI_HE_THONG", True),
])
def test_the_table_classifies_the_section_9_refusals(status: int, code: str, transient: bool) -> None:
    details = [{"truong": "chiTiet[0].soTien", "thongDiep": "Tháng 2024-05"}]
    error_ = classify(error(status, code, details))
    assert (error_.transient, error_.status, error_.code) == (transient, status, code)
    assert [d.field for d in error_.details] == ["chiTiet[0].soTien"]
