"""Liveness, readiness and metrics for operators."""

from __future__ import annotations

from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from gateway.blobs import BlobStore
from gateway.db import Database
from gateway.deps import get_blob_store, get_database
from gateway.health.service import readiness

router = APIRouter(tags=["operations"])


@router.get("/health/live", summary="200 while the process runs")
def live() -> dict[str, Any]:
    """Liveness."""
    return {"status": "live"}


@router.get("/health/ready", summary="200 when the database is migrated and the blob store writable")
async def ready(
    db: Annotated[Database, Depends(get_database)], blobs: Annotated[BlobStore, Depends(get_blob_store)]
) -> JSONResponse:
    """Readiness, with a report of each component."""
    ok, report = await anyio.to_thread.run_sync(readiness, db, blobs)
    return JSONResponse(report, status_code=200 if ok else 503)


@router.get("/metrics", summary="Prometheus text format")
def metrics() -> Response:
    """The process's metrics."""
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
