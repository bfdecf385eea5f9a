"""How a handler tells the dispatcher what went wrong: retry later, or give up."""

from __future__ import annotations

from typing import Any


class DeliveryError(Exception):
    """A failed attempt. ``detail`` is stored with the message (it must be JSON and free of personal data)."""

    def __init__(self, message: str, *, detail: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail


class TransientError(DeliveryError):
    """Worth retrying: timeouts, connection errors, 5xx, 429.

    ``retry_after`` (seconds) is a floor the peer asked for: the next attempt is never earlier.
    ``trips_breaker`` says whether the failure counts against the peer's health (a rate limit does
    not: the peer is up and asking us to slow down). The ``retry_after`` of an error that does not trip
    the breaker (a rate limit) also holds back every message to the target; a failure's is its own.
    """

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        trips_breaker: bool = True,
        detail: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message, detail=detail)
        self.retry_after = retry_after
        self.trips_breaker = trips_breaker


class PermanentError(DeliveryError):
    """Retrying cannot help (the peer refused the content): the message goes dead at once."""
