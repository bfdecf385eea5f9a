"""The ministry sandbox as a FastAPI app: the whole contract, strictly, with faults on demand.

``create_app(config)`` builds one independent instance (its own in-memory state), so tests can
run several side by side; ``adapters.ministry.sandbox.server.serve`` runs one under uvicorn.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from adapters.ministry.sandbox import admin, api, views
from adapters.ministry.sandbox.clock import Clock
from adapters.ministry.sandbox.config import SandboxConfig
from adapters.ministry.sandbox.errors import FieldError, OAuthError, SandboxError, invalid, system_error
from adapters.ministry.sandbox.middleware import AnswerLostError, SandboxMiddleware, quiet_lost_answers
from adapters.ministry.sandbox.state import SandboxCore, SandboxState

_log = logging.getLogger(__name__)

_STATUS_CODES = {404: "KHONG_TIM_THAY", 405: "PHUONG_THUC_KHONG_HO_TRO"}


def create_app(config: SandboxConfig | None = None, *, clock: Clock | None = None) -> FastAPI:
    """A new sandbox with its own state; ``clock`` replaces the real clocks (tests)."""
    state = SandboxState(config or SandboxConfig(), clock or Clock())
    return platform_app(state, "Ministry social-assistance API v1 — sandbox", api.router, admin.router, views.router)


def platform_app(state: SandboxCore, title: str, *routers: APIRouter) -> FastAPI:
    """A sandbox app on this platform: docs under /_sandbox, ``routers``, the contract's error shapes, and the
    request log and fault injection around the contract's paths (the population sandbox is one too)."""
    app = FastAPI(title=title, docs_url="/_sandbox/docs", redoc_url=None, openapi_url="/_sandbox/openapi.json")
    app.state.sandbox = state
    for router in routers:
        app.include_router(router)
    install_error_handlers(app)
    app.add_middleware(SandboxMiddleware, state=state)
    quiet_lost_answers()
    return app


def sandbox_state(app: FastAPI) -> SandboxState:
    """The state of a sandbox app (for tests that look inside)."""
    state: SandboxState = app.state.sandbox
    return state


def install_error_handlers(app: FastAPI) -> None:
    """Every error answered in the contract's shapes (§2, or OAuth's), a crash as 500 LOI_HE_THONG."""

    async def sandbox_error(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, SandboxError)
        return exc.response()

    async def oauth_error(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, OAuthError)
        return exc.response()

    async def http_error(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        code = _STATUS_CODES.get(exc.status_code)
        if code is None:
            code = "DU_LIEU_KHONG_HOP_LE" if exc.status_code < 500 else "LOI_HE_THONG"
        headers = dict(exc.headers or {})
        error = SandboxError(exc.status_code, code, headers=headers)
        return error.response()

    async def validation_error(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        details = [
            FieldError(".".join(str(p) for p in e.get("loc", ()) if p not in ("body", "query", "path")) or "$",
                       str(e.get("msg", "")))
            for e in exc.errors()
        ]
        return invalid(details).response()

    async def unexpected(_: Request, exc: Exception) -> Response:
        if not isinstance(exc, AnswerLostError):  # on purpose: the answer has started, nothing is sent
            _log.error("sandbox bug", exc_info=exc)
        return system_error(500).response()

    app.add_exception_handler(SandboxError, sandbox_error)
    app.add_exception_handler(OAuthError, oauth_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(Exception, unexpected)
