"""The admin console's pages under ``/admin``: login (throttled per client address) and logout (the session
revoked), the dashboard, the transaction log (filtered by state, kind, dossier, error and creation date), one
message, replay (one, or every message of a filter after a confirmation), cancel (with a reason), the audit log, the
dossiers held by the identity check with their release (after a confirmation, with a reason), and the dossiers whose
ministry copy holds other content (delivery conflicts) with an administrator's decision (with a reason).

Thin handlers over :mod:`gateway.admin.service`: read the query or form, call the service, render a template
(:mod:`gateway.admin.console_render`). A ``monitor`` sees every page; the actions' forms are not rendered for it
and their routes (:data:`ActingUser`) refuse it anyway. Pages show codes, states, dossier codes (MaHoSo) and
error reasons only, never dossier content.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Annotated
from urllib.parse import urlencode

import structlog
from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from gateway.admin.console_render import age, flash, page, root
from gateway.admin.console_session import (
    CONSOLE_SCOPES,
    LOGIN_COOKIE,
    LOGIN_MAX_AGE_S,
    SESSION_COOKIE,
    ActingUser,
    Codec,
    FormUser,
    SessionCodec,
    User,
    current_user,
)
from gateway.admin.console_store import forget_login_failures, login_verdict, record_login_failure, revoke_session
from gateway.admin.filters import FilterError, MessageFilter
from gateway.admin.login_throttle import ThrottlePolicy
from gateway.admin.lookups import count_messages, last_error_details
from gateway.admin.reasons import Explanation, explain, label, labels
from gateway.admin.schemas import AttemptInfo, MessageDetail, MessageSummary
from gateway.admin.service import (
    CANCELLABLE,
    REPLAYABLE,
    audit_log,
    bulk_replay,
    cancel,
    get_message,
    list_messages,
    replay,
    stats,
)
from gateway.admin.trends import pictures, trends
from gateway.auth import authenticate
from gateway.db import Database
from gateway.delivery.conflicts import conflicts as delivery_conflicts
from gateway.delivery.conflicts import resolve as resolve_conflict
from gateway.delivery.schemas import ConflictItem
from gateway.deps import LocalWorker, get_database, get_settings
from gateway.identity.service import mismatches as identity_mismatches
from gateway.identity.service import release
from gateway.payments.service import adjustments as payment_adjustments
from gateway.payments.service import decision_mismatches
from gateway.problems import Problem
from gateway.settings import Settings
from gateway.vocabulary import MESSAGE_STATES, ConflictAction, MessageKind, dossier_code_of_key
from mappings.dates import VN_TZ
from mappings.money import month_or_none
from mappings.tables import ministry_status
from outbox.models import MessageState

log = structlog.get_logger(__name__)

PAGE_SIZE = 50
AUDIT_PAGE_SIZE = 50
STATES = (MessageState.DEAD.value, *(s for s in MESSAGE_STATES if s != MessageState.DEAD))
"""The message states as the console lists them: dead (what needs an administrator) first, then life order."""

router = APIRouter(prefix="/admin", include_in_schema=False)
Db = Annotated[Database, Depends(get_database)]
AppSettings = Annotated[Settings, Depends(get_settings)]


@dataclass(frozen=True)
class MessageRow:
    """A line of the transaction log: the message, its dossier's code, why it failed (when it did)."""

    message: MessageSummary
    dossier: str
    explanation: Explanation | None
    cancel_reason: str | None = None


@dataclass(frozen=True)
class AttemptRow:
    """A line of a message's attempts: the attempt and why it failed (when it did)."""

    attempt: AttemptInfo
    explanation: Explanation | None


def _https(request: Request) -> bool:
    return request.url.scheme == "https"


# --- session ---------------------------------------------------------------------------------------------

def _safe_next(request: Request, value: str | None) -> str | None:
    """``value`` if it is a console page of this site (never another site: no open redirect)."""
    console = root(request)
    if not value or not value.isprintable() or any(c.isspace() for c in value):
        return None
    if any(unsafe in value for unsafe in ("\\", "//", "..")):
        return None
    if not (value == console or value.startswith(console + "/")):
        return None
    return None if value.startswith(console + "/login") else value


def _set_cookie(request: Request, response: Response, name: str, value: str, max_age: int) -> None:
    response.set_cookie(name, value, max_age=max_age, path=root(request), httponly=True, samesite="strict",
                        secure=_https(request))


def _drop_cookie(request: Request, response: Response, name: str) -> None:
    response.delete_cookie(name, path=root(request), httponly=True, samesite="strict", secure=_https(request))


