"""The FastAPI application: routes, problem handlers, request ids, and the resources it owns."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from fastapi import FastAPI

from gateway.admin.console import install_console
from gateway.admin.endpoints import router as admin_api_router
from gateway.blobs import create_blob_store
from gateway.db import Database, create_database
from gateway.death_notices.endpoints import router as notices_router
from gateway.delivery.endpoints import router as conflicts_router
from gateway.delivery.worker import Worker
from gateway.dossiers.endpoints import router as dossiers_router
from gateway.health.endpoints import router as health_router
from gateway.identity.endpoints import router as identity_router
from gateway.middleware import InputLimitsMiddleware, RequestContextMiddleware
from gateway.migrate import ensure_migrated
from gateway.payments.endpoints import router as payments_router
from gateway.problems import install_problem_handlers
from gateway.settings import Settings, get_settings

log = structlog.get_logger(__name__)


def create_app(settings: Settings | None = None, database: Database | None = None) -> FastAPI:
    """Build the app. Refuses (at start-up) a database that is not migrated to head."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db = database or create_database(settings.database_url)
        ensure_migrated(db.engine)
        blobs = create_blob_store(settings, db)
        blobs.ensure()
        blobs.remove_stale_temp()
        app.state.database = db
        app.state.blobs = blobs
        app.state.worker = None
        worker_task: asyncio.Task[None] | None = None
        if settings.embedded_worker:
            if settings.delivery_configured:
                app.state.worker = Worker(settings, db, blobs)
                worker_task = asyncio.create_task(app.state.worker.run())
            else:
                log.warning("delivery_disabled", reason="GATEWAY_MINISTRY_CLIENT_ID/SECRET unset: dossiers are "
                            "accepted and queued, nothing is delivered until they are set")
        log.info("gateway_started", database=db.dialect, blob_store=blobs.kind, blob_dir=str(settings.blob_dir),
                 embedded_worker=worker_task is not None)
        try:
            yield
        finally:
            if worker_task is not None:
                app.state.worker.stop()
                await worker_task
            if database is None:
                db.dispose()

    app = FastAPI(
        title="Social-assistance dossier gateway",
        version="0.1.0",
        description="Province one-stop systems → the ministry's pending-reception queue (Decree 20/2021/NĐ-CP).",
        lifespan=lifespan,
    )
    app.state.settings = settings
    install_problem_handlers(app)
    app.include_router(health_router)
    app.include_router(dossiers_router)
    app.include_router(admin_api_router)
    app.include_router(identity_router)
    app.include_router(conflicts_router)
    app.include_router(notices_router)
    app.include_router(payments_router)
    install_console(app)

    app.add_middleware(InputLimitsMiddleware, max_header_bytes=settings.max_header_bytes,
                       body_timeout_s=settings.body_timeout_s)
    app.add_middleware(RequestContextMiddleware)

    return app
