"""The outbox handler of province callbacks: the adapter POSTs, this decides retry (always, until a 2xx)."""

from __future__ import annotations

from typing import Any

import structlog
from sqlmodel import Session

from adapters.province.callbacks import ProvinceCallbackClient
from adapters.province.errors import ProvinceError
from gateway.vocabulary import MessageKind, Peer
from outbox import DeliveryError, Finish, Message, TransientError

log = structlog.get_logger(__name__)


def province_detail(error: ProvinceError) -> dict[str, Any]:
    """What is stored with the message: the kind of failure when no answer came, else status and body excerpt."""
    if error.status is None:
        return {"error": error.reason}
    return {"status": error.status, "body": error.body}


def translate(error: ProvinceError) -> TransientError:
    """Every callback failure is retried, honouring Retry-After; only a 5xx or no answer counts against the circuit."""
    return TransientError(str(error), retry_after=error.retry_after, trips_breaker=error.trips_breaker,
                          detail=province_detail(error))


class ProvinceCallbackHandler:
    """``province_callback``: body exactly as enqueued, signed afresh at each attempt (freshness window)."""

    kind: str = MessageKind.PROVINCE_CALLBACK
    target: str = Peer.PROVINCE

    def __init__(self, client: ProvinceCallbackClient) -> None:
        self.client = client

    async def handle(self, message: Message) -> Finish | None:
        """POST it; any 2xx accepts, anything else (or no answer) is retried."""
        body = message.payload["body"]
        try:
            await self.client.send(body)
        except ProvinceError as exc:
            raise translate(exc) from exc
        log.info("province_callback_sent", MaHoSo=body.get("MaHoSo"), SuKien=body.get("SuKien"),
                 EventId=body.get("EventId"), message_id=message.id)
        return None

    def on_retry(self, session: Session, message: Message, error: DeliveryError) -> None:
        """Nothing to record on the dossier: the outbox row keeps the last error."""

    def on_dead(self, session: Session, message: Message, error: DeliveryError) -> None:
        """Nothing to record on the dossier: the dead message waits for an administrator's replay."""
