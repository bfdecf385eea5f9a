"""The outbox handler that POSTs a callback to the province, signed, retried until a 2xx."""

from __future__ import annotations

import json
import time

import httpx
from sqlmodel import Session

from adapters.ministry.errors import parse_retry_after
from adapters.province.signing import sign
from gateway.vocabulary import MessageKind, Peer
from outbox import DeliveryError, Finish, Message, TransientError


class ProvinceCallbackHandler:
    """``province_callback``: body exactly as enqueued, signed afresh at each attempt (freshness window)."""

    kind: str = MessageKind.PROVINCE_CALLBACK
    target: str = Peer.PROVINCE

    def __init__(self, http: httpx.AsyncClient, url: str, secret: str) -> None:
        self.http = http
        self.url = url
        self.secret = secret

    async def handle(self, message: Message) -> Finish | None:
        """POST it; any 2xx accepts, anything else (or no answer) is retried."""
        body = json.dumps(message.payload["body"], ensure_ascii=False, separators=(",", ":")).encode()
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "X-Gateway-Event-Id": str(message.payload["body"]["EventId"]),
            "X-Gateway-Signature": sign(self.secret, body, int(time.time())),
        }
        try:
            response = await self.http.post(self.url, content=body, headers=headers)
        except httpx.TimeoutException as exc:
            raise TransientError(f"province callback timed out: {exc.__class__.__name__}",
                                 detail={"error": "timeout"}) from exc
        except httpx.TransportError as exc:
            raise TransientError(f"province unreachable: {exc.__class__.__name__}",
                                 detail={"error": "connection"}) from exc
        if response.is_success:
            return None
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        raise TransientError(
            f"province answered HTTP {response.status_code}",
            retry_after=retry_after,
            trips_breaker=response.status_code >= 500,
            detail={"status": response.status_code, "body": response.text[:300]},
        )

    def on_retry(self, session: Session, message: Message, error: DeliveryError) -> None:
        """Nothing to record on the dossier: the outbox row keeps the last error."""

    def on_dead(self, session: Session, message: Message, error: DeliveryError) -> None:
        """Nothing to record on the dossier: the dead message waits for an administrator's replay."""
