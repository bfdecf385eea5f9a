"""The callback signature of province-api.md §4: ``t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>." + body>``."""

from __future__ import annotations

import hashlib
import hmac

TOLERANCE_S = 300.0


class SignatureError(Exception):
    """A signature that must be refused; ``reason`` is ``missing``, ``malformed``, ``stale`` or ``mismatch``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _key(secret: bytes | str) -> bytes:
    return secret.encode() if isinstance(secret, str) else secret


def signature(secret: bytes | str, body: bytes, timestamp: int) -> str:
    """The hex HMAC-SHA256 of ``"<timestamp>." + body``."""
    return hmac.new(_key(secret), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def sign(secret: bytes | str, body: bytes, timestamp: int) -> str:
    """The ``X-Gateway-Signature`` header value for ``body`` sent at ``timestamp``."""
    return f"t={timestamp},v1={signature(secret, body, timestamp)}"


def verify(header: str | None, body: bytes, secret: bytes | str, *, now: float,
           tolerance_s: float = TOLERANCE_S) -> None:
    """Raise :class:`SignatureError` unless ``header`` signs ``body`` with ``secret`` within ``tolerance_s``.

    Several ``v1=`` entries are accepted (the sender may sign with an old and a new secret while
    rotating); timestamps too far in the future are refused like stale ones.
    """
    if not header:
        raise SignatureError("missing")
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t" and value.isdigit():
            timestamp = int(value)
        elif name == "v1" and value:
            candidates.append(value.lower())
    if timestamp is None or not candidates:
        raise SignatureError("malformed")
    if abs(now - timestamp) > tolerance_s:
        raise SignatureError("stale")
    expected = signature(secret, body, timestamp)
    if not any(hmac.compare_digest(expected, candidate) for candidate in candidates):
        raise SignatureError("mismatch")
