"""``GET /api/v1/admin/payment-adjustments`` (scope ``admin`` or ``monitor``): what the month's payment list reads."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from gateway.admin.reports import commune_filter, csv_response
from gateway.auth import Principal, require_read
from gateway.db import Database
from gateway.deps import get_database
from gateway.payments import service
from gateway.payments.repository import AdjustmentKind
from gateway.payments.schemas import AdjustmentPage
from gateway.problems import Problem, problem_responses
from mappings.errors import FieldError
from mappings.money import month_or_none

router = APIRouter(prefix="/api/v1/admin", tags=["admin", "payments"])


def parse_filter(month: str | None, ma_xa: str | None) -> tuple[str | None, str | None]:
    """(month, commune as 5 digits); a 422 naming each bad one."""
    faults: list[FieldError] = []
    month = month.strip() if month and month.strip() else None
    if month is not None and month_or_none(month) is None:
        faults.append(FieldError("month", "invalid_month", "Tháng có dạng YYYY-MM."))
    commune = commune_filter(ma_xa, faults)
    if faults:
        raise Problem(422, "validation_failed", "Tham số không hợp lệ.", errors=faults)
    return month, commune


@router.get("/payment-adjustments", response_model=AdjustmentPage,
            responses={**problem_responses(401, 403, 422), 200: {"content": {"text/csv": {}}}},
            summary="Recoveries (truy_thu) and back-payments (truy_linh) computed and sent, by payment-list month")
def payment_adjustments(
    _principal: Annotated[Principal, Depends(require_read)],
    db: Annotated[Database, Depends(get_database)],
    month: Annotated[str | None, Query(max_length=7, description="the payment list's month, YYYY-MM")] = None,
    kind: Annotated[AdjustmentKind | None, Query()] = None,
    ma_xa: Annotated[str | None, Query(alias="maXa", max_length=8, description="the commune, code in force")] = None,
    format: Annotated[Literal["json", "csv"], Query()] = "json",
    limit: Annotated[int, Query(ge=1, le=10000)] = 1000,
    offset: Annotated[int, Query(ge=0, le=2**31)] = 0,
) -> AdjustmentPage | Response:
    """JSON by default; ``format=csv`` for the payment list."""
    month, commune = parse_filter(month, ma_xa)
    page = service.adjustments(db, month=month, kind=kind.value if kind else None, commune=commune, limit=limit,
                               offset=offset)
    if format == "csv":
        return csv_response(service.adjustments_csv(page), "payment-adjustments.csv")
    return page
