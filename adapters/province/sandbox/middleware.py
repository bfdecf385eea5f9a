"""The ``down`` fault for everything but the control plane: the province's system is off."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from adapters.province.sandbox.callbacks import injected
from adapters.province.sandbox.faults import FaultSwitch


class DownMiddleware:
    """Answers the injected failure to every HTTP request outside ``/_sandbox/`` while ``down`` is set.

    ``POST /callbacks`` is left to its handler, which answers the same but also logs the attempt
    (tests count the gateway's retries during an outage).
    """

    def __init__(self, app: ASGIApp, faults: FaultSwitch) -> None:
        self.app = app
        self.faults = faults

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """ASGI entry point."""
        path = scope.get("path", "")
        if scope["type"] == "http" and not path.startswith("/_sandbox/") and path != "/callbacks":
            failure = self.faults.down()
            if failure is not None:
                await injected(failure)(scope, receive, send)
                return
        await self.app(scope, receive, send)
