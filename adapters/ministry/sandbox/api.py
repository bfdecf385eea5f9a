"""The contract's endpoints: OAuth token (§1), files (§4), dossiers (§5), change feed (§6), beneficiaries (§8),
back-payments (§9).

Handlers read raw bodies and validate them by hand: the sandbox must refuse what the contract does
not describe, in the contract's words (``maLoi``/``chiTiet``), which a lenient model would not.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import parse_qsl

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from adapters.ministry.sandbox.beneficiaries import validate_back_payment, validate_stop
from adapters.ministry.sandbox.errors import (
    FieldError,
    OAuthError,
    SandboxError,
    invalid,
    invalid_one,
    json_response,
    not_found,
    rate_limited,
)
from adapters.ministry.sandbox.idempotency import HEADER, fingerprint, parse_key
from adapters.ministry.sandbox.middleware import log_entry
from adapters.ministry.sandbox.ratelimit import RateLimiter
from adapters.ministry.sandbox.state import SandboxState
from adapters.ministry.sandbox.store import Queue
from adapters.ministry.sandbox.tokens import TokenRegistry
from adapters.ministry.sandbox.uploads import judge, read_upload
from adapters.ministry.sandbox.validation import parse_json_object, validate_dossier, validate_supplement

SCOPE = "tgxh.hoso"
MAX_CHANGES = 500
_FORM_TYPE = "application/x-www-form-urlencoded"
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}

router = APIRouter()


def sandbox(request: Request) -> SandboxState:
    """The sandbox state of the app serving ``request``."""
    state: SandboxState = request.app.state.sandbox
    return state


State = Annotated[SandboxState, Depends(sandbox)]


def bearer_client(request: Request, tokens: TokenRegistry, limiter: RateLimiter) -> str:
    """The client whose valid bearer token the request carries (401 otherwise), within its rate limit (429)."""
    scheme, _, token = (request.headers.get("authorization") or "").partition(" ")
    client_id = tokens.client_of(token.strip()) if scheme.lower() == "bearer" and token.strip() else None
    if client_id is None:
        raise OAuthError(401, "invalid_token")
    entry = log_entry(request.scope)
    if entry is not None:
        entry.client_id = client_id
    retry_after = limiter.acquire(client_id)
    if entry is not None:
        entry.rate_limit = "admitted" if retry_after is None else "refused"
    if retry_after is not None:
        raise rate_limited(retry_after)
    return client_id


def authorized_client(request: Request, state: State) -> str:
    """The client whose valid bearer token the request carries (401 otherwise), within its rate limit."""
    return bearer_client(request, state.tokens, state.limiter)


Client = Annotated[str, Depends(authorized_client)]


def query_params(request: Request, allowed: tuple[str, ...] = ()) -> dict[str, str]:
    """The query parameters, each at most once and all of them ``allowed``; 400 otherwise."""
    errors: list[FieldError] = []
    params: dict[str, str] = {}
    for name, value in request.query_params.multi_items():
        if name not in allowed:
            errors.append(FieldError(name, "Tham số không có trong đặc tả"))
        elif name in params:
            errors.append(FieldError(name, "Tham số bị gửi nhiều lần"))
        params[name] = value
    if errors:
        raise invalid(errors)
    return params


async def read_body(request: Request, limit: int) -> bytes:
    """The raw body, at most ``limit`` bytes (400 past it: only files have a 413 in the contract)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise invalid([FieldError("$", f"Nội dung vượt quá {limit} byte")])
        chunks.append(chunk)
    return b"".join(chunks)


# ---- §1 token ---------------------------------------------------------------------------------


@router.post("/oauth2/token")
async def token(request: Request, state: State) -> Response:
    """Client-credentials grant: form fields only, as the contract shows (no HTTP Basic)."""
    return await issue_token(request, state.tokens, SCOPE)


