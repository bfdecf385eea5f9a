"""The console's dossier pages: one dossier's timeline, the search box's answer, the overdue dossiers.

Thin handlers over :mod:`gateway.admin.journey`. Codes, states and field paths only, never dossier content.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from gateway.admin.console_render import page, root
from gateway.admin.console_session import User
from gateway.admin.journey import SEARCH_MAX, find_code, journey, overdue_list
from gateway.admin.reports import commune_filter
from gateway.db import Database
from gateway.deps import get_database
from mappings.errors import FieldError

router = APIRouter(prefix="/admin", include_in_schema=False)
Db = Annotated[Database, Depends(get_database)]
OVERDUE_PAGE = 200


@router.get("/search")
def search(request: Request, user: User, db: Db, q: Annotated[str, Query(max_length=256)] = "") -> Response:
    """The dossier whose MaHoSo or ministry id is ``q`` (its page), or a page saying none is."""
    code = find_code(db, q)
    if code is not None:
        return RedirectResponse(f"{root(request)}/dossiers/{quote(code, safe='')}", status_code=303)
    return page(request, "search.html", user=user, q=q.strip()[:SEARCH_MAX], status=404 if q.strip() else 200)


@router.get("/dossiers/{ma_ho_so}")
def dossier(request: Request, ma_ho_so: str, user: User, db: Db) -> HTMLResponse:
    """One dossier: states, deadline, its timeline, the actions that apply now."""
    found = journey(db, ma_ho_so) if len(ma_ho_so) <= SEARCH_MAX else None
    if found is None:
        return page(request, "error.html", user=user, status=404, title="Không tìm thấy hồ sơ",
                    message=f"Không có hồ sơ {ma_ho_so[:SEARCH_MAX]}.")
    # A read-only role (monitor) is not shown the actions; their routes refuse it anyway.
    return page(request, "dossier.html", user=user, d=found, can_act=user.can_act)


@router.get("/overdue")
def overdue(request: Request, user: User, db: Db,
            ma_xa: Annotated[str, Query(alias="maXa", max_length=16)] = "") -> HTMLResponse:
    """The overdue dossiers, most overdue first, with their commune; filtered by commune code."""
    faults: list[FieldError] = []
    commune = commune_filter(ma_xa, faults)
    found = overdue_list(db, commune=None if faults else commune, limit=OVERDUE_PAGE)
    return page(request, "overdue.html", user=user, found=found, commune=commune or "",
                error=faults[0].message if faults else None, status=400 if faults else 200)
