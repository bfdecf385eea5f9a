"""The ministry client's failures, translated into the outbox's retry-or-give-up terms."""

from __future__ import annotations

from typing import Any

from adapters.ministry.errors import RATE_LIMITED, MinistryError, TransientMinistryError
from outbox import DeliveryError, PermanentError, TransientError


def ministry_detail(error: MinistryError) -> dict[str, Any]:
    """What is stored with the message and shown to administrators: status, maLoi and chiTiet."""
    return {
        "status": error.status,
        "maLoi": error.code,
        "thongDiep": error.message,
        "chiTiet": [{"truong": d.field, "thongDiep": d.message} for d in error.details],
    }


def translate(error: MinistryError) -> DeliveryError:
    """Transient (retry, honouring Retry-After) or permanent (dead letter), per the contract's table."""
    if isinstance(error, TransientMinistryError):
        return TransientError(
            str(error),
            retry_after=error.retry_after,
            trips_breaker=error.code != RATE_LIMITED,  # a rate limit is pacing, not an outage
            detail=ministry_detail(error),
        )
    return PermanentError(str(error), detail=ministry_detail(error))
