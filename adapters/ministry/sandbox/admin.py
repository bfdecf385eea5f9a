"""The sandbox's own endpoints under ``/_sandbox``: faults, tokens, reset, request log, the queues,
the officer's actions, and the people the ministry pays (§8).
Not part of the contract; no authentication (bind to loopback).
"""

from __future__ import annotations

import json
from typing import Annotated, Any
from urllib.parse import parse_qsl, quote

from fastapi import APIRouter, Depends, Request
from pydantic import ValidationError
from starlette.responses import RedirectResponse, Response

from adapters.ministry.sandbox import codes
from adapters.ministry.sandbox.api import State
from adapters.ministry.sandbox.beneficiaries import Beneficiary, approved_record, parse_beneficiary
from adapters.ministry.sandbox.config import FaultSettings
from adapters.ministry.sandbox.errors import FieldError, SandboxError, invalid, json_response, not_found
from adapters.ministry.sandbox.officer import FIRST_LIST, action_extras
from adapters.ministry.sandbox.state import SandboxCore, SandboxState
from adapters.ministry.sandbox.store import Dossier

PREFIX = "/_sandbox"

router = APIRouter(prefix=PREFIX)
core_router = APIRouter()
"""The platform's routes any sandbox built on these pieces has under ``/_sandbox``: health, faults, forced
token expiry, reset, request log (the population sandbox includes them too)."""


def core_state(request: Request) -> SandboxCore:
    """The state of the sandbox serving ``request``, as far as the platform routes need it."""
    state: SandboxCore = request.app.state.sandbox
    return state


Core = Annotated[SandboxCore, Depends(core_state)]


def expanded(state: SandboxState, dossier: Dossier) -> dict[str, Any]:
    """A dossier's view with each component's files described (name, type, size, digest)."""
    view = dossier.view()
    files = state.store.files_of(dossier)
    for comp in view["thanhPhanHoSo"]:
        comp["tepTin"] = [files[i].summary() for i in comp["tepTinIds"] if i in files]
    view["queue"] = dossier.queue
    view["clientId"] = dossier.owner
    return view


async def _json_object(request: Request) -> dict[str, Any]:
    try:
        value = json.loads(await request.body())
    except ValueError:
        raise invalid([FieldError("$", "Nội dung không phải JSON hợp lệ")]) from None
    if not isinstance(value, dict):
        raise invalid([FieldError("$", "Phải là đối tượng JSON")])
    return value


def _settings_errors(exc: ValidationError) -> SandboxError:
    return invalid(
        [FieldError(".".join(str(p) for p in e["loc"]) or "$", e["msg"]) for e in exc.errors()]
    )


@core_router.get("/health")
async def health() -> Response:
    """Liveness, for scripts that wait for the sandbox to start."""
    return json_response(200, {"status": "ok"})


@core_router.get("/faults")
async def get_faults(state: Core) -> Response:
    """The fault settings in force (``fail_next`` and ``sequence`` as consumed so far)."""
    return json_response(200, state.faults.settings.model_dump())


@core_router.put("/faults")
async def put_faults(request: Request, state: Core) -> Response:
    """Replace the fault settings (fields left out take their defaults: no fault)."""
    try:
        settings = FaultSettings.model_validate(await _json_object(request))
    except ValidationError as exc:
        raise _settings_errors(exc) from None
    state.faults.replace(settings)
    return json_response(200, settings.model_dump())


@core_router.patch("/faults")
async def patch_faults(request: Request, state: Core) -> Response:
    """Change only the given fault settings."""
    try:
        settings = state.faults.update(await _json_object(request))
    except ValidationError as exc:
        raise _settings_errors(exc) from None
    return json_response(200, settings.model_dump())


@core_router.post("/expire-tokens")
async def expire_tokens(state: Core) -> Response:
    """Forced expiry: every token issued so far is refused from now on."""
    return json_response(200, {"expired": state.tokens.expire_all()})


@core_router.post("/reset")
async def reset(state: Core) -> Response:
    """Back to the start: no record of the sandbox's own (dossiers, files… or people as seeded at start),
    token, stored answer or logged request; the start-up faults."""
    state.reset()
    return json_response(200, {"reset": True})


@core_router.get("/requests")
async def requests_log(state: Core, path: str | None = None, method: str | None = None) -> Response:
    """The requests received on the contract's paths, oldest first (``path`` filters by prefix)."""
    entries = [e.as_dict() for e in state.log.entries(path_prefix=path, method=method)]
    return json_response(200, {"requests": entries, "count": len(entries)})


router.include_router(core_router)


@router.get("/cho-tiep-nhan")
async def pending_queue(state: State) -> Response:
    """The pending-reception queue: dossiers waiting for the officer, with their files."""
    found = [expanded(state, d) for d in state.store.dossiers(queue="cho-tiep-nhan", statuses=[codes.CHO_TIEP_NHAN])]
    return json_response(200, {"hoSo": found, "count": len(found)})


