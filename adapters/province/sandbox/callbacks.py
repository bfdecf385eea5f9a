"""``POST /callbacks``: the province's receiving end of province-api.md §4.

Order of checks: injected faults, media type and size, signature (401), then the body and the
``X-Gateway-Event-Id`` header together (400, every fault at once), then the EventId dedup. A
duplicate is answered 200 like the first delivery (the gateway must stop retrying) but recorded
once.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse, Response

from adapters.common.signing import SIGNATURE_HEADER, SignatureError, parse, verify
from adapters.province.sandbox.faults import InjectedFailure
from adapters.province.sandbox.problems import problem
from adapters.province.sandbox.state import SandboxState, State
from adapters.province.sandbox.validation import FieldError, validate_callback, warnings_for

EVENT_ID_HEADER = "X-Gateway-Event-Id"

router = APIRouter()
log = logging.getLogger("adapters.province.sandbox")

_SIGNATURE_DETAIL = {
    "missing": f"Thiếu tiêu đề {SIGNATURE_HEADER}.",
    "malformed": f"Tiêu đề {SIGNATURE_HEADER} không đúng dạng t=<giây>,v1=<hex>.",
    "stale": "Chữ ký quá 5 phút (hoặc thời điểm ký ở tương lai).",
    "mismatch": "Chữ ký không khớp.",
}


def injected(failure: InjectedFailure) -> Response:
    """The answer of an injected failure (``down`` or ``fail_next``)."""
    headers = {"Retry-After": str(failure.retry_after)} if failure.retry_after is not None else None
    return problem(failure.status, f"injected_{failure.reason}", "Lỗi giả lập của sandbox.", headers=headers)


@router.post("/callbacks")
async def receive_callback(request: Request, state: State) -> Response:
    """Check, deduplicate and record one status callback."""
    header_id = request.headers.get(EVENT_ID_HEADER)
    failure = state.faults.take()
    if failure is not None:
        _attempt(state, failure.status, f"injected_{failure.reason}", header_id)
        return injected(failure)

    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != "application/json":
        _attempt(state, 415, "unsupported_media_type", header_id, detail=media or None)
        return problem(415, "unsupported_media_type", "Callback phải là application/json.")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > state.config.max_callback_bytes:
        _attempt(state, 413, "too_large", header_id)
        return problem(413, "too_large", f"Callback quá {state.config.max_callback_bytes} byte.")
    raw = await _read_at_most(request, state.config.max_callback_bytes)
    if raw is None:
        _attempt(state, 413, "too_large", header_id)
        return problem(413, "too_large", f"Callback quá {state.config.max_callback_bytes} byte.")

    signature_header = request.headers.get(SIGNATURE_HEADER)
    signature_problem: str | None = None
    try:
        verify(signature_header, raw, state.config.secrets, now=state.wall(),
               tolerance_s=state.config.signature_tolerance_s)
    except SignatureError as exc:
        signature_problem = exc.reason
        if state.config.verify_signatures:
            _attempt(state, 401, f"signature_{exc.reason}", header_id)
            log.warning("callback refused: signature %s (event %s)", exc.reason, _safe(header_id))
            return problem(401, f"signature_{exc.reason}", _SIGNATURE_DETAIL[exc.reason])

    body, errors = _decode(raw)
    if not errors:
        errors = validate_callback(body)
        if isinstance(body, dict):
            errors += _event_id_header(header_id, body)
    if errors or not isinstance(body, dict):
        fields = _field_list(errors)
        _attempt(state, 400, "invalid", header_id, _ma_ho_so(body), detail=fields)
        log.warning("callback refused: invalid %s (event %s)", fields, _safe(header_id))
        return problem(400, "invalid_callback", f"Callback không hợp lệ: {fields}.", errors=errors)

    record, new = state.store.record_callback(
        body,
        received_at=state.stamp(),
        signature_ok=signature_problem is None,
        signature_problem=signature_problem,
        signed_at=_signed_at(signature_header),
        warnings=warnings_for(body),
    )
    outcome = "accepted" if new else "duplicate"
    _attempt(state, 200, outcome, record.event_id, record.ma_ho_so)
    log.info("callback %s: MaHoSo=%s SuKien=%s event=%s%s", outcome, record.ma_ho_so, body["SuKien"],
             record.event_id, " (out of order)" if new and record.out_of_order else "")
    hang = state.faults.hang_s()
    if hang > 0:
        await asyncio.sleep(hang)
    return JSONResponse({"received": True, "EventId": record.event_id, "duplicate": not new})


async def _read_at_most(request: Request, limit: int) -> bytes | None:
    """The body, or None once it exceeds ``limit`` (a chunked body has no Content-Length to check)."""
    chunks = bytearray()
    async for chunk in request.stream():
        chunks += chunk
        if len(chunks) > limit:
            return None
    return bytes(chunks)


def _field_list(errors: list[FieldError]) -> str:
    """The fields at fault, for a log line: unknown keys come from the sender, so only counted."""
    known = sorted({e.field for e in errors if e.code != "unknown_field"})
    unknown = sum(1 for e in errors if e.code == "unknown_field")
    return ", ".join(known + ([f"{unknown} unknown field(s)"] if unknown else []))


def _decode(raw: bytes) -> tuple[Any, list[FieldError]]:
    try:
        return json.loads(raw.decode("utf-8")), []
    except UnicodeDecodeError:
        return None, [FieldError("$", "invalid_encoding", "Nội dung phải là UTF-8.")]
    except ValueError:
        return None, [FieldError("$", "invalid_json", "Nội dung không phải JSON hợp lệ.")]


def _event_id_header(header_id: str | None, body: dict[str, Any]) -> list[FieldError]:
    if header_id is None:
        return [FieldError(EVENT_ID_HEADER, "required", f"Thiếu tiêu đề {EVENT_ID_HEADER}.")]
    if "EventId" in body and header_id != body["EventId"]:
        return [FieldError(EVENT_ID_HEADER, "event_id_mismatch", f"{EVENT_ID_HEADER} khác EventId trong nội dung.")]
    return []


def _signed_at(header: str | None) -> int | None:
    try:
        return parse(header)[0]
    except SignatureError:
        return None


def _ma_ho_so(body: Any) -> str | None:
    code = body.get("MaHoSo") if isinstance(body, dict) else None
    return code if isinstance(code, str) and code.isprintable() and len(code) <= 64 else None


def _safe(value: str | None) -> str:
    """A header value fit for a log line (bounded, printable)."""
    if value is None:
        return "-"
    return value[:64] if value.isprintable() else repr(value[:64])


def _attempt(state: SandboxState, status: int, outcome: str, event_id: str | None, ma_ho_so: str | None = None,
             *, detail: str | None = None) -> None:
    state.store.record_attempt(at=state.stamp(), status=status, outcome=outcome,
                               event_id=event_id[:64] if event_id else None, ma_ho_so=ma_ho_so, detail=detail)
