"""OAuth 2.0 client-credentials token: reading the token answer, and a cache that refreshes once.

One token request per expiry, not per call: the cache hands the same token to every caller until
shortly before it expires, and an ``asyncio.Lock`` makes concurrent callers that find it stale
wait for a single refresh instead of each asking for one.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx

from adapters.common.errors import INVALID_RESPONSE, ErrorKinds, PeerError, json_object_or_empty

TOKEN_PATH = "/oauth2/token"  # noqa: S105 - a URL path, not a secret
MAX_REFRESH_MARGIN = 15.0  # seconds
# The contracts always send expires_in; if a server ever omits it, assume a short life rather
# than a long one (an extra token request costs little, a dead token costs a 401 round trip).
DEFAULT_EXPIRES_IN = 60.0

# RFC 6749 §5.2 errors that mean "your client registration is wrong", not "try again".
CONFIGURATION_ERRORS = frozenset(
    {"invalid_client", "unauthorized_client", "invalid_scope", "invalid_grant", "unsupported_grant_type"}
)


def token_form(client_id: str, client_secret: str, scope: str) -> dict[str, str]:
    """The form fields of a client-credentials token request."""
    return {
        "grant_type": "client_credentials",
        "client_id": client_id,
        "client_secret": client_secret,
        "scope": scope,
    }


def refresh_margin(expires_in: float) -> float:
    """How long before expiry a token stops being handed out: 10 % of its life, at most 15 s."""
    return min(expires_in * 0.1, MAX_REFRESH_MARGIN)


def parse_token_response(
    response: httpx.Response, kinds: ErrorKinds, classify: Callable[[httpx.Response], PeerError]
) -> tuple[str, float]:
    """``(access_token, expires_in)`` from the token endpoint's answer, or the error it stands for.

    A rejected client (401, or a 400 with an OAuth configuration error) is ``kinds.credentials``;
    other failures are what ``classify`` says, as for any other call.
    """
    status = response.status_code
    if status in (400, 401):
        error = json_object_or_empty(response).get("error")
        if status == 401 or error in CONFIGURATION_ERRORS:
            code = error if isinstance(error, str) and error else "invalid_client"
            raise kinds.credentials(
                f"{kinds.peer} rejected the gateway's client credentials "
                "(check the configured client id, secret and scope)",
                status=status,
                code=code,
            )
    if not 200 <= status < 300:
        raise classify(response)

    body = json_object_or_empty(response)
    token = body.get("access_token")
    if not isinstance(token, str) or not token:
        raise kinds.transient("token answer without an access_token", status=status, code=INVALID_RESPONSE)
    return token, _expires_in(body.get("expires_in"))


def _expires_in(raw: Any) -> float:
    if isinstance(raw, bool):
        return DEFAULT_EXPIRES_IN
    try:
        value = float(raw)
    except (TypeError, ValueError):
        return DEFAULT_EXPIRES_IN
    return value if math.isfinite(value) and value > 0 else DEFAULT_EXPIRES_IN


@dataclass(frozen=True, slots=True)
class _Token:
    value: str
    refresh_at: float  # clock reading from which it is no longer handed out


TokenFetcher = Callable[[], Awaitable[tuple[str, float]]]


class TokenCache:
    """Caches one bearer token and refreshes it at most once per expiry, whatever the concurrency.

    ``fetch`` performs the token request and returns ``(access_token, expires_in)``; ``clock`` is
    a monotonic clock in seconds (injectable for tests).
    """

    def __init__(self, fetch: TokenFetcher, *, clock: Callable[[], float]) -> None:
        self._fetch = fetch
        self._clock = clock
        self._token: _Token | None = None
        self._lock = asyncio.Lock()
        self._generation = 0  # counts finished fetches, successful or not
        self._last_error: PeerError | None = None

    async def get(self, *, reject: str | None = None) -> str:
        """A valid token; ``reject`` is one the peer just refused, so it must not be returned."""
        if (token := self._usable(reject)) is not None:
            return token
        seen = self._generation
        async with self._lock:
            if (token := self._usable(reject)) is not None:
                return token
            if self._generation != seen and self._last_error is not None:
                # The fetch we queued behind just failed: share its failure rather than send the
                # next of N identical requests to a token endpoint that is down.
                raise self._last_error
            return await self._refresh()

    def invalidate(self, token: str) -> None:
        """Forget ``token`` if it is the cached one (the peer refused it)."""
        if self._token is not None and self._token.value == token:
            self._token = None

    def _usable(self, reject: str | None) -> str | None:
        token = self._token
        if token is None or token.value == reject or self._clock() >= token.refresh_at:
            return None
        return token.value

    async def _refresh(self) -> str:
        # Expiry counts from before the request: the peer's clock started no later than that.
        started = self._clock()
        try:
            value, expires_in = await self._fetch()
        except PeerError as error:
            self._last_error = error
            self._generation += 1
            raise
        self._token = _Token(value, started + expires_in - refresh_margin(expires_in))
        self._last_error = None
        self._generation += 1
        return value
