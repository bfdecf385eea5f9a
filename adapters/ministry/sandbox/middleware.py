"""The outermost layer of the contract's paths: the request log, and carrying out injected faults.

Faults come before everything else (a ministry front end failing does not look at tokens).
``hang`` and ``lost_answer`` let the request be processed in full first: the ministry acted,
the client just does not hear about it (in time).
"""

from __future__ import annotations

import asyncio
import logging
import time

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from adapters.ministry.sandbox.idempotency import REPLAYED_HEADER
from adapters.ministry.sandbox.requestlog import LoggedRequest, masked_query
from adapters.ministry.sandbox.state import SandboxCore

# Key in the ASGI scope's "state" under which handlers find the request's log entry.
LOG_ENTRY_KEY = "ministry_sandbox_log_entry"

# The paths that are the contract's (logged and subject to faults); /_sandbox/* and the page are not.
CONTRACT_PREFIXES = ("/api/", "/oauth2/")


class AnswerLostError(Exception):
    """Raised after the answer's status line went out, so the server drops the connection.

    The ASGI server cannot send a 500 once a response has started; it closes the connection, and
    the client sees the answer cut short: the "answer lost after the ministry acted" of §2.
    """


class _QuietLostAnswers(logging.Filter):
    """Keeps the server's error log free of the tracebacks of deliberately lost answers."""

    def filter(self, record: logging.LogRecord) -> bool:
        """False for the record of a deliberately lost answer."""
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, AnswerLostError)


def quiet_lost_answers() -> None:
    """Install (once) the filter that hides lost-answer tracebacks from uvicorn's error log."""
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _QuietLostAnswers) for f in logger.filters):
        logger.addFilter(_QuietLostAnswers())


def log_entry(scope: Scope) -> LoggedRequest | None:
    """The log entry of the request in ``scope``, if it is logged."""
    entry = scope.get("state", {}).get(LOG_ENTRY_KEY)
    return entry if isinstance(entry, LoggedRequest) else None


class SandboxMiddleware:
    """Logs every contract request and injects the faults the settings ask for."""

    def __init__(self, app: ASGIApp, state: SandboxCore) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(CONTRACT_PREFIXES):
            await self.app(scope, receive, send)
            return
        st = self.state
        entry = st.log.start(
            time=st.clock.iso_now(),
            method=scope["method"],
            path=scope["path"],
            query=masked_query(scope.get("query_string", b"").decode("latin-1")),  # no ID number in the log
            idempotency_key=Headers(scope=scope).get("idempotency-key"),
            at_s=round(st.clock.monotonic(), 4),
        )
        scope.setdefault("state", {})[LOG_ENTRY_KEY] = entry
        started = time.perf_counter()
        try:
            kind, error = st.faults.draw(scope["path"])
            if kind != "ok":
                entry.fault = kind
            if error is not None:
                entry.status = error.status
                await error.response()(scope, receive, send)
            elif kind in ("hang", "lost_answer"):
                await self._withheld(scope, receive, send, entry, lose=kind == "lost_answer")
            else:
                await self.app(scope, receive, _tap(send, entry))
        finally:
            entry.duration_ms = round((time.perf_counter() - started) * 1000, 1)

    async def _withheld(self, scope: Scope, receive: Receive, send: Send, entry: LoggedRequest, *, lose: bool) -> None:
        messages: list[Message] = []

        async def capture(message: Message) -> None:
            messages.append(message)

        await self.app(scope, receive, _tap(capture, entry))
        if lose:
            entry.answered = False
            start = next(m for m in messages if m["type"] == "http.response.start")
            await send(start)
            raise AnswerLostError(f"{scope['method']} {scope['path']}: answer dropped on purpose")
        await asyncio.sleep(self.state.faults.hang_seconds())
        for message in messages:
            await send(message)


def _tap(send: Send, entry: LoggedRequest) -> Send:
    async def tapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            entry.status = message["status"]
            headers = Headers(raw=message.get("headers", []))
            entry.replayed = headers.get(REPLAYED_HEADER, "").lower() == "true"
        await send(message)

    return tapped
