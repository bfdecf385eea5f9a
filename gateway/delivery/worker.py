"""The worker: the outbox dispatcher (ministry deliveries, province callbacks) and the reconciler.

Runs inside ``serve`` (default) or alone as ``gateway worker``; any number may share one PostgreSQL.
"""

from __future__ import annotations

import asyncio
import signal
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from datetime import timedelta

import httpx
import structlog

from adapters.alerting.client import AlertWebhookClient
from adapters.ministry.client import MinistryClient
from adapters.ministry.transport import make_transport
from adapters.population.client import PopulationClient
from adapters.province.callbacks import ProvinceCallbackClient
from gateway.admin.service import purge
from gateway.alerts.handler import AlertHandler
from gateway.alerts.service import Alerting, AlertOptions
from gateway.blobs import BlobStore
from gateway.callbacks.handler import ProvinceCallbackHandler
from gateway.db import Database
from gateway.death_notices.funeral import FuneralOptions
from gateway.death_notices.handlers import LookupHandler, StopHandler
from gateway.delivery.handlers import DeliverDossierHandler, SupplementDossierHandler
from gateway.identity.handler import IdentityVerifier, VerifyIdentityHandler
from gateway.metrics import DELIVERY_ATTEMPTS, DELIVERY_LATENCY, RETENTION_PURGED
from gateway.pacing import DatabaseSlots
from gateway.payments.handlers import SendBackPaymentHandler
from gateway.reconcile.reconciler import Reconciler
from gateway.settings import Settings
from gateway.vocabulary import Peer
from outbox import CircuitBreaker, Dispatcher, DispatcherConfig, Handler, Message, RetryPolicy
from outbox.circuits import SharedCircuits
from outbox.columns import utcnow

log = structlog.get_logger(__name__)

RETENTION_ACTOR = "system:retention"
SQLITE_DB_THREADS = 2


def _observe(message: Message, outcome: str, _duration_s: float) -> None:
    DELIVERY_ATTEMPTS.labels(message.kind, outcome).inc()
    if outcome == "done":
        DELIVERY_LATENCY.labels(message.kind).observe((utcnow() - message.created_at).total_seconds())


