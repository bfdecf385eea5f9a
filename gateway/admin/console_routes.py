"""The admin console's pages under ``/admin``: login and logout, the dashboard, the transaction log, one message,
replay (one, or every message of a filter after a confirmation), the audit log, the dossiers held by the
identity check with their release (after a confirmation, with a reason), and the dossiers whose ministry copy
holds other content (delivery conflicts) with an administrator's decision (with a reason).

Thin handlers over :mod:`gateway.admin.service`: read the query or form, call the service, render a template
(:mod:`gateway.admin.console_render`). Pages show codes, states, dossier codes (MaHoSo) and error reasons only,
never dossier content.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Annotated
from urllib.parse import urlencode

import structlog
from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from gateway.admin.console_render import age, flash, page, root
from gateway.admin.console_session import (
    ADMIN_SCOPE,
    LOGIN_COOKIE,
    LOGIN_MAX_AGE_S,
    SESSION_COOKIE,
    Codec,
    FormUser,
    SessionCodec,
    User,
)
from gateway.admin.filters import FilterError, MessageFilter
from gateway.admin.lookups import count_messages, last_error_details
from gateway.admin.reasons import Explanation, explain, label, labels
from gateway.admin.schemas import AttemptInfo, MessageDetail, MessageSummary
from gateway.admin.service import REPLAYABLE, audit_log, bulk_replay, get_message, list_messages, replay, stats
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


@router.get("/login")
def login_page(request: Request, settings: AppSettings, codec: Codec,
               next_path: Annotated[str, Query(alias="next")] = "") -> Response:
    """The login form (or the dashboard, when already logged in)."""
    if codec.read(request.cookies.get(SESSION_COOKIE), settings.api_clients) is not None:
        return RedirectResponse(_safe_next(request, next_path) or root(request), status_code=303)
    return _login_page(request, codec, next_path=next_path)


@router.post("/login")
def login(
    request: Request,
    settings: AppSettings,
    codec: Codec,
    api_key: Annotated[str, Form()] = "",
    login_token: Annotated[str, Form()] = "",
    next_path: Annotated[str, Form()] = "",
) -> Response:
    """Check the pasted API key (``admin`` scope) and open a session; the login page again otherwise."""
    if not codec.check_login_nonce(request.cookies.get(LOGIN_COOKIE), login_token):
        return _login_page(request, codec, status=403, next_path=next_path,
                           error="Trang đăng nhập đã hết hạn hoặc không hợp lệ. Vui lòng nhập lại khóa.")
    key = api_key.strip()
    principal = authenticate(f"Bearer {key}", settings.api_clients) if key else None
    if principal is None:
        log.warning("admin_login_refused", reason="unknown_key")
        return _login_page(request, codec, status=401, next_path=next_path, error="Khóa API không đúng.")
    if ADMIN_SCOPE not in principal.scopes:
        log.warning("admin_login_refused", reason="missing_admin_scope", client=principal.name)
        return _login_page(request, codec, status=403, next_path=next_path,
                           error="Khóa API này không có quyền quản trị (admin).")
    token, user = codec.issue(principal.name, key)
    log.info("admin_login", actor=user.actor)
    response = RedirectResponse(_safe_next(request, next_path) or root(request), status_code=303)
    _set_cookie(request, response, SESSION_COOKIE, token, codec.max_age_s)
    _drop_cookie(request, response, LOGIN_COOKIE)
    return response


@router.post("/logout")
def logout(request: Request, user: FormUser) -> Response:
    """End the session (the cookie is dropped) and show the login page."""
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


def _filter(query: Mapping[str, str], default_state: str) -> tuple[MessageFilter, dict[str, str]]:
    """The list filter from query or form fields (an absent ``state`` means ``default_state``; empty: all).

    The console's selects offer only valid choices: a value that is not one (a hand-edited URL) is dropped, as
    if "all" had been chosen."""
    form = {
        "state": query.get("state", default_state).strip(),
        "kind": query.get("kind", "").strip()[:64],
        "key": query.get("key", "").strip()[:128],
        "error": query.get("error", "").strip()[:200],
    }
    try:
        return _parse(form), form
    except FilterError as exc:
        for fault in exc.errors:
            form[_FORM_NAMES.get(fault.field, fault.field)] = ""
        return _parse(form), form


def _parse(form: Mapping[str, str]) -> MessageFilter:
    return MessageFilter.parse(state=form["state"], kind=form["kind"], ma_ho_so=form["key"], error=form["error"])


def _failed(message: MessageSummary) -> bool:
    """Whether the console explains why ``message`` failed (it has an error and is not delivered)."""
    return bool(message.lastError) and message.state != MessageState.DONE


@router.get("/messages")
def messages(request: Request, user: User, db: Db) -> HTMLResponse:
    """The transaction log, failed (dead) messages first by default, with the reason of each in plain words."""
    filt, form = _filter(request.query_params, default_state="dead")
    cursor = request.query_params.get("cursor", "")
    try:
        found = list_messages(db, filt, limit=PAGE_SIZE, cursor=cursor or None)
    except ValueError:
        return page(request, "error.html", user=user, status=400, title="Trang không hợp lệ",
                    message="Liên kết phân trang không hợp lệ. Hãy mở lại danh sách từ trang đầu.")
    details = last_error_details(db, [item.id for item in found.items if item.lastError])
    rows = [
        MessageRow(item, dossier_code_of_key(item.key),
                   explain(item.kind, details.get(item.id), attempts=item.attempts) if _failed(item) else None)
        for item in found.items
    ]
    next_url = f"{root(request)}/messages?{urlencode({**form, 'cursor': found.next})}" if found.next else None
    bulk_url = (f"{root(request)}/replay?{urlencode(form)}"
                if form["state"] in ("", *REPLAYABLE) else None)
    return page(request, "messages.html", user=user, rows=rows, filter=form, states=STATES,
                kinds=labels("kinds"), next_url=next_url, bulk_url=bulk_url, first_page=not cursor,
                first_url=f"{root(request)}/messages?{urlencode(form)}", flash=flash(request.query_params))


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
                explanation=explanation, attempts=attempts, summary=_payload_summary(found),
                replayable=found.state in REPLAYABLE, flash=flash(request.query_params))


@router.post("/messages/{message_id}/replay")
def replay_one(request: Request, message_id: int, user: FormUser, db: Db) -> Response:
    """Replay one dead or cancelled message (audited as the logged-in key's name)."""
    count = replay(db, [message_id], user.actor)
    return RedirectResponse(f"{root(request)}/messages/{message_id}?done=replay&n={count}", status_code=303)


def _replay_filter(query: Mapping[str, str]) -> tuple[MessageFilter, dict[str, str]]:
    filt, form = _filter(query, default_state=MessageState.DEAD.value)
    if not form["state"]:  # "all" in the list: a bulk replay takes the dead ones
        form["state"] = MessageState.DEAD.value
        filt = replace(filt, state=MessageState.DEAD.value)
    return filt, form


@router.get("/replay")
def bulk_confirm(request: Request, user: User, db: Db) -> HTMLResponse:
    """The confirmation step of a bulk replay: the filter and how many messages it would replay."""
    filt, form = _replay_filter(request.query_params)
    replayable = form["state"] in REPLAYABLE
    count = count_messages(db, filt) if replayable else 0
    return page(request, "bulk_confirm.html", user=user, filter=form, count=count, replayable=replayable,
                back_url=f"{root(request)}/messages?{urlencode(form)}")


@router.post("/replay")
def bulk(
    request: Request,
    user: FormUser,
    db: Db,
    state: Annotated[str, Form()] = "dead",
    kind: Annotated[str, Form()] = "",
    key: Annotated[str, Form()] = "",
    error: Annotated[str, Form()] = "",
) -> Response:
    """Replay every dead (or cancelled) message matching the confirmed filter."""
    filt, form = _replay_filter({"state": state, "kind": kind, "key": key, "error": error})
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
def release_held(request: Request, ma_ho_so: str, user: FormUser, db: Db,
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
def conflict_resolve(request: Request, ma_ho_so: str, user: FormUser, db: Db, settings: AppSettings,
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
