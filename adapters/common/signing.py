"""The gateway's webhook signature, shared by every signed POST it makes (province callbacks, alerts):
``X-Gateway-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>." + body>``, one ``v1`` per secret.

Pure functions, no clock of their own: the caller passes the time, so sender and receiver agree byte for
byte. Verification for receivers is :func:`adapters.province.signing.verify` (the same scheme).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

SIGNATURE_HEADER = "X-Gateway-Signature"

Secret = bytes | str


def _key(secret: Secret) -> bytes:
    key = secret.encode() if isinstance(secret, str) else bytes(secret)
    if not key:
        # An empty key signs nothing anyone could not forge: a configuration mistake, not a signature.
        raise ValueError("a signing secret must not be empty")
    return key


def signature(secret: Secret, body: bytes, timestamp: int) -> str:
    """The hex HMAC-SHA256 of ``"<timestamp>." + body``."""
    return hmac.new(_key(secret), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def split_secrets(value: str) -> list[str]:
    """A setting's comma-separated secrets (a rotation signs with each), blanks dropped."""
    return [part.strip() for part in value.split(",") if part.strip()]


def sign(secrets: Secret | Sequence[Secret], body: bytes, timestamp: int) -> str:
    """The ``X-Gateway-Signature`` value for ``body`` sent at ``timestamp``: one ``v1=`` per secret, in order."""
    if timestamp < 0:
        raise ValueError("timestamp must not be negative")
    keys = [secrets] if isinstance(secrets, bytes | str) else list(secrets)
    if not keys:
        raise ValueError("at least one signing secret is required")
    return ",".join([f"t={timestamp}", *(f"v1={signature(key, body, timestamp)}" for key in keys)])
