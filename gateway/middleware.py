"""Pure ASGI middlewares: request id and access log; limits on request heads and on slow bodies; the base of
these and of the admin console's headers (:class:`HttpMiddleware`)."""

from __future__ import annotations

import time
import uuid
from typing import Any

import anyio
import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.problems import Problem, problem_response

log = structlog.get_logger("gateway.access")

_QUIET_PREFIXES = ("/health", "/metrics")


class HttpMiddleware:
    """A pure ASGI middleware of HTTP requests: :meth:`handle` sees each one; anything else (lifespan, websockets)
    goes straight to the app."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await self.handle(scope, receive, send)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        """One HTTP request (the default passes it on)."""
        await self.app(scope, receive, send)


class RequestContextMiddleware(HttpMiddleware):
    """Bind ``request_id`` (from ``X-Request-ID`` or new) for every log line of the request."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
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


class InputLimitsMiddleware(HttpMiddleware):
    """Refuse oversized request heads (431) and cut off bodies that arrive too slowly (408), as problem+json.

    The body deadline runs from the request's start over the whole body, so a client trickling a few
    bytes at a time cannot hold a worker (and staged files) for longer than ``body_timeout_s``. The
    refusal is raised from ``receive`` inside the app: the reader discards what it staged, and the
    problem handlers answer.
    """

    def __init__(self, app: ASGIApp, *, max_header_bytes: int, body_timeout_s: float) -> None:
        super().__init__(app)
        self.max_header_bytes = max_header_bytes
        self.body_timeout_s = body_timeout_s

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        head = len(scope.get("raw_path") or b"") + len(scope.get("query_string") or b"")
        head += sum(len(name) + len(value) + 4 for name, value in scope["headers"])
        if head > self.max_header_bytes:
            problem = Problem(431, "headers_too_large",
                              f"Dòng yêu cầu và phần đầu (header) vượt quá {self.max_header_bytes} byte.",
                              headers={"Connection": "close"})
            await problem_response(problem, scope.get("path"))(scope, receive, send)
            return
        deadline = time.monotonic() + self.body_timeout_s
        body_done = False

        async def receive_in_time() -> Message:
            nonlocal body_done
            if body_done:
                return await receive()
            try:
                with anyio.fail_after(max(deadline - time.monotonic(), 0)):
                    message = await receive()
            except TimeoutError:
                log.warning("body_timeout", path=scope.get("path"), timeout_s=self.body_timeout_s)
                raise Problem(408, "body_timeout",
                              f"Không nhận đủ dữ liệu yêu cầu trong {self.body_timeout_s:g} giây.",
                              headers={"Connection": "close"}) from None
            if message["type"] != "http.request" or not message.get("more_body", False):
                body_done = True
            return message

        await self.app(scope, receive_in_time, send)
