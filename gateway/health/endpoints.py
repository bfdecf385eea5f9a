"""Liveness, readiness and metrics for operators."""

from __future__ import annotations

from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from gateway.blobs import BlobStore
from gateway.db import Database
from gateway.deps import LocalWorker, get_blob_store, get_database
from gateway.health.service import readiness, refresh_metrics
from gateway.vocabulary import Peer

router = APIRouter(tags=["operations"])


@router.get("/health/live", summary="200 while the process runs")
def live() -> dict[str, Any]:
    """Liveness."""
    return {"status": "live"}


@router.get("/health/ready", summary="200 when the database is migrated and the blob store writable")
async def ready(
    db: Annotated[Database, Depends(get_database)],
    blobs: Annotated[BlobStore, Depends(get_blob_store)],
    worker: LocalWorker,
) -> JSONResponse:
    """Readiness, with a report of each component (a ministry outage does not make it unready)."""
    circuit = worker.circuit() if worker is not None else "not_running_here"
    states = worker.dispatcher.circuit_states() if worker is not None else {}
    population = states[Peer.POPULATION].value if Peer.POPULATION in states else None
    ok, report = await anyio.to_thread.run_sync(readiness, db, blobs, circuit, population)
    return JSONResponse(report, status_code=200 if ok else 503)


@router.get("/metrics", summary="Prometheus text format", response_class=Response,
            responses={200: {"content": {CONTENT_TYPE_LATEST.split(";")[0]: {"schema": {"type": "string"}}}}})
def metrics(db: Annotated[Database, Depends(get_database)], worker: LocalWorker) -> Response:
    """The process's metrics."""
    refresh_metrics(db, {t: s.value for t, s in worker.dispatcher.circuit_states().items()} if worker else None)
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
