"""A peer client's failures (ministry, population), translated into the outbox's retry-or-give-up terms."""

from __future__ import annotations

from typing import Any

from adapters.common.errors import RATE_LIMITED, PeerError
from outbox import DeliveryError, PermanentError, TransientError


def ministry_detail(error: PeerError) -> dict[str, Any]:
    """What is stored with the message and shown to administrators: status, maLoi and chiTiet (the ministry's
    names; the population service shares its error shape)."""
    return {
        "status": error.status,
        "maLoi": error.code,
        "thongDiep": error.message,
        "chiTiet": [{"truong": d.field, "thongDiep": d.message} for d in error.details],
    }


def translate(error: PeerError) -> DeliveryError:
    """Transient (retry, honouring Retry-After) or permanent (dead letter), per the contract's table."""
    if error.transient:
        return TransientError(
            str(error),
            retry_after=error.retry_after,
            # A rate limit is pacing, not an outage: it does not count against the peer's circuit.
            trips_breaker=error.code != RATE_LIMITED and error.status != 429,
            detail=ministry_detail(error),
        )
    return PermanentError(str(error), detail=ministry_detail(error))