def _login_page(request: Request, codec: SessionCodec, *, error: str | None = None, status: int = 200,
                next_path: str | None = None) -> HTMLResponse:
    cookie, nonce = codec.login_nonce()
    response = page(request, "login.html", status=status, error=error, login_token=nonce,
                    next_path=_safe_next(request, next_path) or "", session_length=age(codec.max_age_s))
    _set_cookie(request, response, LOGIN_COOKIE, cookie, LOGIN_MAX_AGE_S)
    return response


def client_address(request: Request, settings: Settings) -> str:
    """The address the login throttle counts: the peer's, or behind a trusted proxy (``GATEWAY_LOGIN_TRUST_
    FORWARDED_FOR``) the last address of X-Forwarded-For, the one that proxy appended."""
    if settings.login_trust_forwarded_for:
        forwarded = [a.strip() for a in request.headers.get("x-forwarded-for", "").split(",") if a.strip()]
        if forwarded:
            return forwarded[-1][:64]
    return (request.client.host if request.client else "unknown")[:64]


def _locked_out_page(request: Request, codec: SessionCodec, retry_after_s: int, next_path: str) -> HTMLResponse:
    response = _login_page(request, codec, status=429, next_path=next_path,
                           error=f"Đăng nhập sai quá nhiều lần từ địa chỉ này. Vui lòng thử lại sau "
                                 f"{age(retry_after_s)}.")
    response.headers["Retry-After"] = str(retry_after_s)
    return response


@router.get("/login")
def login_page(request: Request, settings: AppSettings, codec: Codec, db: Db,
               next_path: Annotated[str, Query(alias="next")] = "") -> Response:
    """The login form (or the dashboard, when already logged in)."""
    if current_user(request, settings, codec, db) is not None:
        return RedirectResponse(_safe_next(request, next_path) or root(request), status_code=303)
    return _login_page(request, codec, next_path=next_path)


@router.post("/login")
def login(
    request: Request,
    settings: AppSettings,
    codec: Codec,
    db: Db,
    api_key: Annotated[str, Form()] = "",
    login_token: Annotated[str, Form()] = "",
    next_path: Annotated[str, Form()] = "",
) -> Response:
    """Check the pasted API key (``admin`` or ``monitor`` scope) and open a session; the login page again
    otherwise. Wrong keys from one address are counted (every process of the database together): past
    ``GATEWAY_LOGIN_DELAY_AFTER`` each attempt waits, past ``GATEWAY_LOGIN_LOCKOUT_AFTER`` every attempt is
    refused with 429 until the lockout ends. The typed key is never logged."""
    if not codec.check_login_nonce(request.cookies.get(LOGIN_COOKIE), login_token):
        return _login_page(request, codec, status=403, next_path=next_path,
                           error="Trang đăng nhập đã hết hạn hoặc không hợp lệ. Vui lòng nhập lại khóa.")
    address, policy = client_address(request, settings), ThrottlePolicy.from_settings(settings)
    verdict = login_verdict(db, address, policy)
    if verdict.refused:
        log.warning("admin_login_refused", reason="locked_out", address=address, retry_after_s=verdict.retry_after_s)
        return _locked_out_page(request, codec, verdict.retry_after_s, next_path)
    if verdict.delay_s:
        time.sleep(verdict.delay_s)  # a sync route: this waits in the thread pool, not the event loop
    key = api_key.strip()
    principal = authenticate(f"Bearer {key}", settings.api_clients) if key else None
    if principal is None:
        record = record_login_failure(db, address, policy)
        log.warning("admin_login_refused", reason="unknown_key", address=address, failures=record.failures)
        if record.locked_until is not None:
            log.warning("admin_login_locked_out", address=address, failures=record.failures,
                        lockout_s=policy.lockout.total_seconds())
            return _locked_out_page(request, codec, int(policy.lockout.total_seconds()), next_path)
        return _login_page(request, codec, status=401, next_path=next_path, error="Khóa API không đúng.")
    if not principal.scopes & CONSOLE_SCOPES:
        log.warning("admin_login_refused", reason="missing_console_scope", client=principal.name, address=address)
        return _login_page(request, codec, status=403, next_path=next_path,
                           error="Khóa API này không có quyền quản trị (admin) hay giám sát (monitor).")
    forget_login_failures(db, address)
    token, user = codec.issue(principal.name, key, principal.scopes)
    log.info("admin_login", actor=user.actor, role=user.role)
    response = RedirectResponse(_safe_next(request, next_path) or root(request), status_code=303)
    _set_cookie(request, response, SESSION_COOKIE, token, codec.max_age_s)
    _drop_cookie(request, response, LOGIN_COOKIE)
    return response


