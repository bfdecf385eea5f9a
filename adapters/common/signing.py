"""The gateway's webhook signature, of every signed POST it makes (the province callbacks of province-api.md §4,
the alerts of docs/contracts/alerts.md): ``X-Gateway-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>." +
body>``, with one ``v1=`` entry per secret while a secret is being rotated.

Pure functions, no clock of their own: the caller passes the time, so the sender (the gateway)
and the receiver (the province sandbox, or a province's own code) agree byte for byte.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Sequence

SIGNATURE_HEADER = "X-Gateway-Signature"

TOLERANCE_S = 300.0
"""Receivers reject a signature older than this (the contract's 5 minutes), or as far in the future."""

MISSING = "missing"
MALFORMED = "malformed"
STALE = "stale"
MISMATCH = "mismatch"

_TIMESTAMP = re.compile(r"[0-9]{1,12}")  # ASCII only: str.isdigit() would let "²" through to int()
_HEX_SHA256 = re.compile(r"[0-9a-fA-F]{64}")

Secret = bytes | str


class SignatureError(Exception):
    """A signature that must be refused; ``reason`` is ``missing``, ``malformed``, ``stale`` or ``mismatch``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _key(secret: Secret) -> bytes:
    key = secret.encode() if isinstance(secret, str) else bytes(secret)
    if not key:
        # An empty key signs nothing anyone could not forge: a configuration mistake, not a signature.
        raise ValueError("the callback secret must not be empty")
    return key


def signature(secret: Secret, body: bytes, timestamp: int) -> str:
    """The hex HMAC-SHA256 of ``"<timestamp>." + body``."""
    return hmac.new(_key(secret), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def sign(secret: Secret | Sequence[Secret], body: bytes, timestamp: int) -> str:
    """The ``X-Gateway-Signature`` header value for ``body`` sent at ``timestamp`` (unix seconds).

    ``secret`` may be several secrets (a rotation in progress): the header then carries one ``v1=`` entry per
    secret, in the order given (``t=…,v1=<first>,v1=<second>``), so a receiver holding any one of them accepts it.
    """
    if timestamp < 0:
        raise ValueError("timestamp must not be negative")
    secrets = _secrets(secret)
    return ",".join([f"t={timestamp}", *(f"v1={signature(key, body, timestamp)}" for key in secrets)])


def _secrets(secret: Secret | Sequence[Secret]) -> list[Secret]:
    secrets: list[Secret] = [secret] if isinstance(secret, bytes | str) else list(secret)
    if not secrets:
        raise ValueError("at least one callback secret is required")
    return secrets


def parse(header: str | None) -> tuple[int, list[str]]:
    """``(t, [v1 hex, …])`` of a signature header; raises :class:`SignatureError` (missing/malformed).

    Entries of other schemes (``v0=…``, a future ``v2=…``) are ignored, so a sender may add them.
    """
    if header is None or not header.strip():
        raise SignatureError(MISSING)
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        name, sep, value = part.strip().partition("=")
        name, value = name.strip(), value.strip()
        if not sep or not name:
            raise SignatureError(MALFORMED)
        if name == "t":
            if timestamp is not None or not _TIMESTAMP.fullmatch(value):
                raise SignatureError(MALFORMED)
            timestamp = int(value)
        elif name == "v1":
            if not _HEX_SHA256.fullmatch(value):
                raise SignatureError(MALFORMED)
            candidates.append(value.lower())
    if timestamp is None or not candidates:
        raise SignatureError(MALFORMED)
    return timestamp, candidates


def verify(
    header: str | None,
    body: bytes,
    secret: Secret | Sequence[Secret],
    *,
    now: float,
    tolerance_s: float = TOLERANCE_S,
) -> None:
    """Raise :class:`SignatureError` unless ``header`` signs ``body`` with ``secret`` within ``tolerance_s``.

    Checks, in order: present (``missing``), well-formed (``malformed``), ``t`` within
    ``tolerance_s`` of ``now`` either way (``stale``: too old, or too far in the future), and one
    ``v1`` entry matching (``mismatch``). Several ``v1`` entries are accepted, so a sender rotating
    its secret can sign with the old and the new one; ``secret`` may likewise be several secrets
    for a receiver in the middle of a rotation. Comparisons are constant-time.
    """
    timestamp, candidates = parse(header)
    if abs(now - timestamp) > tolerance_s:
        raise SignatureError(STALE)
    matched = False
    for key in _secrets(secret):
        expected = signature(key, body, timestamp)
        for candidate in candidates:
            # No early exit: the time taken does not tell which entry or secret matched.
            matched |= hmac.compare_digest(expected, candidate)
    if not matched:
        raise SignatureError(MISMATCH)
