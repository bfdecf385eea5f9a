"""Admin routes of the identity check (reads: scope ``admin`` or ``monitor``; actions: ``admin``): the
disagreement report, releasing a held dossier.

Thin routes: parse, call one service function, shape the answer (gateway-operations.md, "Admin routes").
"""

from __future__ import annotations

import csv
import functools
import io
from typing import Annotated, Literal

import anyio
from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import Response

from gateway.admin.filters import INVALID_TIME, TIME_HINT
from gateway.admin.reports import commune_filter, csv_response
from gateway.admin.timespec import parse_moment
from gateway.auth import Principal, require_admin, require_read
from gateway.db import Database
from gateway.deps import LocalWorker, get_database
from gateway.identity import service
from gateway.identity.schemas import Mismatch, MismatchPage, ReleaseRequest, ReleaseResult
from gateway.problems import Problem, problem_responses
from mappings.errors import FieldError

router = APIRouter(prefix="/api/v1/admin", tags=["admin", "identity"])

Admin = Annotated[Principal, Depends(require_admin)]
Reader = Annotated[Principal, Depends(require_read)]  # admin or monitor
Db = Annotated[Database, Depends(get_database)]

CSV_COLUMNS = ("MaHoSo", "revision", "maXa", "outcome", "fields", "deceased", "action", "checkedAt", "requestId")


def mismatches_csv(page: MismatchPage) -> str:
    """The report as CSV (one line per revision; ``fields`` joined by ``;``), for the communes' spreadsheets."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for m in page.items:
        writer.writerow([m.MaHoSo, m.revision, m.maXa, m.outcome, ";".join(m.fields), str(m.deceased).lower(),
                         m.action, m.checkedAt.isoformat(), m.requestId or ""])
    return out.getvalue()


def parse_report_filter(since: str | None, ma_xa: str | None) -> tuple[object, str | None]:
    """(since as an aware datetime or None, maXa as 5 digits or None); a 422 naming each bad one."""
    faults: list[FieldError] = []
    moment = None
    if since and since.strip():
        try:
            moment = parse_moment(since)
        except ValueError:
            faults.append(FieldError("since", INVALID_TIME, TIME_HINT))
    commune = commune_filter(ma_xa, faults)
    if faults:
        raise Problem(422, "validation_failed", "Tham số không hợp lệ.", errors=faults)
    return moment, commune


@router.get("/identity-mismatches", response_model=MismatchPage,
            responses={**problem_responses(401, 403, 422), 200: {"content": {"text/csv": {}}}},
            summary="Revisions the population database disagreed with: which fields, never their values")
def identity_mismatches(
    _principal: Reader,
    db: Db,
    since: Annotated[str | None, Query(description="checked at or after: ISO date/time or a duration ago (7d)")] = None,
    ma_xa: Annotated[str | None, Query(alias="maXa", max_length=8, description="the commune, code in force")] = None,
    held: Annotated[bool, Query(description="only those held now")] = False,
    format: Annotated[Literal["json", "csv"], Query()] = "json",
    limit: Annotated[int, Query(ge=1, le=10000)] = 1000,
    offset: Annotated[int, Query(ge=0, le=2**31)] = 0,  # beyond: an overflow (500) in the driver
) -> MismatchPage | Response:
    """JSON by default; ``format=csv`` for the communes' data-cleaning work."""
    moment, commune = parse_report_filter(since, ma_xa)
    page = service.mismatches(db, since=moment, commune=commune, held_only=held,  # type: ignore[arg-type]
                              limit=limit, offset=offset)
    if format == "csv":
        return csv_response(mismatches_csv(page), "identity-mismatches.csv")
    return page


@router.post("/dossiers/{ma_ho_so}/release", response_model=ReleaseResult,
             responses=problem_responses(400, 401, 403, 404, 409, 422),
             summary="Deliver a held dossier anyway (audited; the reason goes to the ministry in ghiChu)")
async def release_dossier(
    ma_ho_so: Annotated[str, Path(max_length=64)], body: ReleaseRequest, principal: Admin, db: Db,
    worker: LocalWorker,
) -> ReleaseResult:
    """The held revision is queued for delivery at once."""
    result = await anyio.to_thread.run_sync(functools.partial(
        service.release, db, ma_ho_so, actor=f"api:{principal.name}", reason=body.reason))
    if worker is not None:
        worker.wake()
    return result


__all__ = ["CSV_COLUMNS", "Mismatch", "mismatches_csv", "parse_report_filter", "router"]
