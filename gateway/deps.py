"""FastAPI dependencies: settings, database, blob store and worker come from the app, so tests swap them."""

from __future__ import annotations

from typing import Annotated, Protocol

from fastapi import Depends, Request

from gateway.blobs import BlobStore
from gateway.db import Database
from gateway.settings import Settings
from outbox import Dispatcher


class RunningWorker(Protocol):
    """What routes use of this process's :class:`gateway.delivery.worker.Worker` (a protocol: the intake's
    routes must not load the delivery stack to reach it)."""

    dispatcher: Dispatcher

    def circuit(self) -> str:
        """The ministry circuit's state."""
        ...

    def wake(self) -> None:
        """Look for due messages now."""
        ...


def get_settings(request: Request) -> Settings:
    """The settings the app was built with."""
    settings: Settings = request.app.state.settings
    return settings


def get_database(request: Request) -> Database:
    """The app's database."""
    database: Database = request.app.state.database
    return database


def get_blob_store(request: Request) -> BlobStore:
    """The app's attachment store."""
    store: BlobStore = request.app.state.blobs
    return store


def get_worker(request: Request) -> RunningWorker | None:
    """This process's worker (dispatcher and reconciler), None when it runs none (``GATEWAY_EMBEDDED_WORKER``
    off, delivery not configured, or before start-up)."""
    worker: RunningWorker | None = getattr(request.app.state, "worker", None)
    return worker


LocalWorker = Annotated[RunningWorker | None, Depends(get_worker)]
"""A route parameter: :func:`get_worker`."""
