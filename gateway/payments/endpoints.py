"""``GET /api/v1/admin/payment-adjustments`` (scope ``admin``): what the month's payment list reads."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from gateway.auth import Principal, require_scope
from gateway.db import Database
from gateway.deps import get_database
from gateway.payments import service
from gateway.payments.repository import AdjustmentKind
from gateway.payments.schemas import AdjustmentPage
from gateway.problems import Problem, problem_responses
from mappings.errors import FieldError

router = APIRouter(prefix="/api/v1/admin", tags=["admin", "payments"])
_MONTH = re.compile(r"[0-9]{4}-(0[1-9]|1[0-2])")


@router.get("/payment-adjustments", response_model=AdjustmentPage,
            responses={**problem_responses(401, 403, 422), 200: {"content": {"text/csv": {}}}},
            summary="Recoveries (truy_thu) and back-payments (truy_linh) computed and sent, by payment-list month")
def payment_adjustments(
    _principal: Annotated[Principal, Depends(require_scope("admin"))],
    db: Annotated[Database, Depends(get_database)],
    month: Annotated[str | None, Query(max_length=7, description="the payment list's month, YYYY-MM")] = None,
    kind: Annotated[AdjustmentKind | None, Query()] = None,
    format: Annotated[Literal["json", "csv"], Query()] = "json",
    limit: Annotated[int, Query(ge=1, le=10000)] = 1000,
    offset: Annotated[int, Query(ge=0, le=2**31)] = 0,
) -> AdjustmentPage | Response:
    """JSON by default; ``format=csv`` for the payment list."""
    if month is not None and not _MONTH.fullmatch(month):
        raise Problem(422, "validation_failed", "Tham số không hợp lệ.", errors=[
            FieldError("month", "invalid_month", "Tháng có dạng YYYY-MM.")])
    page = service.adjustments(db, month=month, kind=kind.value if kind else None, limit=limit, offset=offset)
    if format == "csv":
        return Response(service.adjustments_csv(page), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": 'attachment; filename="payment-adjustments.csv"'})
    return page