@router.get("/tra-cuu")
async def lookup_list(state: State) -> Response:
    """The legacy lookup list: dossiers sent to ``tra-cuu`` (no officer can receive them)."""
    found = [expanded(state, d) for d in state.store.dossiers(queue="tra-cuu")]
    return json_response(200, {"hoSo": found, "count": len(found)})


@router.get("/ho-so")
async def all_dossiers(state: State) -> Response:
    """Every dossier created through ``cho-tiep-nhan``, whatever its status."""
    found = [expanded(state, d) for d in state.store.dossiers(queue="cho-tiep-nhan")]
    return json_response(200, {"hoSo": found, "count": len(found)})


@router.get("/ho-so/{dossier_id}")
async def one_dossier(dossier_id: str, state: State) -> Response:
    """One dossier of any client, with its files."""
    dossier = state.store.dossier(dossier_id)
    if dossier is None:
        raise not_found("id")
    return json_response(200, expanded(state, dossier))


@router.post("/ho-so/{dossier_id}/hanh-dong")
async def officer_action(dossier_id: str, request: Request, state: State) -> Response:
    """The officer moves the dossier along (JSON, or the HTML page's form, which is redirected back).

    An approval (DA_PHE_DUYET) with ``thangChiTraDauTien`` besides ``quyetDinh`` (whose ``thangBatDauHuong`` is the
    start month) also makes the §8 record of the dossier's ``doiTuong`` and puts ``doiTuongId`` and
    ``thangChiTraDauTien`` in the change, next to ``quyetDinh``; without it, the approval is as before."""
    media = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    from_page = media == "application/x-www-form-urlencoded"
    action = _form_action(await request.body()) if from_page else await _json_object(request)
    status, extras = action_extras(action, state.clock)
    first_list = extras.pop(FIRST_LIST, None)

    def pay(dossier: Dossier) -> dict[str, Any]:
        """An approval with its first payment list: the §8 record made (or updated), its id in the change."""
        record = approved_record(dossier.body.get("doiTuong"), dossier.id, extras["quyetDinh"], first_list)
        return {"doiTuongId": state.beneficiaries.approve(record).id, FIRST_LIST: first_list}

    dossier = state.store.officer_action(dossier_id, status, extras, pay if first_list is not None else None)
    if from_page:
        return RedirectResponse("/", status_code=303)
    return json_response(200, expanded(state, dossier))


@router.post("/cho-tiep-nhan/hanh-dong")
async def officer_action_all(request: Request, state: State, limit: int | None = None) -> Response:
    """The same officer action (JSON, as for one dossier) on every dossier in pending reception, at most
    ``limit``: for load runs that need 100,000 status changes in the feed. Answers how many moved."""
    status, extras = action_extras(await _json_object(request), state.clock)
    moved = state.store.officer_action_all(status, extras, limit=limit)
    return json_response(200, {"trangThai": status, "soHoSo": moved})


SEED_MAX = 1_000_000


@router.post("/seed")
async def seed(request: Request, state: State) -> Response:
    """Put ``soHoSo`` dossiers straight into pending reception for ``clientId`` (default: the first client),
    coded ``<tienTo>-000001``…, without files or validation: the feed then holds their CHO_TIEP_NHAN changes.
    Answers their ids and codes and ``conTro``, the feed cursor after them (benchmarks start reading there)."""
    body = await _json_object(request)
    count, client_id, prefix = body.get("soHoSo"), body.get("clientId"), body.get("tienTo", "SEED")
    errors: list[FieldError] = []
    if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= SEED_MAX:
        errors.append(FieldError("soHoSo", f"Phải là số nguyên từ 1 đến {SEED_MAX}"))
        count = 0
    if client_id is None:
        client_id = next(iter(state.config.clients))
    elif client_id not in state.config.clients:
        errors.append(FieldError("clientId", "Không có client này"))
    if not isinstance(prefix, str) or not 1 <= len(prefix) <= 40:
        errors.append(FieldError("tienTo", "Phải là chuỗi 1–40 ký tự"))
    if errors:
        raise invalid(errors)
    created, cursor = state.store.seed_dossiers(
        owner=client_id, codes_=[f"{prefix}-{n:06d}" for n in range(1, count + 1)],
        body={"maThuTuc": "1.001776", "kenhNop": "TRUC_TUYEN", "ghiChu": "seeded"})
    return json_response(200, {"soHoSo": len(created), "conTro": cursor, "hoSo": [
        {"id": d.id, "maHoSoTinh": d.code, "ngayTao": d.created_at} for d in created]})


