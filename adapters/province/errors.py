"""Failures of a call to the province (status callbacks), in the adapter's own terms.

Every callback failure is worth retrying (province-api.md §4: retried until a 2xx); what differs
is whether an answer came back (:class:`ProvinceRejected`, with its status, ``Retry-After`` and a
short excerpt of its body) or none did (:class:`ProvinceUnavailable`: timeout or connection), and
whether the failure says the province is down (``trips_breaker``). The gateway translates these
into the outbox's terms (``gateway/callbacks/handler.py``).
"""

from __future__ import annotations

TIMEOUT = "timeout"
CONNECTION = "connection"
BODY_EXCERPT_CHARS = 300


class ProvinceError(Exception):
    """A callback the province did not accept; ``str()`` is a message safe to log and store."""

    def __init__(self, message: str, *, status: int | None = None, retry_after: float | None = None,
                 trips_breaker: bool = True, body: str | None = None, reason: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.retry_after = retry_after
        self.trips_breaker = trips_breaker
        self.body = body
        self.reason = reason


class ProvinceUnavailable(ProvinceError):
    """No answer: the request timed out (``reason`` ``timeout``) or never connected (``connection``)."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message, reason=reason)


class ProvinceRejected(ProvinceError):
    """An answer other than 2xx; ``trips_breaker`` for a 5xx (the province is failing, not refusing)."""

    def __init__(self, status: int, *, retry_after: float | None, body: str) -> None:
        super().__init__(f"province answered HTTP {status}", status=status, retry_after=retry_after,
                         trips_breaker=status >= 500, body=body[:BODY_EXCERPT_CHARS])
