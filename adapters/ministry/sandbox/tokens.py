"""Bearer tokens issued by ``POST /oauth2/token`` (contract §1) and their lifetimes."""

from __future__ import annotations

import hmac
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass

from adapters.ministry.sandbox.clock import Clock


@dataclass(frozen=True)
class IssuedToken:
    """One access token: whose it is and until when (monotonic seconds) it is valid."""

    value: str
    client_id: str
    issued_at: float
    expires_at: float


class TokenRegistry:
    """Issues opaque tokens and answers "whose valid token is this?".

    ``max_age`` gives the forced token lifetime in force (a fault), which shortens every token's
    life, issued or to be issued, whatever ``expires_in`` promised; ``expire_all`` kills every
    token now (forced expiry).
    """

    def __init__(
        self,
        *,
        clients: dict[str, str],
        lifetime_seconds: int,
        clock: Clock,
        max_age: Callable[[], float | None] = lambda: None,
    ) -> None:
        self._clients = dict(clients)
        self._lifetime = lifetime_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._tokens: dict[str, IssuedToken] = {}
        self._max_age = max_age

    @property
    def lifetime_seconds(self) -> int:
        """The ``expires_in`` every token is issued with."""
        return self._lifetime

    def check_client(self, client_id: str, secret: str) -> bool:
        """True when ``client_id`` is registered with this ``secret`` (constant-time compare)."""
        expected = self._clients.get(client_id)
        return expected is not None and hmac.compare_digest(expected.encode(), secret.encode())

    def issue(self, client_id: str) -> IssuedToken:
        """A new token for ``client_id``, valid ``lifetime_seconds`` from now."""
        now = self._clock.monotonic()
        token = IssuedToken(secrets.token_urlsafe(32), client_id, now, now + self._lifetime)
        with self._lock:
            if len(self._tokens) > 10_000:
                self._tokens = {k: t for k, t in self._tokens.items() if t.expires_at > now}
            self._tokens[token.value] = token
        return token

    def client_of(self, value: str) -> str | None:
        """The client a valid, unexpired token belongs to, or None."""
        with self._lock:
            token = self._tokens.get(value)
        if token is None:
            return None
        now = self._clock.monotonic()
        max_age = self._max_age()
        if now >= token.expires_at or (max_age is not None and now - token.issued_at >= max_age):
            return None
        return token.client_id

    def expire_all(self) -> int:
        """Invalidate every token issued so far; returns how many were alive."""
        now = self._clock.monotonic()
        with self._lock:
            alive = sum(1 for t in self._tokens.values() if t.expires_at > now)
            self._tokens.clear()
        return alive

    def reset(self) -> None:
        """Forget every token."""
        with self._lock:
            self._tokens.clear()
