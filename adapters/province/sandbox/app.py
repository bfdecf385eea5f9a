"""The province sandbox as a FastAPI app: receives the gateway's callbacks, posts sample dossiers.

``create_app(config)`` builds one independent instance (its own in-memory state), so tests can
run several side by side; ``adapters.province.sandbox.server.serve`` runs one under uvicorn.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from adapters.province.sandbox import admin, callbacks, views
from adapters.province.sandbox.config import ProvinceSandboxConfig
from adapters.province.sandbox.middleware import DownMiddleware
from adapters.province.sandbox.problems import problem
from adapters.province.sandbox.state import SandboxState
from adapters.province.sandbox.validation import FieldError

log = logging.getLogger("adapters.province.sandbox")


def create_app(
    config: ProvinceSandboxConfig | None = None, *, wall: Callable[[], float] = time.time
) -> FastAPI:
    """A new sandbox with its own state; without ``config``, from the environment.

    ``wall`` (unix seconds) replaces the real clock for signature freshness and time stamps (tests).
    """
    state = SandboxState(config or ProvinceSandboxConfig.from_env(), wall)
    app = FastAPI(
        title="Province one-stop system — sandbox",
        docs_url="/_sandbox/docs",
        redoc_url=None,
        openapi_url="/_sandbox/openapi.json",
    )
    app.state.sandbox = state
    app.include_router(callbacks.router)
    app.include_router(admin.router)
    app.include_router(views.router)
    _install_error_handlers(app)
    app.add_middleware(DownMiddleware, faults=state.faults)
    return app


def sandbox_state(app: FastAPI) -> SandboxState:
    """The state of a sandbox app (for tests that look inside)."""
    state: SandboxState = app.state.sandbox
    return state


def _install_error_handlers(app: FastAPI) -> None:
    async def http_error(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        return problem(exc.status_code, "http_error", str(exc.detail), headers=exc.headers)

    async def validation_error(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        errors = [
            FieldError(".".join(str(p) for p in e.get("loc", ()) if p not in ("body", "query", "path")) or "$",
                       str(e.get("type", "invalid")), str(e.get("msg", "")))
            for e in exc.errors()
        ]
        return problem(400, "invalid_request", errors=errors)

    async def unexpected(_: Request, exc: Exception) -> Response:
        log.error("province sandbox bug: %s", exc.__class__.__name__, exc_info=exc)
        return problem(500, "internal_error")

    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(Exception, unexpected)
