"""One sandbox instance's state: its configuration, memory, faults and clock."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Annotated

from fastapi import Depends, Request

from adapters.province.sandbox.config import ProvinceSandboxConfig
from adapters.province.sandbox.faults import FaultSwitch
from adapters.province.sandbox.store import Store

VN_TZ = timezone(timedelta(hours=7), "ICT")


class SandboxState:
    """Everything a request handler needs; ``wall`` is unix seconds (signature freshness, stamps)."""

    def __init__(self, config: ProvinceSandboxConfig, wall: Callable[[], float] = time.time) -> None:
        self.config = config
        self.wall = wall
        self.store = Store()
        self.faults = FaultSwitch(config.faults)

    def now_vn(self) -> datetime:
        """The current time in Vietnam (+07:00)."""
        return datetime.fromtimestamp(self.wall(), VN_TZ)

    def stamp(self) -> str:
        """The current time as ISO 8601 with the +07:00 offset, to the millisecond."""
        return self.now_vn().isoformat(timespec="milliseconds")

    def reset(self) -> None:
        """Forget everything received and posted; back to the start-up faults."""
        self.store.reset()
        self.faults.restore()


def _state(request: Request) -> SandboxState:
    state: SandboxState = request.app.state.sandbox
    return state


State = Annotated[SandboxState, Depends(_state)]
