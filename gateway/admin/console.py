"""The admin web console under ``/admin``: server-rendered pages (Jinja2) over :mod:`gateway.admin.service`.

Log in with an API key holding the ``admin`` scope; the session is a signed, HttpOnly, SameSite=Strict
cookie and every form carries a CSRF token bound to it. Pages show codes, states, dossier codes (MaHoSo)
and error reasons only, never dossier content. No JavaScript: plain links and forms.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

import structlog
from fastapi import APIRouter, Depends, FastAPI, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.admin.console_session import (
    ADMIN_SCOPE,
    LOGIN_COOKIE,
    LOGIN_MAX_AGE_S,
    SESSION_COOKIE,
    ConsoleUser,
    SessionCodec,
    csrf_matches,
)
from gateway.admin.lookups import count_messages, last_error_details
from gateway.admin.reasons import explain, label, labels
from gateway.admin.service import (
    REPLAYABLE,
    MessageFilter,
    audit_log,
    bulk_replay,
    get_message,
    list_messages,
    replay,
    stats,
)
from gateway.auth import authenticate
from gateway.db import Database
from gateway.deps import get_database, get_settings
from gateway.logging import mask_text
from gateway.settings import Settings
from gateway.vocabulary import MessageKind
from mappings.dates import VN_TZ
from mappings.tables import ministry_status

log = structlog.get_logger(__name__)

HERE = Path(__file__).parent
PAGE_SIZE = 50
AUDIT_PAGE_SIZE = 50
STATES = ("dead", "pending", "in_flight", "done", "cancelled")
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)

router = APIRouter(prefix="/admin", include_in_schema=False)


# --- rendering -------------------------------------------------------------------------------------------

def vn_time(value: str | datetime | None) -> str:
    """An ISO date-time as Vietnam local time, ``dd/mm/yyyy HH:MM:SS``."""
    if not value:
        return "—"
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.astimezone(VN_TZ).strftime("%d/%m/%Y %H:%M:%S")


def age(seconds: float | None) -> str:
    """A duration in words (``2 giờ 5 phút``); ``—`` for None."""
    if seconds is None:
        return "—"
    total = int(max(0.0, seconds))
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [(days, "ngày"), (hours, "giờ"), (minutes, "phút"), (secs, "giây")]
    shown = [f"{n} {unit}" for n, unit in parts if n][:2]
    return " ".join(shown) if shown else "0 giây"


_templates = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=True,  # every stored string is escaped; nothing is marked safe
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_templates.filters.update(vn_time=vn_time, age=age, mask=mask_text)
_templates.globals.update(label=label)


def _root(request: Request) -> str:
    return str(request.scope.get("root_path", "")).rstrip("/") + "/admin"


def _https(request: Request) -> bool:
    return request.url.scheme == "https"


def _page(request: Request, template: str, *, user: ConsoleUser | None = None, status: int = 200,
          **context: Any) -> HTMLResponse:
    html = _templates.get_template(template).render(root=_root(request), user=user, **context)
    return HTMLResponse(html, status_code=status)


def _flash(query: Mapping[str, str]) -> str | None:
    count = query.get("n", "")
    if not count.isdigit():
        return None
    n = int(count)
    if query.get("done") == "replay":
        return (f"Đã đưa {n} thông điệp vào hàng đợi gửi lại." if n
                else "Không có thông điệp nào được gửi lại (thông điệp không ở trạng thái thất bại hoặc đã hủy).")
    if query.get("done") == "bulk":
        return f"Đã đưa {n} thông điệp vào hàng đợi gửi lại."
    return None


# --- session ---------------------------------------------------------------------------------------------

class LoginRequiredError(Exception):
    """No valid session: the browser is sent to the login page (then back to ``next``)."""

    def __init__(self, next_path: str | None) -> None:
        super().__init__("login required")
        self.next_path = next_path


class CsrfRejectedError(Exception):
    """A form without the session's CSRF token."""


def _codec(request: Request) -> SessionCodec:
    codec: SessionCodec = request.app.state.console_sessions
    return codec


