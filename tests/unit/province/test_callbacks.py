"""The province callback client (adapters/province/callbacks.py) and its translation into outbox terms."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest
import respx
import structlog

from adapters.common.signing import verify
from adapters.province.callbacks import ProvinceCallbackClient
from adapters.province.errors import ProvinceRejected, ProvinceUnavailable
from gateway.callbacks.handler import ProvinceCallbackHandler
from outbox import Message, TransientError

URL = "https://mot-cua.example.gov.vn/callbacks"
SECRET = "province-shared-secret"
BODY = {"EventId": "ev-1", "MaHoSo": "000.00.12.H56-240115-0001", "SuKien": "DA_CHUYEN_BO", "NoiDung": "Đã chuyển"}


def _message() -> Message:
    now = datetime.now(UTC)
    return Message(7, "province_callback", "callback:x", {"body": BODY}, 1, now, now)


@respx.mock
async def test_send_posts_compact_utf8_json_signed_at_the_clock() -> None:
    route = respx.post(URL).mock(return_value=httpx.Response(202))
    async with httpx.AsyncClient() as http:
        await ProvinceCallbackClient(http, URL, SECRET, clock=lambda: 1_700_000_000.9).send(BODY)
    request = route.calls.last.request
    assert request.content == '{"EventId":"ev-1","MaHoSo":"000.00.12.H56-240115-0001","SuKien":"DA_CHUYEN_BO",' \
                              '"NoiDung":"Đã chuyển"}'.encode()
    assert request.headers["Content-Type"] == "application/json; charset=utf-8"
    assert request.headers["X-Gateway-Event-Id"] == "ev-1"
    assert request.headers["X-Gateway-Signature"].startswith("t=1700000000,v1=")
    verify(request.headers["X-Gateway-Signature"], request.content, SECRET, now=1_700_000_000)


@pytest.mark.parametrize(("status", "trips"), [(500, True), (503, True), (401, False), (429, False), (404, False)])
@respx.mock
async def test_a_refusal_is_province_rejected(status: int, trips: bool) -> None:
    respx.post(URL).mock(return_value=httpx.Response(status, text="x" * 1000, headers={"Retry-After": "7"}))
    async with httpx.AsyncClient() as http:
        with pytest.raises(ProvinceRejected) as caught:
            await ProvinceCallbackClient(http, URL, SECRET).send(BODY)
    error = caught.value
    assert (error.status, error.retry_after, error.trips_breaker) == (status, 7.0, trips)
    assert error.body == "x" * 300
    assert str(error) == f"province answered HTTP {status}"


@pytest.mark.parametrize(("raised", "reason", "message"), [
    (httpx.ConnectTimeout("slow"), "timeout", "province callback timed out: ConnectTimeout"),
    (httpx.ConnectError("refused"), "connection", "province unreachable: ConnectError"),
])
@respx.mock
async def test_no_answer_is_province_unavailable(raised: Exception, reason: str, message: str) -> None:
    respx.post(URL).mock(side_effect=raised)
    async with httpx.AsyncClient() as http:
        with pytest.raises(ProvinceUnavailable) as caught:
            await ProvinceCallbackClient(http, URL, SECRET).send(BODY)
    assert (caught.value.reason, caught.value.status, str(caught.value)) == (reason, None, message)


@pytest.mark.parametrize(("answer", "message", "detail", "retry_after", "trips"), [
    (httpx.Response(503, text="down", headers={"Retry-After": "30"}), "province answered HTTP 503",
     {"status": 503, "body": "down"}, 30.0, True),
    (httpx.Response(429, text="slow down"), "province answered HTTP 429", {"status": 429, "body": "slow down"},
     None, False),
    (httpx.ReadTimeout("slow"), "province callback timed out: ReadTimeout", {"error": "timeout"}, None, True),
    (httpx.ConnectError("refused"), "province unreachable: ConnectError", {"error": "connection"}, None, True),
])
@respx.mock
async def test_the_handler_stores_what_it_stored_before_the_move(
    answer: httpx.Response | Exception, message: str, detail: dict[str, object], retry_after: float | None,
    trips: bool,
) -> None:
    if isinstance(answer, Exception):
        respx.post(URL).mock(side_effect=answer)
    else:
        respx.post(URL).mock(return_value=answer)
    async with httpx.AsyncClient() as http:
        with pytest.raises(TransientError) as caught:
            await ProvinceCallbackHandler(ProvinceCallbackClient(http, URL, SECRET)).handle(_message())
    error = caught.value
    assert (str(error), error.detail, error.retry_after, error.trips_breaker) == (message, detail, retry_after, trips)


@respx.mock
async def test_a_sent_callback_logs_one_line_with_its_dossier_event_and_id() -> None:
    respx.post(URL).mock(return_value=httpx.Response(204))
    async with httpx.AsyncClient() as http:
        with structlog.testing.capture_logs() as logs:
            await ProvinceCallbackHandler(ProvinceCallbackClient(http, URL, SECRET)).handle(_message())
    assert logs == [{"event": "province_callback_sent", "log_level": "info", "MaHoSo": BODY["MaHoSo"],
                     "SuKien": "DA_CHUYEN_BO", "EventId": "ev-1", "message_id": 7}]
