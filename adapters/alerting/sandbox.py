"""A small alert receiver for tests and demos: records every alert it accepts (signature checked when it has
a secret) and answers a given status for the next N alerts on demand.

``create_app(secret)`` builds the FastAPI app. Its own endpoints: ``GET /_sandbox/alerts`` (what it accepted,
in order), ``POST /_sandbox/faults {"status": 500, "count": 2}`` (the next two alerts answered 500),
``POST /_sandbox/reset``. Alerts are POSTed to ``/alerts``. No authentication: bind it to loopback.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from starlette.responses import JSONResponse, Response

from adapters.common.signing import SIGNATURE_HEADER, SignatureError, verify


@dataclass
class ReceiverState:
    """What the receiver accepted, and the faults still to answer."""

    received: list[dict[str, Any]] = field(default_factory=list)
    refused: int = 0  # alerts answered with a fault
    fault_status: int = 0
    fault_count: int = 0


def create_app(secret: str | None = None) -> FastAPI:
    """The receiver's app; alerts must be signed with ``secret`` when one is given (401 otherwise)."""
    app = FastAPI(title="Alert receiver sandbox")
    state = ReceiverState()
    app.state.receiver = state

    @app.post("/alerts")
    async def receive(request: Request) -> Response:
        body = await request.body()
        if state.fault_count > 0:
            state.fault_count -= 1
            state.refused += 1
            return JSONResponse({"error": "fault on demand"}, status_code=state.fault_status)
        if secret:
            try:
                verify(request.headers.get(SIGNATURE_HEADER), body, secret, now=time.time())
            except SignatureError as exc:
                return JSONResponse({"error": f"signature {exc.reason}"}, status_code=401)
        state.received.append(json.loads(body))
        return Response(status_code=204)

    @app.get("/_sandbox/alerts")
    async def received() -> dict[str, Any]:
        return {"alerts": state.received, "refused": state.refused}

    @app.post("/_sandbox/faults")
    async def faults(request: Request) -> dict[str, int]:
        wanted = await request.json()
        state.fault_status = int(wanted.get("status", 500))
        state.fault_count = int(wanted.get("count", 1))
        return {"status": state.fault_status, "count": state.fault_count}

    @app.post("/_sandbox/reset")
    async def reset() -> Response:
        state.received.clear()
        state.refused = state.fault_count = 0
        return Response(status_code=204)

    return app