def console_user(request: Request, settings: Annotated[Settings, Depends(get_settings)]) -> ConsoleUser:
    """A dependency: the logged-in user; without a valid session, a redirect to the login page."""
    user = _codec(request).read(request.cookies.get(SESSION_COOKIE), settings.api_clients)
    if user is None:
        next_path = None
        if request.method == "GET":
            next_path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequiredError(next_path)
    return user


def form_user(user: Annotated[ConsoleUser, Depends(console_user)],
              csrf_token: Annotated[str, Form()] = "") -> ConsoleUser:
    """A dependency of every POST: the logged-in user, whose form carries the session's CSRF token."""
    if not csrf_matches(user, csrf_token):
        log.warning("admin_csrf_rejected", actor=user.actor)
        raise CsrfRejectedError
    return user


def _safe_next(request: Request, value: str | None) -> str | None:
    """``value`` if it is a console page of this site (never another site: no open redirect)."""
    root = _root(request)
    if not value or not value.isprintable() or any(c.isspace() for c in value):
        return None
    if any(unsafe in value for unsafe in ("\\", "//", "..")) or not (value == root or value.startswith(root + "/")):
        return None
    return None if value.startswith(root + "/login") else value


def _set_cookie(request: Request, response: Response, name: str, value: str, max_age: int) -> None:
    response.set_cookie(name, value, max_age=max_age, path=_root(request), httponly=True, samesite="strict",
                        secure=_https(request))


def _drop_cookie(request: Request, response: Response, name: str) -> None:
    response.delete_cookie(name, path=_root(request), httponly=True, samesite="strict", secure=_https(request))


def _login_page(request: Request, *, error: str | None = None, status: int = 200,
                next_path: str | None = None) -> HTMLResponse:
    cookie, nonce = _codec(request).login_nonce()
    response = _page(request, "login.html", status=status, error=error, login_token=nonce,
                     next_path=_safe_next(request, next_path) or "", session_length=age(_codec(request).max_age_s))
    _set_cookie(request, response, LOGIN_COOKIE, cookie, LOGIN_MAX_AGE_S)
    return response


@router.get("/login")
def login_page(request: Request, settings: Annotated[Settings, Depends(get_settings)],
               next_path: Annotated[str, Query(alias="next")] = "") -> Response:
    """The login form (or the dashboard, when already logged in)."""
    if _codec(request).read(request.cookies.get(SESSION_COOKIE), settings.api_clients) is not None:
        return RedirectResponse(_safe_next(request, next_path) or _root(request), status_code=303)
    return _login_page(request, next_path=next_path)


@router.post("/login")
def login(
    request: Request,
    settings: Annotated[Settings, Depends(get_settings)],
    api_key: Annotated[str, Form()] = "",
    login_token: Annotated[str, Form()] = "",
    next_path: Annotated[str, Form()] = "",
) -> Response:
    """Check the pasted API key (``admin`` scope) and open a session; the login page again otherwise."""
    codec = _codec(request)
    if not codec.check_login_nonce(request.cookies.get(LOGIN_COOKIE), login_token):
        return _login_page(request, status=403, next_path=next_path,
                           error="Trang đăng nhập đã hết hạn hoặc không hợp lệ. Vui lòng nhập lại khóa.")
    key = api_key.strip()
    principal = authenticate(f"Bearer {key}", settings.api_clients) if key else None
    if principal is None:
        log.warning("admin_login_refused", reason="unknown_key")
        return _login_page(request, status=401, next_path=next_path, error="Khóa API không đúng.")
    if ADMIN_SCOPE not in principal.scopes:
        log.warning("admin_login_refused", reason="missing_admin_scope", client=principal.name)
        return _login_page(request, status=403, next_path=next_path,
                           error="Khóa API này không có quyền quản trị (admin).")
    token, user = codec.issue(principal.name, key)
    log.info("admin_login", actor=user.actor)
    response = RedirectResponse(_safe_next(request, next_path) or _root(request), status_code=303)
    _set_cookie(request, response, SESSION_COOKIE, token, codec.max_age_s)
    _drop_cookie(request, response, LOGIN_COOKIE)
    return response


@router.post("/logout")
def logout(request: Request, user: Annotated[ConsoleUser, Depends(form_user)]) -> Response:
    """End the session (the cookie is dropped) and show the login page."""
    log.info("admin_logout", actor=user.actor)
    response = RedirectResponse(_root(request) + "/login", status_code=303)
    _drop_cookie(request, response, SESSION_COOKIE)
    return response