async def issue_token(request: Request, tokens: TokenRegistry, scope: str) -> Response:
    """The client-credentials grant of ``POST /oauth2/token`` for ``scope`` (form fields only, no HTTP Basic)."""
    media = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    if media != _FORM_TYPE or request.query_params:
        raise OAuthError(400, "invalid_request")
    try:
        raw = await read_body(request, 16 * 1024)
    except SandboxError:
        raise OAuthError(400, "invalid_request") from None
    try:
        pairs = parse_qsl(raw.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(raw))
    except (UnicodeDecodeError, ValueError):
        raise OAuthError(400, "invalid_request") from None
    form: dict[str, str] = {}
    for name, value in pairs:
        if name in form:  # RFC 6749 §3.2: parameters must not repeat
            raise OAuthError(400, "invalid_request")
        form[name] = value
    # Unknown parameters are ignored, as RFC 6749 §3.2 requires of the server.
    client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
    if form.get("grant_type") is None:
        raise OAuthError(400, "invalid_request")
    if (entry := log_entry(request.scope)) is not None:
        entry.client_id = client_id
    if not tokens.check_client(client_id, secret):
        raise OAuthError(401, "invalid_client")
    if form["grant_type"] != "client_credentials":
        raise OAuthError(400, "unsupported_grant_type")
    if form.get("scope") != scope:
        raise OAuthError(400, "invalid_scope")
    issued = tokens.issue(client_id)
    body = {"access_token": issued.value, "token_type": "Bearer", "expires_in": tokens.lifetime_seconds}
    return json_response(200, body, _NO_STORE)


# ---- §4 files ---------------------------------------------------------------------------------


@router.post("/api/v1/tep-tin")
async def upload_file(request: Request, state: State, client_id: Client) -> Response:
    """Store one dossier component's file; the type is judged by the bytes."""
    query_params(request)
    key = parse_key(request.headers.get(HEADER))
    limit = state.config.max_file_bytes
    upload = await read_upload(request, max_file_bytes=limit)

    async def compute() -> Response:
        media_type, digest = judge(upload, max_file_bytes=limit)
        stored = state.store.add_file(
            owner=client_id,
            component_code=upload.component_code,
            name=upload.filename,
            content_type=media_type,
            data=upload.data,
            sha256=digest,
        )
        return json_response(201, stored.answer())

    print_ = fingerprint("POST", request.url.path, *upload.identity())
    return await state.idempotency.run(client_id, key, print_, compute)


# ---- §5 dossiers ------------------------------------------------------------------------------


async def _create(request: Request, state: SandboxState, client_id: str, queue: Queue) -> Response:
    query_params(request)
    key = parse_key(request.headers.get(HEADER))
    raw = await read_body(request, state.config.max_json_bytes)

    async def compute() -> Response:
        body = parse_json_object(raw, request.headers.get("content-type"))
        validate_dossier(body, optional=state.config.optional_fields)
        dossier = state.store.create_dossier(owner=client_id, body=body, queue=queue)
        return json_response(201, dossier.created_answer())

    print_ = fingerprint("POST", request.url.path, raw)
    return await state.idempotency.run(client_id, key, print_, compute)


@router.post("/api/v1/ho-so/cho-tiep-nhan")
async def create_pending(request: Request, state: State, client_id: Client) -> Response:
    """Create a dossier in the pending-reception queue, where an officer receives it."""
    return await _create(request, state, client_id, "cho-tiep-nhan")


@router.post("/api/v1/ho-so/tra-cuu")
async def create_lookup(request: Request, state: State, client_id: Client) -> Response:
    """The legacy lookup import: the dossier is only searchable; no officer can receive it."""
    return await _create(request, state, client_id, "tra-cuu")


# Declared before /api/v1/ho-so/{dossier_id}, which would otherwise take "thay-doi" for an id.
@router.get("/api/v1/ho-so/thay-doi")
async def changes(request: Request, state: State, client_id: Client) -> Response:
    """One page of the client's change feed after the opaque cursor ``sau``."""
    params = query_params(request, ("sau", "gioiHan"))
    errors: list[FieldError] = []
    limit_text = params.get("gioiHan")
    limit = int(limit_text) if limit_text is not None and limit_text.isascii() and limit_text.isdigit() else 0
    if limit_text is None:
        errors.append(FieldError("gioiHan", "Tham số bắt buộc"))
    elif not 1 <= limit <= MAX_CHANGES:
        errors.append(FieldError("gioiHan", f"Phải là số nguyên từ 1 đến {MAX_CHANGES}"))
    after = 0
    if "sau" in params:
        decoded = state.store.decode_cursor(params["sau"])
        if decoded is None:
            errors.append(FieldError("sau", "Con trỏ không hợp lệ"))
        else:
            after = decoded
    if errors:
        raise invalid(errors)
    page = state.store.changes(owner=client_id, after=after, limit=limit, lag_one=state.faults.redeliver())
    return json_response(200, {"thayDoi": page.entries, "conTro": page.cursor, "conTiep": page.more})


