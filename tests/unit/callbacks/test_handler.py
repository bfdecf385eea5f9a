"""One callback exchange (respx): body as enqueued, stable event id, signature over "<t>." + body."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import httpx
import pytest
import respx

from adapters.common.signing import SignatureError, verify
from adapters.province.callbacks import ProvinceCallbackClient
from gateway.callbacks.handler import ProvinceCallbackHandler
from outbox import Message, TransientError

URL = "https://mot-cua.example.gov.vn/callbacks"
SECRET = "province-shared-secret"
BODY = {"EventId": "3f0c4a56-8d0e-4d4b-9a53-1b2f3c4d5e6f", "MaHoSo": "000.00.12.H56-240115-0001",
        "SuKien": "CAP_NHAT_TRANG_THAI", "TrangThaiHoSo": 4, "TrangThaiBo": "DA_TIEP_NHAN", "MaHoSoBo": "HS-1",
        "ThoiDiem": "20240116090000", "NoiDung": "Đã tiếp nhận", "QuyetDinh": None}


def _message(attempts: int = 1) -> Message:
    now = datetime.now(UTC)
    return Message(1, "province_callback", "callback:x", {"body": BODY}, attempts, now, now)


@respx.mock
async def test_the_callback_is_signed_and_carries_its_event_id() -> None:
    route = respx.post(URL).mock(return_value=httpx.Response(204))
    async with httpx.AsyncClient() as http:
        assert await ProvinceCallbackHandler(ProvinceCallbackClient(http, URL, SECRET)).handle(_message()) is None
    request = route.calls.last.request
    assert json.loads(request.content) == BODY
    assert request.headers["X-Gateway-Event-Id"] == BODY["EventId"]
    verify(request.headers["X-Gateway-Signature"], request.content, SECRET, now=time.time())
    with pytest.raises(SignatureError):
        verify(request.headers["X-Gateway-Signature"], request.content + b" ", SECRET, now=time.time())


@respx.mock
async def test_a_retry_keeps_the_event_id_and_is_signed_afresh() -> None:
    route = respx.post(URL).mock(return_value=httpx.Response(200))
    async with httpx.AsyncClient() as http:
        handler = ProvinceCallbackHandler(ProvinceCallbackClient(http, URL, SECRET))
        await handler.handle(_message(1))
        await handler.handle(_message(2))
    first, second = (call.request for call in route.calls)
    assert first.headers["X-Gateway-Event-Id"] == second.headers["X-Gateway-Event-Id"]
    assert first.content == second.content


@pytest.mark.parametrize(("status", "retry_after"), [(500, None), (401, None), (429, "7"), (503, "30")])
@respx.mock
async def test_anything_but_2xx_is_retried(status: int, retry_after: str | None) -> None:
    headers = {"Retry-After": retry_after} if retry_after else {}
    respx.post(URL).mock(return_value=httpx.Response(status, headers=headers))
    async with httpx.AsyncClient() as http:
        with pytest.raises(TransientError) as caught:
            await ProvinceCallbackHandler(ProvinceCallbackClient(http, URL, SECRET)).handle(_message())
    assert caught.value.retry_after == (float(retry_after) if retry_after else None)


@respx.mock
async def test_no_answer_is_retried() -> None:
    respx.post(URL).mock(side_effect=httpx.ConnectError("refused"))
    async with httpx.AsyncClient() as http:
        with pytest.raises(TransientError):
            await ProvinceCallbackHandler(ProvinceCallbackClient(http, URL, SECRET)).handle(_message())
