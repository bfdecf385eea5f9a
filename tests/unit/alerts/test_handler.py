"""One alert exchange (respx): the body as enqueued, its alert id, signed; failures retried, a 5xx trips."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import httpx
import pytest
import respx

from adapters.alerting.client import AlertWebhookClient
from adapters.common.signing import verify
from gateway.alerts.handler import AlertHandler
from outbox import Message, TransientError

URL = "https://ops.example.gov.vn/alerts"
BODY = {"alert_id": "7d1f", "kind": "peer_outage", "state": "firing", "target": "ministry",
        "summary": "Mất kết nối tới ministry", "started_at": "2026-12-02T08:00:00Z",
        "sent_at": "2026-12-02T08:10:00Z", "count": 1, "detail": {}}


def _message() -> Message:
    now = datetime.now(UTC)
    return Message(1, "send_alert", "alert:peer_outage:ministry", {"body": BODY}, 1, now, now)


@respx.mock
async def test_the_alert_is_signed_with_each_secret_and_carries_its_id() -> None:
    route = respx.post(URL).mock(return_value=httpx.Response(204))
    async with httpx.AsyncClient() as http:
        assert await AlertHandler(AlertWebhookClient(http, URL, ["old", "new"])).handle(_message()) is None
    request = route.calls.last.request
    assert json.loads(request.content) == BODY
    assert request.headers["X-Gateway-Alert-Id"] == "7d1f"
    for secret in ("old", "new"):
        verify(request.headers["X-Gateway-Signature"], request.content, secret, now=time.time())


@respx.mock
async def test_no_secret_no_signature() -> None:
    route = respx.post(URL).mock(return_value=httpx.Response(200))
    async with httpx.AsyncClient() as http:
        await AlertHandler(AlertWebhookClient(http, URL)).handle(_message())
    assert "X-Gateway-Signature" not in route.calls.last.request.headers


@pytest.mark.parametrize(("answer", "trips"), [(httpx.Response(503, headers={"Retry-After": "7"}), True),
                                               (httpx.Response(401), False),
                                               (httpx.ConnectError("refused"), True)])
@respx.mock
async def test_every_failure_is_retried(answer: httpx.Response | Exception, trips: bool) -> None:
    respx.post(URL).mock(side_effect=[answer] if isinstance(answer, Exception) else None,
                         return_value=None if isinstance(answer, Exception) else answer)
    async with httpx.AsyncClient() as http:
        with pytest.raises(TransientError) as raised:
            await AlertHandler(AlertWebhookClient(http, URL, ["k"])).handle(_message())
    assert raised.value.trips_breaker is trips
    if isinstance(answer, httpx.Response) and answer.status_code == 503:
        assert raised.value.retry_after == 7