@router.get("/api/v1/ho-so/{dossier_id}")
async def get_dossier(dossier_id: str, request: Request, state: State, client_id: Client) -> Response:
    """The dossier as stored, with its status and history (only the client's own dossiers)."""
    query_params(request)
    dossier = state.store.dossier(dossier_id, owner=client_id)
    if dossier is None:
        raise not_found("id")
    return json_response(200, dossier.view())


@router.post("/api/v1/ho-so/{dossier_id}/bo-sung")
async def supplement(dossier_id: str, request: Request, state: State, client_id: Client) -> Response:
    """Add components to a dossier in YEU_CAU_BO_SUNG; it moves back to DA_TIEP_NHAN."""
    query_params(request)
    key = parse_key(request.headers.get(HEADER))
    raw = await read_body(request, state.config.max_json_bytes)

    async def compute() -> Response:
        if state.store.dossier(dossier_id, owner=client_id) is None:
            raise not_found("id")
        body = parse_json_object(raw, request.headers.get("content-type"))
        validate_supplement(body, optional=state.config.optional_fields)
        dossier = state.store.supplement(
            owner=client_id, dossier_id=dossier_id, components=body["thanhPhanHoSo"], note=body.get("ghiChu")
        )
        return json_response(200, dossier.view())

    print_ = fingerprint("POST", request.url.path, raw)
    return await state.idempotency.run(client_id, key, print_, compute)



# ---- §8 beneficiaries -------------------------------------------------------------------------


@router.get("/api/v1/doi-tuong")
async def find_beneficiaries(request: Request, state: State, client_id: Client) -> Response:
    """The people the ministry pays under ``soDinhDanh`` (12 ASCII digits); an empty list for anyone else."""
    params = query_params(request, ("soDinhDanh",))
    personal_id = params.get("soDinhDanh")
    if personal_id is None:
        raise invalid_one("soDinhDanh", "Tham số bắt buộc")
    if not (len(personal_id) == 12 and personal_id.isascii() and personal_id.isdigit()):
        raise invalid_one("soDinhDanh", "Số định danh gồm đúng 12 chữ số")
    found = [b.answer() for b in state.beneficiaries.find(personal_id)]
    return json_response(200, {"ketQua": found})


@router.post("/api/v1/doi-tuong/{beneficiary_id}/thoi-huong")
async def stop_allowance(beneficiary_id: str, request: Request, state: State, client_id: Client) -> Response:
    """Stop the allowance: 404 for an unknown id, 400 for a body §8 does not describe, 409 when stopped from
    another month, 422 SAI_SO_TIEN when ``truyThu`` disagrees with the record's payments; else 200."""
    query_params(request)
    key = parse_key(request.headers.get(HEADER))
    raw = await read_body(request, state.config.max_json_bytes)

    async def compute() -> Response:
        if state.beneficiaries.get(beneficiary_id) is None:
            raise not_found("id")
        body = parse_json_object(raw, request.headers.get("content-type"))
        validate_stop(body, today=state.clock.now().date())
        answer = state.beneficiaries.stop(beneficiary_id, body, client_id=client_id, now=state.clock.iso_now())
        return json_response(200, answer)

    print_ = fingerprint("POST", request.url.path, raw)
    return await state.idempotency.run(client_id, key, print_, compute)


# ---- §9 back-payments -------------------------------------------------------------------------


@router.post("/api/v1/chi-tra/truy-linh")
async def back_payment(request: Request, state: State, client_id: Client) -> Response:
    """Months owed to a new beneficiary that no payment list carried: 400 for a body §9 does not describe, 404 for
    an unknown ``doiTuongId``, 409 when a month was back-paid already, 422 SAI_SO_TIEN when a month is not owed
    back or its amount disagrees with the record; else 201 ``{"id": "TL-…", "thangChiTra"}``."""
    query_params(request)
    key = parse_key(request.headers.get(HEADER))
    raw = await read_body(request, state.config.max_json_bytes)

    async def compute() -> Response:
        body = parse_json_object(raw, request.headers.get("content-type"))
        today = state.clock.now().date()
        validate_back_payment(body, today=today)
        answer = state.beneficiaries.back_pay(body, client_id=client_id, now=state.clock.iso_now(), today=today)
        return json_response(201, answer)

    print_ = fingerprint("POST", request.url.path, raw)
    return await state.idempotency.run(client_id, key, print_, compute)
