"""The sandbox's two clocks: monotonic seconds for lifetimes, wall time (+07:00) for answers."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

VN_TZ = timezone(timedelta(hours=7), "ICT")


def _vn_now() -> datetime:
    return datetime.now(VN_TZ)


@dataclass(frozen=True)
class Clock:
    """``monotonic`` measures token, file and idempotency lifetimes; ``now`` stamps answers."""

    monotonic: Callable[[], float] = field(default=time.monotonic)
    now: Callable[[], datetime] = field(default=_vn_now)

    def iso_now(self) -> str:
        """The current time as the contract writes it: ISO 8601, seconds, +07:00 offset."""
        return self.now().astimezone(VN_TZ).isoformat(timespec="seconds")