# --- pages -----------------------------------------------------------------------------------------------

User = Annotated[ConsoleUser, Depends(console_user)]
FormUser = Annotated[ConsoleUser, Depends(form_user)]
Db = Annotated[Database, Depends(get_database)]


@router.get("")
def dashboard(request: Request, user: User, db: Db) -> HTMLResponse:
    """Counts by state and kind, oldest undelivered age, the ministry circuit, deliveries per minute."""
    numbers = stats(db)
    worker = getattr(request.app.state, "worker", None)
    circuit = worker.circuit() if worker is not None else "not_running_here"
    kinds = sorted(numbers["byKind"])
    return _page(request, "dashboard.html", user=user, stats=numbers, circuit=circuit, states=STATES,
                 kinds=kinds, oldest_by_kind=numbers.get("oldestUndeliveredAgeSByKind") or {})


def _filter(query: Mapping[str, str], default_state: str) -> tuple[MessageFilter, dict[str, str]]:
    """The list filter from query or form fields (an absent ``state`` means ``default_state``; empty: all)."""
    state = query.get("state", default_state).strip()
    if state not in STATES:
        state = ""
    form = {
        "state": state,
        "kind": query.get("kind", "").strip()[:64],
        "key": query.get("key", "").strip()[:128],
        "error": query.get("error", "").strip()[:200],
    }
    filt = MessageFilter(state=form["state"] or None, kind=form["kind"] or None, key=form["key"] or None,
                         error=form["error"] or None)
    return filt, form


def _dossier_code(key: str) -> str:
    return key.removeprefix("callback:")


@router.get("/messages")
def messages(request: Request, user: User, db: Db) -> HTMLResponse:
    """The transaction log, failed (dead) messages first by default, with the reason of each in plain words."""
    filt, form = _filter(request.query_params, default_state="dead")
    cursor = request.query_params.get("cursor", "")
    try:
        page = list_messages(db, filt, limit=PAGE_SIZE, cursor=cursor or None)
    except ValueError:
        return _page(request, "error.html", user=user, status=400, title="Trang không hợp lệ",
                     message="Liên kết phân trang không hợp lệ. Hãy mở lại danh sách từ trang đầu.")
    details = last_error_details(db, [item["id"] for item in page["items"] if item["lastError"]])
    rows = []
    for item in page["items"]:
        failed = bool(item["lastError"]) and item["state"] != "done"
        rows.append({
            **item,
            "dossier": _dossier_code(item["key"]),
            "explanation": explain(item["kind"], details.get(item["id"]), attempts=item["attempts"])
            if failed else None,
        })
    next_url = f"{_root(request)}/messages?{urlencode({**form, 'cursor': page['next']})}" if page["next"] else None
    bulk_url = (f"{_root(request)}/replay?{urlencode(form)}"
                if form["state"] in ("", *REPLAYABLE) else None)
    return _page(request, "messages.html", user=user, rows=rows, filter=form, states=STATES,
                 kinds=labels("kinds"), next_url=next_url, bulk_url=bulk_url, first_page=not cursor,
                 first_url=f"{_root(request)}/messages?{urlencode(form)}", flash=_flash(request.query_params))


