"""``/api/v1/death-notices`` (province-api.md §5): post a notice (both encodings), read its steps."""

from __future__ import annotations

import functools
from typing import Annotated

import anyio
from fastapi import APIRouter, Depends, Path, Request, Response

from gateway.auth import Principal, require_scope
from gateway.db import Database
from gateway.death_notices import service
from gateway.death_notices.schemas import NoticeDetail, NoticeReceipt
from gateway.deps import get_blob_store, get_database, get_settings, get_worker
from gateway.dossiers.endpoints import SUBMIT_BODY, writer
from gateway.dossiers.receive import receive_submission
from gateway.metrics import INTAKE_REQUESTS
from gateway.problems import Problem, problem_responses

router = APIRouter(prefix="/api/v1/death-notices", tags=["death notices"])


@router.post(
    "",
    status_code=202,
    response_model=NoticeReceipt,
    responses={200: {"model": NoticeReceipt, "description": "the same content again"},
               **problem_responses(400, 401, 403, 408, 409, 413, 415, 422, 503, 507)},
    openapi_extra=SUBMIT_BODY,
    summary="A death registered through the linked procedure: stop the allowance, open funeral support",
)
async def submit_notice(request: Request, response: Response,
                        principal: Annotated[Principal, Depends(writer)]) -> NoticeReceipt:
    """Province-api.md §5: the same two encodings and limits as a dossier."""
    settings, db, blobs = get_settings(request), get_database(request), get_blob_store(request)
    try:
        submission = await receive_submission(request, settings, blobs)
        try:
            answer = await anyio.to_thread.run_sync(
                functools.partial(service.submit_notice, db, submission, principal.name))
        finally:
            submission.discard()
    except Problem as problem:
        INTAKE_REQUESTS.labels(result=str(problem.status)).inc()
        raise
    INTAKE_REQUESTS.labels(result=str(answer.status_code)).inc()
    if answer.status_code == 202 and (worker := get_worker(request)) is not None:
        worker.wake()
    response.status_code = answer.status_code
    response.headers["Location"] = answer.receipt.links.self
    return answer.receipt


@router.get("/{ma_ho_so_lien_thong}", response_model=NoticeDetail, responses=problem_responses(401, 403, 404, 422),
            summary="A death notice and each step: lookup, stop (months, amount recovered), funeral dossier")
def read_notice(
    ma_ho_so_lien_thong: Annotated[str, Path(max_length=64)],
    _principal: Annotated[Principal, Depends(require_scope("dossiers:read"))],
    db: Annotated[Database, Depends(get_database)],
) -> NoticeDetail:
    """Province-api.md §5."""
    return service.get_notice(db, ma_ho_so_lien_thong)
