"""Admin routes of delivery conflicts (reads: scope ``admin`` or ``monitor``; actions: ``admin``): dossiers
whose ministry copy holds other content, and an administrator's decision on one (gateway-operations.md, "Admin
routes"). Thin: parse, call the service, answer."""

from __future__ import annotations

import functools
from typing import Annotated

import anyio
from fastapi import APIRouter, Depends, Path, Query

from gateway.auth import Principal, require_admin, require_read
from gateway.db import Database
from gateway.delivery import conflicts
from gateway.delivery.schemas import ConflictPage, ResolveRequest, ResolveResult
from gateway.deps import LocalWorker, get_database, get_settings
from gateway.problems import problem_responses
from gateway.settings import Settings
from gateway.vocabulary import ConflictAction

router = APIRouter(prefix="/api/v1/admin", tags=["admin", "delivery"])

Admin = Annotated[Principal, Depends(require_admin)]
Reader = Annotated[Principal, Depends(require_read)]  # admin or monitor
Db = Annotated[Database, Depends(get_database)]
AppSettings = Annotated[Settings, Depends(get_settings)]


@router.get("/delivery-conflicts", response_model=ConflictPage, responses=problem_responses(401, 403, 422),
            summary="Dossiers whose ministry copy holds other content (a create's 409): why, names only")
def delivery_conflicts(
    _principal: Reader,
    db: Db,
    limit: Annotated[int, Query(ge=1, le=10000)] = 1000,
    offset: Annotated[int, Query(ge=0, le=2**31)] = 0,
) -> ConflictPage:
    """Latest first; each with the fields and components that differ and the ministry's status."""
    return conflicts.conflicts(db, limit=limit, offset=offset)


@router.post("/dossiers/{ma_ho_so}/conflict", response_model=ResolveResult,
             responses=problem_responses(400, 401, 403, 404, 409, 422),
             summary="Decide on a dossier in conflict: accept the ministry's copy, or deliver again (audited)")
async def resolve_conflict(
    ma_ho_so: Annotated[str, Path(max_length=64)], body: ResolveRequest, principal: Admin, db: Db,
    settings: AppSettings, worker: LocalWorker,
) -> ResolveResult:
    """``accept`` records the revision delivered; ``retry`` queues its delivery at once."""
    result = await anyio.to_thread.run_sync(functools.partial(
        conflicts.resolve, db, ma_ho_so, action=body.action, actor=f"api:{principal.name}", reason=body.reason,
        notify=settings.callbacks_configured))
    if worker is not None and body.action == ConflictAction.RETRY:
        worker.wake()
    return result


__all__ = ["router"]