@router.post("/logout")
def logout(request: Request, user: FormUser, db: Db) -> Response:
    """End the session: its id is recorded as revoked (a copy of the cookie is refused from now on, by every
    process), the cookie is dropped, and the login page shown."""
    revoke_session(db, user.session_id, user.expires_at)
    log.info("admin_logout", actor=user.actor)
    response = RedirectResponse(root(request) + "/login", status_code=303)
    _drop_cookie(request, response, SESSION_COOKIE)
    return response


# --- pages -----------------------------------------------------------------------------------------------

@router.get("")
def dashboard(request: Request, user: User, db: Db, worker: LocalWorker) -> HTMLResponse:
    """Counts by state and kind, oldest undelivered age, the ministry circuit, deliveries per minute; the last 24
    hours' deliveries and backlog and the overdue dossiers per commune as charts."""
    numbers = stats(db)
    circuit = worker.circuit() if worker is not None else "not_running_here"
    found = trends(db)
    return page(request, "dashboard.html", user=user, stats=numbers, circuit=circuit, states=STATES,
                kinds=sorted(numbers.byKind), oldest_by_kind=numbers.oldestUndeliveredAgeSByKind,
                trends=found, charts=pictures(found))


_FORM_NAMES = {"ma_ho_so": "key"}  # the parser's names that the console's form spells otherwise


_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _until(value: str) -> str:
    """The end of the range as the parser reads it: a date typed alone is its whole day (to the next midnight)."""
    if _DATE.match(value):
        try:
            return (date.fromisoformat(value) + timedelta(days=1)).isoformat()
        except ValueError:
            return value  # not a real date: the parser says so
    return value


def _filter(query: Mapping[str, str], default_state: str) -> tuple[MessageFilter, dict[str, str], dict[str, str]]:
    """The list filter from query or form fields (an absent ``state`` means ``default_state``; empty: all), the
    form's values, and an error message for each date field at fault.

    The console's selects offer only valid choices: a value that is not one (a hand-edited URL) is dropped, as
    if "all" had been chosen. The dates (from/to on the message's creation, ``YYYY-MM-DD`` or
    ``YYYY-MM-DDTHH:MM``, Vietnam time; the "to" date included) are typed: one at fault is named and left out
    of the filter."""
    form = {
        "state": query.get("state", default_state).strip(),
        "kind": query.get("kind", "").strip()[:64],
        "key": query.get("key", "").strip()[:128],
        "error": query.get("error", "").strip()[:200],
        "since": query.get("since", "").strip()[:32],
        "until": query.get("until", "").strip()[:32],
    }
    try:
        return _parse(form), form, {}
    except FilterError as exc:
        faults = {}
        parsed = dict(form)
        for fault in exc.errors:
            name = _FORM_NAMES.get(fault.field, fault.field)
            parsed[name] = ""
            if name in ("since", "until"):
                faults[name] = fault.message
            else:
                form[name] = ""
        return _parse(parsed), form, faults


def _parse(form: Mapping[str, str]) -> MessageFilter:
    return MessageFilter.parse(state=form["state"], kind=form["kind"], ma_ho_so=form["key"], error=form["error"],
                               since=form["since"], until=_until(form["until"]), naive=VN_TZ)


def _failed(message: MessageSummary) -> bool:
    """Whether the console explains why ``message`` failed (it has an error and is neither delivered nor
    cancelled: a cancelled one's error is why it was cancelled, see :func:`_cancel_reason`)."""
    return bool(message.lastError) and message.state not in (MessageState.DONE, MessageState.CANCELLED)


_SUPERSEDED = re.compile(r"superseded by revision (\d+)")


def _cancel_reason(message: MessageSummary) -> str | None:
    """Why a cancelled message was cancelled, in words: an administrator's reason, or the newer revision that
    superseded it (outbox ``cancel_pending``). None for a message that is not cancelled."""
    if message.state != MessageState.CANCELLED:
        return None
    text = (message.lastError or "").removeprefix("cancelled: ")
    superseded = _SUPERSEDED.fullmatch(text)
    if superseded:
        return f"Có lần nộp mới hơn (lần {superseded[1]}) thay thế."
    return text or None


