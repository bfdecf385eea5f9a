"""The outbox handler of ``send_alert``: the adapter POSTs, this decides (retried with the normal policy)."""

from __future__ import annotations

import structlog
from sqlmodel import Session

from adapters.alerting.client import AlertWebhookClient, AlertWebhookError
from gateway.metrics import ALERTS
from gateway.vocabulary import MessageKind, Peer
from outbox import DeliveryError, Finish, Message, TransientError

log = structlog.get_logger(__name__)


class AlertHandler:
    """``send_alert``: the body exactly as enqueued (same ``alert_id`` at every retry), signed afresh."""

    kind: str = MessageKind.SEND_ALERT
    target: str = Peer.ALERT_WEBHOOK

    def __init__(self, client: AlertWebhookClient) -> None:
        self.client = client

    async def handle(self, message: Message) -> Finish | None:
        """POST it; any 2xx accepts; anything else, or no answer, is retried until the policy gives up."""
        body = message.payload["body"]
        try:
            await self.client.send(body)
        except AlertWebhookError as exc:
            detail = {"error": "no answer"} if exc.status is None else {"status": exc.status, "body": exc.body}
            raise TransientError(str(exc), retry_after=exc.retry_after, trips_breaker=exc.trips_breaker,
                                 detail=detail) from exc
        ALERTS.labels(str(body.get("kind")), str(body.get("state")), "sent").inc()
        log.info("alert_sent", alert_id=body.get("alert_id"), alert_kind=body.get("kind"), state=body.get("state"),
                 target=body.get("target"), message_id=message.id)
        return None

    def on_retry(self, session: Session, message: Message, error: DeliveryError) -> None:
        """Nothing to record: the outbox row keeps the last error."""

    def on_dead(self, session: Session, message: Message, error: DeliveryError) -> None:
        """Nothing to record here: the dispatcher's dead hook logs and counts it (and raises no alert)."""
