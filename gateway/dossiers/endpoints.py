"""Routes of the dossier domain: parse, call one service function, shape the answer."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Annotated, Any, Protocol, TypeVar

import anyio
from fastapi import APIRouter, Depends, Query, Request, Response

from gateway.auth import Principal, require_scope
from gateway.db import Database
from gateway.deps import get_blob_store, get_database, get_settings, get_worker
from gateway.dossiers import service
from gateway.dossiers.receive import Submission, receive_submission
from gateway.dossiers.schemas import DossierDetail, DossierList, DossierReceipt
from gateway.metrics import INTAKE_REQUESTS
from gateway.problems import Problem, problem_responses
from gateway.settings import Settings

router = APIRouter(prefix="/api/v1/dossiers", tags=["dossiers"])

SUBMIT_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"type": "object"}},
            "multipart/form-data": {"schema": {"type": "object", "properties": {"hoso": {"type": "string"}}}},
        },
    }
}


_require_write = require_scope("dossiers:write")


async def writer(request: Request) -> Principal:
    """The caller, who must hold ``dossiers:write``: the same check, run on the event loop.

    FastAPI runs a plain ``def`` dependency in the thread pool, and each such hop cost ~0.15 ms of a
    busy server's time (intake at 16 connections paid four of them); these lookups take microseconds.
    """
    return _require_write(request, get_settings(request))


class _Answer(Protocol):
    @property
    def status_code(self) -> int:
        """202 for something new, 200 for a repeat."""
        ...


_A = TypeVar("_A", bound=_Answer)


async def run_intake(request: Request, submit: Callable[[Submission], _A]) -> _A:
    """Receive a submission (either encoding, files staged), hand it to ``submit`` in a thread, discard what is
    left staged, count the answer, and wake the local worker for a new one. ``submit`` raises :class:`Problem`."""
    settings, blobs = get_settings(request), get_blob_store(request)
    try:
        submission = await receive_submission(request, settings, blobs)
        try:
            answer = await anyio.to_thread.run_sync(submit, submission)
        finally:
            submission.discard()
    except Problem as problem:
        INTAKE_REQUESTS.labels(result=str(problem.status)).inc()
        raise
    INTAKE_REQUESTS.labels(result=str(answer.status_code)).inc()
    if answer.status_code == 202 and (worker := get_worker(request)) is not None:
        worker.wake()  # deliver now rather than at the next poll
    return answer


@router.post(
    "",
    status_code=202,
    response_model=DossierReceipt,
    responses={200: {"model": DossierReceipt, "description": "the same content again"},
               **problem_responses(400, 401, 403, 408, 409, 413, 415, 422, 503, 507)},
    openapi_extra=SUBMIT_BODY,
    summary="Submit or revise a dossier (JSON with base64 files, or multipart with file parts)",
)
async def submit_dossier(request: Request, response: Response,
                         principal: Annotated[Principal, Depends(writer)]) -> DossierReceipt:
    """Province-api.md §2."""
    settings, db = get_settings(request), get_database(request)
    receipt = await run_intake(request, functools.partial(
        service.submit_dossier, db, client_name=principal.name, extra_days_off=settings.calendar_extra_days_off,
        extra_workdays=settings.calendar_extra_workdays, verify_identity=settings.identity_configured))
    response.status_code = receipt.status_code
    response.headers["Location"] = receipt.receipt.links.self
    return receipt.receipt


@router.get(
    "",
    response_model=DossierList,
    responses=problem_responses(401, 403, 422),
    summary="List dossiers; ?overdue=true: past their promised date and not at a final status",
)
def list_dossiers(
    _principal: Annotated[Principal, Depends(require_scope("dossiers:read"))],
    db: Annotated[Database, Depends(get_database)],
    overdue: Annotated[bool, Query(description="only those past NgayHenTra and not final")] = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=2**63 - 1)] = 0,  # beyond: an overflow (500) in the driver
) -> DossierList:
    """Province-api.md §3, the listing next to it."""
    return service.list_dossiers(db, overdue=overdue, limit=limit, offset=offset)


@router.get(
    "/{ma_ho_so}",
    response_model=DossierDetail,
    responses=problem_responses(401, 403, 404),
    summary="A dossier's latest revision, delivery state, ministry status and history",
)
def read_dossier(
    ma_ho_so: str,
    _principal: Annotated[Principal, Depends(require_scope("dossiers:read"))],
    db: Annotated[Database, Depends(get_database)],
    settings: Annotated[Settings, Depends(get_settings)],
) -> DossierDetail:
    """Province-api.md §3, and the identity check of the latest revision."""
    return service.get_dossier(db, ma_ho_so, identity_configured=settings.identity_configured)