@router.get("/messages")
def messages(request: Request, user: User, db: Db) -> HTMLResponse:
    """The transaction log, failed (dead) messages first by default, with the reason of each in plain words."""
    filt, form, faults = _filter(request.query_params, default_state="dead")
    cursor = request.query_params.get("cursor", "")
    try:
        found = list_messages(db, filt, limit=PAGE_SIZE, cursor=cursor or None)
    except ValueError:
        return page(request, "error.html", user=user, status=400, title="Trang không hợp lệ",
                    message="Liên kết phân trang không hợp lệ. Hãy mở lại danh sách từ trang đầu.")
    details = last_error_details(db, [item.id for item in found.items if item.lastError])
    rows = [
        MessageRow(item, dossier_code_of_key(item.key),
                   explain(item.kind, details.get(item.id), attempts=item.attempts) if _failed(item) else None,
                   _cancel_reason(item))
        for item in found.items
    ]
    next_url = f"{root(request)}/messages?{urlencode({**form, 'cursor': found.next})}" if found.next else None
    bulk_url = (f"{root(request)}/replay?{urlencode(form)}"
                if form["state"] in ("", *REPLAYABLE) and user.can_act and not faults else None)
    return page(request, "messages.html", user=user, rows=rows, filter=form, faults=faults, states=STATES,
                kinds=labels("kinds"), next_url=next_url, bulk_url=bulk_url, first_page=not cursor,
                cancellable=CANCELLABLE, first_url=f"{root(request)}/messages?{urlencode(form)}",
                flash=flash(request.query_params), status=422 if faults else 200)


def _payload_summary(message: MessageDetail) -> list[tuple[str, str]]:
    """The few payload fields that are safe and useful to show (never dossier content)."""
    payload = message.payload or {}
    out: list[tuple[str, str]] = []
    if message.kind == MessageKind.PROVINCE_CALLBACK:
        body = payload.get("body") or {}
        if body.get("SuKien"):
            out.append(("Sự kiện", label("events", str(body["SuKien"]))))
        code = body.get("TrangThaiBo")
        if code:
            status = ministry_status(str(code))
            out.append(("Trạng thái ở Bộ", f"{status.name} ({code})" if status else str(code)))
        if body.get("TrangThaiHoSo") is not None:
            out.append(("Trạng thái hồ sơ (mã quốc gia)", str(body["TrangThaiHoSo"])))
    elif payload.get("revision") is not None:
        out.append(("Lần cập nhật hồ sơ", str(payload["revision"])))
    return out


@router.get("/messages/{message_id}")
def message(request: Request, message_id: int, user: User, db: Db) -> HTMLResponse:
    """One message: what it is, why it failed, every attempt."""
    found = get_message(db, message_id)
    if found is None:
        return page(request, "error.html", user=user, status=404, title="Không tìm thấy",
                    message=f"Không có thông điệp số {message_id}.")
    explanation = explain(found.kind, found.lastErrorDetail, attempts=found.attempts) if _failed(found) else None
    attempts = [
        AttemptRow(a, explain(found.kind, a.detail, attempts=a.attempt) if a.outcome != "done" else None)
        for a in found.attemptsLog
    ]
    return page(request, "message.html", user=user, m=found, dossier=dossier_code_of_key(found.key),
                explanation=explanation, cancel_reason=_cancel_reason(found), attempts=attempts,
                summary=_payload_summary(found),
                replayable=found.state in REPLAYABLE, cancellable=found.state in CANCELLABLE,
                flash=flash(request.query_params))


@router.post("/messages/{message_id}/replay")
def replay_one(request: Request, message_id: int, user: ActingUser, db: Db) -> Response:
    """Replay one dead or cancelled message (audited as the logged-in key's name)."""
    count = replay(db, [message_id], user.actor)
    return RedirectResponse(f"{root(request)}/messages/{message_id}?done=replay&n={count}", status_code=303)


@router.get("/messages/{message_id}/cancel")
def cancel_confirm(request: Request, message_id: int, user: User, db: Db) -> HTMLResponse:
    """The confirmation step of a cancel: the message and a reason to give."""
    found = get_message(db, message_id)
    return page(request, "cancel_confirm.html", user=user, m=found, message_id=message_id, error=None,
                dossier=dossier_code_of_key(found.key) if found else "", cancellable=CANCELLABLE,
                status=200 if found else 404)


