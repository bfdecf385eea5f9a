"""The sandbox's own endpoints under ``/_sandbox``: the platform's (health, faults, expire-tokens,
reset, requests: the ministry sandbox's, same shapes) and the people it holds. Not part of the
contract; no authentication (bind to loopback).
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from adapters.ministry.sandbox.admin import PREFIX, core_router
from adapters.ministry.sandbox.errors import FieldError, SandboxError, invalid, json_response, not_found
from adapters.population.sandbox.api import State
from adapters.population.sandbox.people import Person, parse_person

MAX_PEOPLE_PER_POST = 10_000

router = APIRouter(prefix=PREFIX)
router.include_router(core_router)  # health, faults, expire-tokens, reset, requests


async def _json(request: Request) -> Any:
    try:
        return json.loads(await request.body())
    except ValueError:
        raise invalid([FieldError("$", "Nội dung không phải JSON hợp lệ")]) from None


def _people_of(body: Any) -> list[Person]:
    """One person (an object), a list of them, or ``{"people": [...]}``."""
    if isinstance(body, dict) and set(body) == {"people"}:
        body = body["people"]
    if isinstance(body, dict):
        return [parse_person(body)]
    if not isinstance(body, list) or not 1 <= len(body) <= MAX_PEOPLE_PER_POST:
        raise invalid([FieldError("$", f"Một người, hoặc danh sách 1–{MAX_PEOPLE_PER_POST} người")])
    errors: list[FieldError] = []
    people: list[Person] = []
    for n, item in enumerate(body):
        try:
            people.append(parse_person(item, f"[{n}]"))
        except SandboxError as exc:  # this item's faults, each named [n].field
            errors += exc.chiTiet
    if errors:
        raise invalid(errors)
    return people


@router.get("/people")
async def list_people(state: State) -> Response:
    """Everyone the sandbox holds, by soDinhDanh (sandbox data, fictional: shown whole)."""
    people = [p.as_json() for p in state.people.all()]
    return json_response(200, {"people": people, "count": len(people)})


@router.post("/people")
async def add_people(request: Request, state: State) -> Response:
    """Add or replace people: one object, a list, or ``{"people": [...]}`` in the contract's field names
    (``soDinhDanh``, ``hoTen``, ``ngaySinh`` full or ``YYYY-MM``/``YYYY``, ``gioiTinh``; optional ``daMat``,
    ``ngayMat``). Every fault is a 400 DU_LIEU_KHONG_HOP_LE; nothing is stored then."""
    people = _people_of(await _json(request))
    state.people.put(people)
    return json_response(201, {"people": [p.as_json() for p in people], "count": len(people)})


@router.get("/people/{personal_id}")
async def one_person(personal_id: str, state: State) -> Response:
    """One record (404 KHONG_TIM_THAY if none)."""
    person = state.people.get(personal_id)
    if person is None:
        raise not_found("soDinhDanh")
    return json_response(200, person.as_json())


@router.delete("/people/{personal_id}")
async def remove_person(personal_id: str, state: State) -> Response:
    """Forget one record (404 if none)."""
    if not state.people.remove(personal_id):
        raise not_found("soDinhDanh")
    return json_response(200, {"removed": 1})


@router.delete("/people")
async def remove_everyone(state: State) -> Response:
    """Forget everyone (``POST /_sandbox/reset`` brings the start-up seed back)."""
    return json_response(200, {"removed": state.people.clear()})
