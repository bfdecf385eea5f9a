"""The alert webhook client: POST one alert, signed like the province callbacks, to GATEWAY_ALERT_WEBHOOK_URL.

The body is sent exactly as given (compact JSON, UTF-8) and signed afresh at each call, so a retry carries
the same ``X-Gateway-Alert-Id`` and bytes with a fresh signature. Any 2xx accepts; anything else raises
:class:`AlertWebhookError`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from typing import Any

import httpx

from adapters.common.errors import parse_retry_after
from adapters.common.signing import SIGNATURE_HEADER, sign

ALERT_ID_HEADER = "X-Gateway-Alert-Id"
BODY_EXCERPT_CHARS = 300


class AlertWebhookError(Exception):
    """An alert the webhook did not accept; ``status`` None when no answer came. ``str()`` is safe to log."""

    def __init__(self, message: str, *, status: int | None = None, retry_after: float | None = None,
                 body: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.retry_after = retry_after
        self.body = body

    @property
    def trips_breaker(self) -> bool:
        """True when the receiver looks down (no answer, or a 5xx), not refusing."""
        return self.status is None or self.status >= 500


def encode_body(body: dict[str, Any]) -> bytes:
    """The bytes sent and signed: compact JSON, non-ASCII kept as UTF-8."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


class AlertWebhookClient:
    """Sends alerts to one URL, signed with ``secrets`` (none: unsigned), over ``http``."""

    def __init__(self, http: httpx.AsyncClient, url: str, secrets: Sequence[str] = (), *,
                 clock: Callable[[], float] = time.time) -> None:
        self.http = http
        self.url = url
        self._secrets = list(secrets)
        self._clock = clock

    async def send(self, body: dict[str, Any]) -> None:
        """POST ``body`` (which carries its ``alert_id``); returns on a 2xx, else raises AlertWebhookError."""
        content = encode_body(body)
        headers = {"Content-Type": "application/json; charset=utf-8", ALERT_ID_HEADER: str(body["alert_id"])}
        if self._secrets:
            headers[SIGNATURE_HEADER] = sign(self._secrets, content, int(self._clock()))
        try:
            response = await self.http.post(self.url, content=content, headers=headers)
        except httpx.TimeoutException as exc:
            raise AlertWebhookError(f"alert webhook timed out: {exc.__class__.__name__}") from exc
        except httpx.TransportError as exc:
            raise AlertWebhookError(f"alert webhook unreachable: {exc.__class__.__name__}") from exc
        if response.is_success:
            return
        raise AlertWebhookError(f"alert webhook answered HTTP {response.status_code}", status=response.status_code,
                                retry_after=parse_retry_after(response.headers.get("Retry-After")),
                                body=response.text[:BODY_EXCERPT_CHARS])