@router.post("/messages/{message_id}/cancel")
def cancel_one(request: Request, message_id: int, user: ActingUser, db: Db,
               reason: Annotated[str, Form(max_length=500)] = "") -> Response:
    """Withdraw a pending or dead message, with a reason (audited as the logged-in key's name)."""
    reason = reason.strip()
    error = None if reason else "Hãy ghi lý do hủy."
    if reason and not cancel(db, message_id, user.actor, reason):
        error = "Thông điệp không còn ở trạng thái hủy được (đang chờ hoặc thất bại)."
    if error:
        found = get_message(db, message_id)
        return page(request, "cancel_confirm.html", user=user, m=found, message_id=message_id, error=error,
                    dossier=dossier_code_of_key(found.key) if found else "", cancellable=CANCELLABLE,
                    status=422 if found else 404)
    return RedirectResponse(f"{root(request)}/messages/{message_id}?done=cancel&n=1", status_code=303)


def _replay_filter(query: Mapping[str, str]) -> tuple[MessageFilter, dict[str, str], dict[str, str]]:
    filt, form, faults = _filter(query, default_state=MessageState.DEAD.value)
    if not form["state"]:  # "all" in the list: a bulk replay takes the dead ones
        form["state"] = MessageState.DEAD.value
        filt = replace(filt, state=MessageState.DEAD.value)
    return filt, form, faults


@router.get("/replay")
def bulk_confirm(request: Request, user: User, db: Db) -> HTMLResponse:
    """The confirmation step of a bulk replay: the filter and how many messages it would replay."""
    filt, form, faults = _replay_filter(request.query_params)
    replayable = form["state"] in REPLAYABLE and not faults
    count = count_messages(db, filt) if replayable else 0
    return page(request, "bulk_confirm.html", user=user, filter=form, count=count, replayable=replayable,
                back_url=f"{root(request)}/messages?{urlencode(form)}")


@router.post("/replay")
def bulk(
    request: Request,
    user: ActingUser,
    db: Db,
    state: Annotated[str, Form()] = "dead",
    kind: Annotated[str, Form()] = "",
    key: Annotated[str, Form()] = "",
    error: Annotated[str, Form()] = "",
    since: Annotated[str, Form()] = "",
    until: Annotated[str, Form()] = "",
) -> Response:
    """Replay every dead (or cancelled) message matching the confirmed filter."""
    filt, form, faults = _replay_filter({"state": state, "kind": kind, "key": key, "error": error,
                                         "since": since, "until": until})
    if faults:
        return page(request, "error.html", user=user, status=422, title="Bộ lọc không hợp lệ",
                    message="Ngày trong bộ lọc không hợp lệ: " + " ".join(faults.values()))
    if form["state"] not in REPLAYABLE:
        return page(request, "error.html", user=user, status=400, title="Không thể gửi lại",
                    message="Chỉ gửi lại được thông điệp thất bại hoặc đã hủy.")
    count = bulk_replay(db, filt, user.actor)
    return RedirectResponse(f"{root(request)}/messages?{urlencode({**form, 'done': 'bulk', 'n': count})}",
                            status_code=303)


@router.get("/audit")
def audit(request: Request, user: User, db: Db) -> HTMLResponse:
    """The audit log, newest first: who did what, when, to which messages."""
    before = request.query_params.get("before", "")
    entries = audit_log(db, limit=AUDIT_PAGE_SIZE, before_id=int(before) if before.isdigit() else None)
    next_url = (f"{root(request)}/audit?{urlencode({'before': entries[-1].id})}"
                if len(entries) == AUDIT_PAGE_SIZE else None)
    return page(request, "audit.html", user=user, entries=entries, next_url=next_url, first_page=not before)


@router.get("/held")
def held(request: Request, user: User, db: Db) -> HTMLResponse:
    """The dossiers held because the population database disagrees: which fields (never values), a release each."""
    found = identity_mismatches(db, held_only=True, limit=PAGE_SIZE)
    return page(request, "held.html", user=user, items=found.items, count=found.count,
                flash=_release_flash(request.query_params))


@router.get("/held/{ma_ho_so}/release")
def release_confirm(request: Request, ma_ho_so: str, user: User, db: Db) -> HTMLResponse:
    """The confirmation step of a release: the fields at fault and a reason to give."""
    found = [m for m in identity_mismatches(db, held_only=True, limit=10000).items if m.MaHoSo == ma_ho_so]
    return page(request, "release_confirm.html", user=user, item=found[0] if found else None, ma_ho_so=ma_ho_so,
                error=None, status=200 if found else 404)


