"""The delivery worker: a dispatcher with the ministry handlers, in ``serve`` or alone (``gateway worker``)."""

from __future__ import annotations

import asyncio

import structlog

from adapters.ministry.client import MinistryClient
from gateway.blobs import BlobStore
from gateway.db import Database
from gateway.delivery.handlers import MINISTRY, DeliverDossierHandler, SupplementDossierHandler
from gateway.metrics import DELIVERY_ATTEMPTS, DELIVERY_LATENCY
from gateway.settings import Settings
from outbox import CircuitBreaker, Dispatcher, DispatcherConfig, Handler, Message, RetryPolicy
from outbox.columns import utcnow

log = structlog.get_logger(__name__)


def _observe(message: Message, outcome: str, _duration_s: float) -> None:
    DELIVERY_ATTEMPTS.labels(message.kind, outcome).inc()
    if outcome == "done":
        DELIVERY_LATENCY.labels(message.kind).observe((utcnow() - message.created_at).total_seconds())


class Worker:
    """Owns the ministry client and the dispatcher; ``run()`` until ``stop()``."""

    def __init__(self, settings: Settings, db: Database, blobs: BlobStore, *, concurrency: int | None = None,
                 client: MinistryClient | None = None) -> None:
        if not settings.delivery_configured and client is None:
            raise ValueError("GATEWAY_MINISTRY_CLIENT_ID and GATEWAY_MINISTRY_CLIENT_SECRET must be set to deliver")
        secret = settings.ministry_client_secret.get_secret_value() if settings.ministry_client_secret else ""
        self.client = client or MinistryClient(
            settings.ministry_base_url, settings.ministry_client_id or "", secret,
            timeout=settings.ministry_timeout_s,
        )
        handlers: list[Handler] = [DeliverDossierHandler(db, blobs, self.client),
                                   SupplementDossierHandler(db, blobs, self.client)]
        self.dispatcher = Dispatcher(
            db.session,
            handlers,
            config=DispatcherConfig(concurrency=concurrency or settings.worker_concurrency,
                                    lease_s=settings.outbox_lease_s, poll_s=settings.outbox_poll_s,
                                    attempt_timeout_s=max(60.0, settings.ministry_timeout_s * 10)),
            policy=RetryPolicy(base_s=settings.retry_base_s, cap_s=settings.retry_cap_s,
                               max_attempts=settings.retry_max_attempts, max_age_s=settings.retry_max_age_s),
            breakers={MINISTRY: CircuitBreaker(threshold=settings.breaker_threshold,
                                               cool_down_s=settings.breaker_cool_down_s)},
            observer=_observe,
        )

    def circuit(self) -> str:
        """The ministry circuit's state: ``closed``, ``open`` or ``half_open``."""
        return self.dispatcher.circuit_states()[MINISTRY].value

    def wake(self) -> None:
        """Look for due messages now (called after an intake commits)."""
        self.dispatcher.wake()

    def stop(self) -> None:
        """Stop claiming; ``run()`` returns once in-flight work is finished or handed back."""
        self.dispatcher.stop()

    async def run(self) -> None:
        """Dispatch until stopped, then close the ministry client."""
        try:
            await self.dispatcher.run()
        finally:
            await self.client.aclose()


async def run_standalone(settings: Settings, db: Database, blobs: BlobStore, concurrency: int | None) -> None:
    """``gateway worker``: run until SIGINT/SIGTERM."""
    import signal

    worker = Worker(settings, db, blobs, concurrency=concurrency)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, worker.stop)
    await worker.run()