@router.get("/summary")
async def summary(state: State) -> Response:
    """Counts only: dossiers per queue and status, files kept, changes in the feed."""
    return json_response(200, state.store.summary())


def _form_action(raw: bytes) -> dict[str, Any]:
    """The HTML form's flat fields as a JSON action (blank fields are left out: defaults apply)."""
    form = {k: v for k, v in parse_qsl(raw.decode("utf-8", "replace")) if v.strip()}
    action: dict[str, Any] = {k: form[k] for k in ("trangThai", "lyDo", "canBo", FIRST_LIST) if k in form}
    decision: dict[str, Any] = {k: form[k] for k in ("so", "ngay", "thangBatDauHuong") if k in form}
    if "mucHuongThang" in form:
        amount = form["mucHuongThang"].replace(".", "").replace(",", "").strip()
        decision["mucHuongThang"] = int(amount) if amount.isdigit() else form["mucHuongThang"]
    if decision:
        action["quyetDinh"] = decision
    return action


@router.get("/tep-tin")
async def files(state: State) -> Response:
    """Every stored file (metadata)."""
    found = [f.summary() for f in state.store.files()]
    return json_response(200, {"tepTin": found, "count": len(found)})


@router.get("/tep-tin/{file_id}")
async def file_bytes(file_id: str, state: State) -> Response:
    """A stored file's bytes, to look at from the page (404 if unknown or not kept)."""
    stored = state.store.file(file_id)
    if stored is None or stored.data is None:
        raise not_found("id")
    disposition = f"inline; filename*=UTF-8''{quote(stored.name, safe='')}"
    return Response(stored.data, media_type=stored.content_type, headers={"Content-Disposition": disposition})



MAX_BENEFICIARIES_PER_POST = 10_000


def _beneficiaries_of(body: Any) -> list[Beneficiary]:
    """One record (an object), a list of them, or ``{"doiTuong": [...]}``; every fault of every item named."""
    if isinstance(body, dict) and set(body) == {"doiTuong"}:
        body = body["doiTuong"]
    if isinstance(body, dict):
        return [parse_beneficiary(body)]
    if not isinstance(body, list) or not 1 <= len(body) <= MAX_BENEFICIARIES_PER_POST:
        raise invalid([FieldError("$", f"Một đối tượng, hoặc danh sách 1–{MAX_BENEFICIARIES_PER_POST} đối tượng")])
    errors: list[FieldError] = []
    records: list[Beneficiary] = []
    for n, item in enumerate(body):
        try:
            records.append(parse_beneficiary(item, f"[{n}]"))
        except SandboxError as exc:
            errors += exc.chiTiet
    if errors:
        raise invalid(errors)
    return records


@router.get("/doi-tuong")
async def list_beneficiaries(state: State) -> Response:
    """Every record the sandbox pays, with ``thangThoiHuong`` once stopped (sandbox data, fictional: shown whole)."""
    found = [b.as_json() for b in state.beneficiaries.all()]
    return json_response(200, {"doiTuong": found, "count": len(found)})


@router.post("/doi-tuong")
async def add_beneficiaries(request: Request, state: State) -> Response:
    """Add (or, with the same ``id``, replace) records in §8's names: ``soDinhDanh``, ``hoTen``, ``ngaySinh``
    (full, ``YYYY-MM`` or ``YYYY``), ``gioiTinh``, ``nhomDoiTuong``, ``maXa``, ``trangThaiHuong``, ``mucHuongThang``,
    ``thangBatDauHuong``, ``daChiTraDenThang`` (null: never paid); optional ``id``/``hoSoId`` (fresh when absent),
    ``thangThoiHuong`` exactly when ``DA_THOI_HUONG``. Any fault: 400, nothing stored. ``POST /_sandbox/reset``
    brings the start-up seed back."""
    records = _beneficiaries_of(await _json_object_or_list(request))
    state.beneficiaries.put(records)
    return json_response(201, {"doiTuong": [b.as_json() for b in records], "count": len(records)})


@router.get("/thoi-huong")
async def list_stops(state: State) -> Response:
    """Every allowance stopped through ``thoi-huong``, oldest first: the body sent and the answer given."""
    found = [s.as_json() for s in state.beneficiaries.stops()]
    return json_response(200, {"thoiHuong": found, "count": len(found)})


@router.get("/truy-linh")
async def list_back_payments(state: State) -> Response:
    """Every back-payment recorded through ``truy-linh``, oldest first: the body sent and the answer given."""
    found = [b.as_json() for b in state.beneficiaries.back_payments()]
    return json_response(200, {"truyLinh": found, "count": len(found)})


async def _json_object_or_list(request: Request) -> Any:
    try:
        return json.loads(await request.body())
    except ValueError:
        raise invalid([FieldError("$", "Nội dung không phải JSON hợp lệ")]) from None