@router.post("/held/{ma_ho_so}/release")
def release_held(request: Request, ma_ho_so: str, user: ActingUser, db: Db,
                 reason: Annotated[str, Form(max_length=500)] = "") -> Response:
    """Deliver the held dossier anyway (audited as the logged-in key's name; the reason goes in ghiChu)."""
    try:
        release(db, ma_ho_so, actor=user.actor, reason=reason)
    except Problem as exc:
        found = [m for m in identity_mismatches(db, held_only=True, limit=10000).items if m.MaHoSo == ma_ho_so]
        return page(request, "release_confirm.html", user=user, item=found[0] if found else None, ma_ho_so=ma_ho_so,
                    error=exc.errors[0].message if exc.errors else exc.detail, status=exc.status)
    return RedirectResponse(f"{root(request)}/held?{urlencode({'released': ma_ho_so})}", status_code=303)


def _release_flash(query: Mapping[str, str]) -> str | None:
    code = query.get("released")
    return f"Đã chuyển hồ sơ {code} vào hàng đợi gửi sang Bộ (ghi nhận chưa khớp CSDL dân cư)." if code else None


@router.get("/conflicts")
def conflicts_page(request: Request, user: User, db: Db) -> HTMLResponse:
    """The dossiers whose ministry copy holds other content: why (field paths, component codes), a decision each."""
    found = delivery_conflicts(db, limit=PAGE_SIZE)
    code, action = request.query_params.get("resolved"), request.query_params.get("action")
    done = None
    if code and action == ConflictAction.ACCEPT:
        done = f"Đã ghi nhận hồ sơ {code} là đã chuyển (giữ bản ở Bộ)."
    elif code and action == ConflictAction.RETRY:
        done = f"Đã đưa hồ sơ {code} vào hàng đợi gửi lại để đối chiếu lại với Bộ."
    return page(request, "conflicts.html", user=user, items=found.items, count=found.count, flash=done)


def _conflict_of(db: Database, ma_ho_so: str) -> ConflictItem | None:
    return next((c for c in delivery_conflicts(db, limit=10000).items if c.MaHoSo == ma_ho_so), None)


@router.get("/conflicts/{ma_ho_so}")
def conflict_confirm(request: Request, ma_ho_so: str, user: User, db: Db) -> HTMLResponse:
    """The decision step: what differs, a reason to give, accept the ministry's copy or deliver again."""
    item = _conflict_of(db, ma_ho_so)
    return page(request, "conflict_confirm.html", user=user, item=item, ma_ho_so=ma_ho_so, error=None,
                status=200 if item else 404)


@router.post("/conflicts/{ma_ho_so}")
def conflict_resolve(request: Request, ma_ho_so: str, user: ActingUser, db: Db, settings: AppSettings,
                     worker: LocalWorker, action: Annotated[str, Form(max_length=16)] = "",
                     reason: Annotated[str, Form(max_length=500)] = "") -> Response:
    """Accept the ministry's copy or deliver again (audited as the logged-in key's name)."""
    try:
        chosen = ConflictAction(action)
        resolve_conflict(db, ma_ho_so, action=chosen, actor=user.actor, reason=reason,
                         notify=settings.callbacks_configured)
    except (ValueError, Problem) as exc:
        status, error = ((exc.status, exc.errors[0].message if exc.errors else exc.detail) if isinstance(exc, Problem)
                         else (422, "Hãy chọn Giữ bản ở Bộ hoặc Đối chiếu lại."))
        return page(request, "conflict_confirm.html", user=user, item=_conflict_of(db, ma_ho_so), ma_ho_so=ma_ho_so,
                    error=error, status=status)
    if worker is not None and chosen == ConflictAction.RETRY:
        worker.wake()
    return RedirectResponse(f"{root(request)}/conflicts?{urlencode({'resolved': ma_ho_so, 'action': chosen.value})}",
                            status_code=303)


@router.get("/payments")
def payments_page(request: Request, user: User, db: Db,
                  month: Annotated[str, Query(max_length=7)] = "",
                  kind: Annotated[str, Query(max_length=16)] = "") -> HTMLResponse:
    """Recoveries and back-payments computed and sent, for the month's payment list."""
    month_ok = month_or_none(month) is not None
    kind_ok = kind in ("truy_thu", "truy_linh")
    found = payment_adjustments(db, month=month if month_ok else None, kind=kind if kind_ok else None,
                                limit=PAGE_SIZE)
    return page(request, "payments.html", user=user, items=found.items, count=found.count, total=found.total,
                by_commune=found.byCommune, month=month if month_ok else "", kind=kind if kind_ok else "",
                mismatches=decision_mismatches(db, limit=PAGE_SIZE))