def _payload_summary(message: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The few payload fields that are safe and useful to show (never dossier content)."""
    payload = message.get("payload") or {}
    out: list[tuple[str, str]] = []
    if message["kind"] == MessageKind.PROVINCE_CALLBACK:
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
        return _page(request, "error.html", user=user, status=404, title="Không tìm thấy",
                     message=f"Không có thông điệp số {message_id}.")
    explanation = None
    if found["lastError"] and found["state"] != "done":
        explanation = explain(found["kind"], found.get("lastErrorDetail"), attempts=found["attempts"])
    attempts = [
        {**a, "explanation": explain(found["kind"], a.get("detail"), attempts=a["attempt"])
         if a["outcome"] != "done" else None}
        for a in found["attemptsLog"]
    ]
    return _page(request, "message.html", user=user, m=found, dossier=_dossier_code(found["key"]),
                 explanation=explanation, attempts=attempts, summary=_payload_summary(found),
                 replayable=found["state"] in REPLAYABLE, flash=_flash(request.query_params))


@router.post("/messages/{message_id}/replay")
def replay_one(request: Request, message_id: int, user: FormUser, db: Db) -> Response:
    """Replay one dead or cancelled message (audited as the logged-in key's name)."""
    count = replay(db, [message_id], user.actor)
    return RedirectResponse(f"{_root(request)}/messages/{message_id}?done=replay&n={count}", status_code=303)


def _replay_filter(query: Mapping[str, str]) -> tuple[MessageFilter, dict[str, str]]:
    filt, form = _filter(query, default_state="dead")
    if not form["state"]:  # "all" in the list: a bulk replay takes the dead ones
        form["state"] = "dead"
        filt = replace(filt, state="dead")
    return filt, form


@router.get("/replay")
def bulk_confirm(request: Request, user: User, db: Db) -> HTMLResponse:
    """The confirmation step of a bulk replay: the filter and how many messages it would replay."""
    filt, form = _replay_filter(request.query_params)
    replayable = form["state"] in REPLAYABLE
    count = count_messages(db, filt) if replayable else 0
    return _page(request, "bulk_confirm.html", user=user, filter=form, count=count, replayable=replayable,
                 back_url=f"{_root(request)}/messages?{urlencode(form)}")


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
        return _page(request, "error.html", user=user, status=400, title="Không thể gửi lại",
                     message="Chỉ gửi lại được thông điệp thất bại hoặc đã hủy.")
    count = bulk_replay(db, filt, user.actor)
    return RedirectResponse(f"{_root(request)}/messages?{urlencode({**form, 'done': 'bulk', 'n': count})}",
                            status_code=303)


@router.get("/audit")
def audit(request: Request, user: User, db: Db) -> HTMLResponse:
    """The audit log, newest first: who did what, when, to which messages."""
    before = request.query_params.get("before", "")
    entries = audit_log(db, limit=AUDIT_PAGE_SIZE, before_id=int(before) if before.isdigit() else None)
    next_url = (f"{_root(request)}/audit?{urlencode({'before': entries[-1]['id']})}"
                if len(entries) == AUDIT_PAGE_SIZE else None)
    return _page(request, "audit.html", user=user, entries=entries, next_url=next_url, first_page=not before)


# --- wiring ----------------------------------------------------------------------------------------------

class ConsoleHeadersMiddleware:
    """Security headers on every console answer (pages, redirects, static files)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        root_path: str = scope.get("root_path", "")
        if root_path and path.startswith(root_path):
            path = path[len(root_path):]
        if not (path == "/admin" or path.startswith("/admin/")):
            await self.app(scope, receive, send)
            return
        extra = [
            (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
            (b"x-frame-options", b"DENY"),
            (b"referrer-policy", b"no-referrer"),
            (b"x-content-type-options", b"nosniff"),
        ]
        if not path.startswith("/admin/static/"):
            extra.append((b"cache-control", b"no-store"))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _to_login(request: Request, exc: Exception) -> Response:
    next_path = exc.next_path if isinstance(exc, LoginRequiredError) else None
    target = _root(request) + "/login" + (f"?{urlencode({'next': next_path})}" if next_path else "")
    return RedirectResponse(target, status_code=303)


def _csrf_rejected(request: Request, _exc: Exception) -> Response:
    return _page(request, "error.html", status=403, title="Yêu cầu bị từ chối",
                 message="Biểu mẫu không hợp lệ hoặc đã hết hạn (thiếu mã chống giả mạo). "
                         "Hãy tải lại trang và thao tác lại.")


def install_console(app: FastAPI) -> None:
    """Add the console to ``app``: its pages, its static files, its session codec and security headers."""
    app.state.console_sessions = SessionCodec.from_settings(app.state.settings)
    app.include_router(router)
    app.mount("/admin/static", StaticFiles(directory=HERE / "static"), name="admin-static")
    app.add_exception_handler(LoginRequiredError, _to_login)
    app.add_exception_handler(CsrfRejectedError, _csrf_rejected)
    app.add_middleware(ConsoleHeadersMiddleware)
