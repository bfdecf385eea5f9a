"""The admin web console under ``/admin``, wired into the app: :func:`install_console`.

Server-rendered pages (:mod:`gateway.admin.console_routes`, Jinja2 templates through
:mod:`gateway.admin.console_render`) over :mod:`gateway.admin.service`. Log in with an API key holding the ``admin``
scope (or ``monitor``: every page, no action); the session is a signed, HttpOnly, SameSite=Strict cookie and every
form carries a CSRF token bound to it (:mod:`gateway.admin.console_session`). No JavaScript: plain links and forms,
and security headers on every answer.
"""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.types import Message, Receive, Scope, Send

from gateway.admin.console_dossiers import router as dossier_router
from gateway.admin.console_render import STATIC, page, root
from gateway.admin.console_routes import router
from gateway.admin.console_session import (
    ActionForbiddenError,
    CsrfRejectedError,
    LoginRequiredError,
    SessionCodec,
)
from gateway.middleware import HttpMiddleware

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


class ConsoleHeadersMiddleware(HttpMiddleware):
    """Security headers on every console answer (pages, redirects, static files)."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
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
    target = root(request) + "/login" + (f"?{urlencode({'next': next_path})}" if next_path else "")
    return RedirectResponse(target, status_code=303)


def _csrf_rejected(request: Request, _exc: Exception) -> Response:
    return page(request, "error.html", status=403, title="Yêu cầu bị từ chối",
                message="Biểu mẫu không hợp lệ hoặc đã hết hạn (thiếu mã chống giả mạo). "
                        "Hãy tải lại trang và thao tác lại.")


def _action_forbidden(request: Request, _exc: Exception) -> Response:
    return page(request, "error.html", status=403, title="Không có quyền thao tác",
                message="Vai trò giám sát (monitor) chỉ được xem; thao tác này cần khóa API có quyền quản trị (admin).")


def install_console(app: FastAPI) -> None:
    """Add the console to ``app``: its pages, its static files, its session codec and security headers."""
    app.state.console_sessions = SessionCodec.from_settings(app.state.settings)
    app.include_router(router)
    app.include_router(dossier_router)
    app.mount("/admin/static", StaticFiles(directory=STATIC), name="admin-static")
    app.add_exception_handler(LoginRequiredError, _to_login)
    app.add_exception_handler(CsrfRejectedError, _csrf_rejected)
    app.add_exception_handler(ActionForbiddenError, _action_forbidden)
    app.add_middleware(ConsoleHeadersMiddleware)