class Worker:
    """Owns the peer clients, the dispatcher and the reconciler; ``run()`` until ``stop()``."""

    def __init__(self, settings: Settings, db: Database, blobs: BlobStore, *, concurrency: int | None = None,
                 client: MinistryClient | None = None, reconcile: bool = True,
                 population: IdentityVerifier | None = None) -> None:
        if not settings.delivery_configured and client is None:
            raise ValueError("GATEWAY_MINISTRY_CLIENT_ID and GATEWAY_MINISTRY_CLIENT_SECRET must be set to deliver")
        secret = settings.ministry_client_secret.get_secret_value() if settings.ministry_client_secret else ""
        # Every call to a peer takes its slot from that peer's budget, shared through the database by every
        # process (serve and each `gateway worker`): together they stay within what the peer allows one client.
        self.client = client or MinistryClient(
            settings.ministry_base_url, settings.ministry_client_id or "", secret,
            timeout=settings.ministry_timeout_s, transport_name=settings.ministry_transport,
            rate_per_second=settings.ministry_rate_per_s, burst=settings.ministry_burst,
            slots=DatabaseSlots(db, Peer.MINISTRY),
        )
        self.db = db
        self.blobs = blobs  # its unreferenced attachments are collected with the retention purge
        self.retention_days = settings.retention_days
        self.retention_interval_s = settings.retention_interval_s
        self._stopping = asyncio.Event()
        notify = settings.callbacks_configured
        # Callbacks go out on the same kind of transport as deliveries (GATEWAY_MINISTRY_TRANSPORT): on the
        # backfill benchmark httpx's own pool was a third of the worker's CPU, most of it for callbacks.
        self.callback_http = httpx.AsyncClient(timeout=httpx.Timeout(10.0), follow_redirects=False,
                                               transport=make_transport(settings.ministry_transport),
                                               headers={"User-Agent": "sa-gateway callbacks"})
        handlers: list[Handler] = [
            DeliverDossierHandler(db, blobs, self.client, notify=notify),
            SupplementDossierHandler(db, blobs, self.client, notify=notify),
        ]
        self.population: PopulationClient | None = None
        retry = RetryPolicy(base_s=settings.retry_base_s, cap_s=settings.retry_cap_s,
                            max_attempts=settings.retry_max_attempts, max_age_s=settings.retry_max_age_s,
                            quick_attempts=settings.retry_quick_attempts, quick_s=settings.retry_quick_s)
        if settings.identity_configured or population is not None:
            if population is None:
                pop_secret = settings.population_client_secret
                self.population = PopulationClient(
                    settings.population_base_url or "", settings.population_client_id or "",
                    pop_secret.get_secret_value() if pop_secret else "",
                    timeout=settings.population_timeout_s, rate_per_second=settings.population_rate_per_s,
                    burst=settings.population_burst, slots=DatabaseSlots(db, Peer.POPULATION))
                population = self.population
            handlers.append(VerifyIdentityHandler(db, population, policy=settings.identity_policy,
                                                  max_wait_s=settings.identity_max_wait_s, retry=retry,
                                                  notify=notify))
        options = FuneralOptions(verify_identity=settings.identity_configured or population is not None, notify=notify,
                                 extra_days_off=settings.calendar_extra_days_off,
                                 extra_workdays=settings.calendar_extra_workdays)
        handlers += [LookupHandler(db, self.client, options=options, notify=notify),
                     StopHandler(db, self.client, options=options, notify=notify),
                     SendBackPaymentHandler(db, self.client)]
        if notify and settings.province_callback_url and settings.province_callback_secrets:
            handlers.append(ProvinceCallbackHandler(ProvinceCallbackClient(
                self.callback_http, settings.province_callback_url, settings.province_callback_secrets)))
        # One circuit per peer for every process on this database: the first to see an outage tells the
        # others, and one of them probes.
        circuits = SharedCircuits()
        self.alerting: Alerting | None = None
        self.alert_interval_s = settings.alert_check_interval_s
        if settings.alerts_configured:
            if not settings.alert_webhook_secrets:
                log.warning("alert_webhook_unsigned", detail="GATEWAY_ALERT_WEBHOOK_SECRET is not set: alerts are "
                            "sent without X-Gateway-Signature, so their receiver cannot tell them from forgeries")
            handlers.append(AlertHandler(AlertWebhookClient(self.callback_http, settings.alert_webhook_url or "",
                                                            settings.alert_webhook_secrets)))
            self.alerting = Alerting(AlertOptions(outage_s=settings.alert_outage_s,
                                                  backlog_s=settings.alert_backlog_s,
                                                  repeat_s=settings.alert_repeat_s), circuits)

        def breaker() -> CircuitBreaker:
            return CircuitBreaker(threshold=settings.breaker_threshold, cool_down_s=settings.breaker_cool_down_s,
                                  max_cool_down_s=max(settings.breaker_max_cool_down_s, settings.breaker_cool_down_s),
                                  clock=circuits.clock)

        self.dispatcher = Dispatcher(
            db.session,
            handlers,
            config=DispatcherConfig(concurrency=concurrency or settings.worker_concurrency,
                                    lease_s=settings.outbox_lease_s, poll_s=settings.outbox_poll_s,
                                    attempt_timeout_s=max(60.0, settings.ministry_timeout_s * 10)),
            policy=retry,
            breakers={target: breaker() for target in {Peer.MINISTRY, Peer.PROVINCE, *(h.target for h in handlers)}},
            observer=_observe,
            circuits=circuits,
            on_dead=self.alerting.on_dead if self.alerting is not None else None,
        )
        self.reconciler = (
            Reconciler(db, self.client, interval_s=settings.reconcile_interval_s, batch=settings.reconcile_batch,
                       lease_s=settings.reconcile_lease_s,
                       notify=notify,
                       owner=self.dispatcher.owner)
            if reconcile else None
        )

    def circuit(self) -> str:
        """The ministry circuit's state: ``closed``, ``open`` or ``half_open``."""
        return self.dispatcher.circuit_states()[Peer.MINISTRY].value

    def wake(self) -> None:
        """Look for due messages now (called after an intake commits)."""
        self.dispatcher.wake()

    def stop(self) -> None:
        """Stop claiming and polling; ``run()`` returns once in-flight work is finished or handed back."""
        self._stopping.set()
        self.dispatcher.stop()
        if self.reconciler is not None:
            self.reconciler.stop()

    async def run(self) -> None:
        """Dispatch and reconcile until stopped, then close the clients."""
        try:
            tasks = [self.dispatcher.run()]
            if self.reconciler is not None:
                tasks.append(self.reconciler.run())
            if self.retention_days > 0:
                tasks.append(self._retention())
            if self.alerting is not None:
                tasks.append(self._alert_checks())
            await asyncio.gather(*tasks)
        finally:
            await self.client.aclose()
            await self.callback_http.aclose()
            if self.population is not None:
                await self.population.aclose()

    async def _retention(self) -> None:
        """Purge finished messages past the retention age now, then every ``retention_interval_s``.

        Every worker process does it: concurrent purges split the rows (SKIP LOCKED on PostgreSQL,
        one writer at a time on SQLite), so electing a single purger is not worth its machinery.
        """
        older_than = timedelta(days=self.retention_days)
        while not self._stopping.is_set():
            try:
                removed = await asyncio.to_thread(purge, self.db, older_than, RETENTION_ACTOR,
                                                  should_stop=self._stopping.is_set, blobs=self.blobs)
                RETENTION_PURGED.inc(removed)
            except Exception:
                log.exception("retention_purge_failed", retry_in_s=self.retention_interval_s)
            with suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=self.retention_interval_s)

    async def _alert_checks(self) -> None:
        """Check peers' outages, the backlog and the dead messages not yet told, every ``alert_interval_s``.

        Every worker does it: the ``alert_state`` row's lock makes one of them enqueue each alert.
        """
        assert self.alerting is not None
        while not self._stopping.is_set():
            try:
                await asyncio.to_thread(self.alerting.check, self.db)
            except Exception:
                log.exception("alert_check_failed", retry_in_s=self.alert_interval_s)
            with suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=self.alert_interval_s)


async def run_standalone(settings: Settings, db: Database, blobs: BlobStore, concurrency: int | None) -> None:
    """``gateway worker``: run until SIGINT/SIGTERM."""
    worker = Worker(settings, db, blobs, concurrency=concurrency)
    loop = asyncio.get_running_loop()
    if db.dialect == "sqlite":
        # The database steps run in threads. On SQLite (one writer at a time, reads in microseconds) more
        # threads than two only contend for the GIL and the write lock: bench/delivery.py measured ~8 %
        # more deliveries per second, with less CPU, with two than with asyncio's default (CPUs + 4).
        loop.set_default_executor(ThreadPoolExecutor(max_workers=SQLITE_DB_THREADS, thread_name_prefix="db"))
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, worker.stop)
    await worker.run()
