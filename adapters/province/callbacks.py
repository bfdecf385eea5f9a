"""The province callback client (province-api.md §4): POST one event, signed, to the province's URL.

The body is sent exactly as given (compact JSON, UTF-8) and signed afresh at each call, so a retry
carries the same ``X-Gateway-Event-Id`` and bytes with a fresh ``X-Gateway-Signature`` (the
receiver's freshness window). Any 2xx accepts; anything else raises a :class:`ProvinceError`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from typing import Any

import httpx

from adapters.common.signing import SIGNATURE_HEADER, sign
from adapters.ministry.errors import parse_retry_after
from adapters.province.errors import CONNECTION, TIMEOUT, ProvinceRejected, ProvinceUnavailable

EVENT_ID_HEADER = "X-Gateway-Event-Id"


def encode_body(body: dict[str, Any]) -> bytes:
    """The bytes sent and signed: compact JSON, non-ASCII kept as UTF-8."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


class ProvinceCallbackClient:
    """Sends status callbacks to one province URL over ``http``, signed with the shared secret.

    ``secret`` may be several secrets while one is rotated: each callback then carries one signature per secret.
    """

    def __init__(self, http: httpx.AsyncClient, url: str, secret: str | Sequence[str], *,
                 clock: Callable[[], float] = time.time) -> None:
        self.http = http
        self.url = url
        self._secret: tuple[str, ...] = (secret,) if isinstance(secret, str) else tuple(secret)
        if not self._secret:
            raise ValueError("at least one callback secret is required")
        self._clock = clock

    async def send(self, body: dict[str, Any]) -> None:
        """POST ``body`` (which carries its ``EventId``); returns on a 2xx.

        Raises :class:`ProvinceUnavailable` when no answer came (timeout, connection) and
        :class:`ProvinceRejected` for any other answer.
        """
        content = encode_body(body)
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            EVENT_ID_HEADER: str(body["EventId"]),
            SIGNATURE_HEADER: sign(self._secret, content, int(self._clock())),
        }
        try:
            response = await self.http.post(self.url, content=content, headers=headers)
        except httpx.TimeoutException as exc:
            raise ProvinceUnavailable(f"province callback timed out: {exc.__class__.__name__}",
                                      reason=TIMEOUT) from exc
        except httpx.TransportError as exc:
            raise ProvinceUnavailable(f"province unreachable: {exc.__class__.__name__}",
                                      reason=CONNECTION) from exc
        if response.is_success:
            return
        raise ProvinceRejected(response.status_code,
                               retry_after=parse_retry_after(response.headers.get("Retry-After")),
                               body=response.text)
