"""The sandbox's own endpoints under ``/_sandbox``: health, faults, reset, what was received,
and posting a sample dossier or death notice. Not part of the contract; no authentication (bind to loopback).
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, RedirectResponse, Response

from adapters.province.client import Encoding
from adapters.province.sandbox.config import CallbackFaults
from adapters.province.sandbox.posting import CHOICES, DEATH_NOTICE, ENCODINGS, PEOPLE, post_sample
from adapters.province.sandbox.problems import problem
from adapters.province.sandbox.state import State
from adapters.province.sandbox.validation import FieldError

router = APIRouter(prefix="/_sandbox")

_POST_FIELDS = ("procedure", "encoding", "MaHoSo", "person")
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


class _BadRequest(Exception):
    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("bad request")
        self.errors = errors

    def response(self) -> Response:
        return problem(400, "invalid_request", ", ".join(e.field for e in self.errors), errors=self.errors)


@router.get("/health")
async def health() -> JSONResponse:
    """200 while the sandbox runs (even when callbacks are faulted: this is the control plane)."""
    return JSONResponse({"status": "ok"})


@router.get("/faults")
async def get_faults(state: State) -> JSONResponse:
    """The fault settings in force (``fail_next`` as consumed so far)."""
    return JSONResponse(state.faults.settings.model_dump())


@router.put("/faults")
async def put_faults(request: Request, state: State) -> Response:
    """Replace the fault settings; fields left out take their defaults (no fault)."""
    try:
        settings = CallbackFaults.model_validate(await _json_object(request))
    except _BadRequest as exc:
        return exc.response()
    except ValidationError as exc:
        return _BadRequest(_pydantic_errors(exc)).response()
    return JSONResponse(state.faults.replace(settings).model_dump())


@router.patch("/faults")
async def patch_faults(request: Request, state: State) -> Response:
    """Change only the given fault settings."""
    try:
        settings = state.faults.update(await _json_object(request))
    except _BadRequest as exc:
        return exc.response()
    except ValidationError as exc:
        return _BadRequest(_pydantic_errors(exc)).response()
    return JSONResponse(settings.model_dump())


@router.post("/reset")
async def reset(state: State) -> JSONResponse:
    """Forget every callback, attempt and posted dossier; back to the start-up faults."""
    state.reset()
    return JSONResponse({"reset": True})


@router.get("/callbacks")
async def list_callbacks(state: State, MaHoSo: str | None = None) -> JSONResponse:
    """Callbacks recorded (each EventId once), in arrival order, with the totals."""
    found = [c.as_dict() for c in state.store.callbacks(MaHoSo)]
    return JSONResponse({"callbacks": found, "count": len(found), "totals": state.store.counts()})


@router.get("/summary")
async def summary(state: State) -> JSONResponse:
    """Totals only: callbacks per ``SuKien``, distinct dossiers, duplicates, refusals (for load runs)."""
    return JSONResponse(state.store.summary())


@router.get("/attempts")
async def list_attempts(state: State, MaHoSo: str | None = None) -> JSONResponse:
    """Every request to ``POST /callbacks`` and how it was answered (refusals and faults included)."""
    found = [a.as_dict() for a in state.store.attempts(MaHoSo)]
    return JSONResponse({"attempts": found, "count": len(found)})


@router.get("/posted")
async def list_posted(state: State, MaHoSo: str | None = None) -> JSONResponse:
    """Sample dossiers posted to the gateway, with its answers."""
    found = [p.as_dict() for p in state.store.posted(MaHoSo)]
    return JSONResponse({"posted": found, "count": len(found)})


@router.post("/post")
async def post(request: Request, state: State) -> Response:
    """Post a valid sample dossier to the gateway; JSON ``{"procedure", "encoding", "MaHoSo", "person"}``, all
    optional. ``procedure`` ``death_notice`` posts a death notice (province-api.md §5) of ``person`` (one of
    the samples' deceased, only with that procedure) to ``/api/v1/death-notices``; its ``MaHoSo`` is the
    notice's ``MaHoSoLienThong``.

    Answers 200 with the gateway's status and body (whatever they are), 502 if the gateway did not
    answer. From the HTML form, redirects back to the page instead.
    """
    from_form = request.headers.get("content-type", "").split(";")[0].strip().lower() in _FORM_TYPES
    try:
        if from_form:
            form = await request.form()
            values: dict[str, Any] = {k: v for k, v in form.items() if isinstance(v, str) and v.strip()}
        else:
            values = await _json_object(request, allow_empty=True)
        procedure, encoding, code, person = _post_options(values)
    except _BadRequest as exc:
        return exc.response()
    posted = await run_in_threadpool(post_sample, state, procedure=procedure, encoding=encoding, ma_ho_so=code,
                                     person=person)
    if from_form:
        return RedirectResponse("/", status_code=303)
    if posted.status is None:
        return problem(502, "gateway_unreachable", posted.error, extra={"posted": posted.as_dict()})
    return JSONResponse(posted.as_dict())


def _post_options(values: dict[str, Any]) -> tuple[str, Encoding, str | None, str | None]:
    errors = [FieldError(k, "unknown_field", f"expected one of {', '.join(_POST_FIELDS)}")
              for k in values if k not in _POST_FIELDS]
    procedure = values.get("procedure", "allowance")
    if procedure not in CHOICES:
        errors.append(FieldError("procedure", "invalid_value", ", ".join(CHOICES)))
    encoding = values.get("encoding", "multipart")
    if encoding not in ENCODINGS:
        errors.append(FieldError("encoding", "invalid_value", "multipart or json"))
    code = values.get("MaHoSo")
    if code is not None and not (isinstance(code, str) and code.strip() and len(code) <= 64 and code.isprintable()):
        errors.append(FieldError("MaHoSo", "invalid_value", "a non-empty string of at most 64 characters"))
    person = values.get("person")
    if person is not None and procedure != DEATH_NOTICE:
        errors.append(FieldError("person", "invalid_value", f"only with procedure {DEATH_NOTICE}"))
    elif person is not None and person not in PEOPLE:
        errors.append(FieldError("person", "invalid_value", ", ".join(PEOPLE)))
    if errors:
        raise _BadRequest(errors)
    chosen: Encoding = "json" if encoding == "json" else "multipart"
    return procedure, chosen, code, person


async def _json_object(request: Request, *, allow_empty: bool = False) -> dict[str, Any]:
    raw = await request.body()
    if allow_empty and not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        raise _BadRequest([FieldError("$", "invalid_json", "the body is not JSON")]) from None
    if not isinstance(value, dict):
        raise _BadRequest([FieldError("$", "invalid_type", "a JSON object is expected")])
    return value


def _pydantic_errors(exc: ValidationError) -> list[FieldError]:
    return [FieldError(".".join(str(p) for p in e["loc"]) or "$", e["type"], e["msg"]) for e in exc.errors()]
