"""``/api/v1/death-notices`` (province-api.md §5): post a notice (both encodings), read its steps."""

from __future__ import annotations

import functools
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response

from gateway.auth import Principal, require_scope
from gateway.db import Database
from gateway.death_notices import service
from gateway.death_notices.schemas import NoticeDetail, NoticeReceipt
from gateway.deps import get_database
from gateway.dossiers.endpoints import SUBMIT_BODY, run_intake, writer
from gateway.problems import problem_responses

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
    answer = await run_intake(request, functools.partial(
        service.submit_notice, get_database(request), client_name=principal.name))
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
