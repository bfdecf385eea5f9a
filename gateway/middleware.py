"""A pure ASGI middleware: request id in the log context and the answer, one access line per request."""

from __future__ import annotations

import time
import uuid
from typing import Any

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = structlog.get_logger("gateway.access")

_QUIET_PREFIXES = ("/health", "/metrics")


class RequestContextMiddleware:
    """Bind ``request_id`` (from ``X-Request-ID`` or new) for every log line of the request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = ""
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                request_id = value.decode("latin-1")[:64]
                break
        request_id = request_id or uuid.uuid4().hex
        status: dict[str, Any] = {"code": 500}
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
            await send(message)

        with structlog.contextvars.bound_contextvars(request_id=request_id):
            try:
                await self.app(scope, receive, send_with_id)
            finally:
                path: str = scope.get("path", "")
                if not path.startswith(_QUIET_PREFIXES):
                    log.info("http_request", method=scope.get("method"), path=path, status=status["code"],
                             duration_ms=round((time.perf_counter() - started) * 1000, 1))
