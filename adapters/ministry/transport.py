"""Choice of the HTTP transport under the httpx API: httpx's own pool, or aiohttp's.

Both keep ``httpx.AsyncClient`` on top, so the client code and its tests do not change; the
benchmarks decide which one the gateway runs with.
"""

from __future__ import annotations

from typing import Literal

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport

TransportName = Literal["httpx", "aiohttp"]
TRANSPORT_NAMES: tuple[TransportName, ...] = ("httpx", "aiohttp")


def make_limits(max_connections: int) -> httpx.Limits:
    """Pool limits: every connection we may open may also be kept alive for reuse."""
    if max_connections < 1:
        raise ValueError("max_connections must be at least 1")
    return httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)


def make_transport(name: TransportName = "httpx", *, max_connections: int = 32) -> httpx.AsyncBaseTransport:
    """A fresh transport of the named kind with a pool of ``max_connections``.

    No transport-level retries: retrying is the outbox's decision, with its backoff and budget.
    """
    limits = make_limits(max_connections)
    if name == "httpx":
        return httpx.AsyncHTTPTransport(limits=limits, retries=0)
    if name == "aiohttp":
        return _AiohttpTransport(limits=limits)
    raise ValueError(f"unknown transport {name!r}; expected one of {TRANSPORT_NAMES}")


class _AiohttpTransport(AiohttpTransport):
    """httpx-aiohttp's transport, with the aiohttp exceptions it leaves unmapped turned into httpx ones.

    Its own map covers the common cases; anything else (a total timeout, an unusual ClientError)
    would escape the client's ``httpx.RequestError`` handling and be mistaken for a bug.
    """

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return await super().handle_async_request(request)
        except TimeoutError as exc:
            raise httpx.TimeoutException(f"aiohttp: {type(exc).__name__}", request=request) from exc
        except aiohttp.ClientError as exc:
            raise httpx.TransportError(f"aiohttp: {type(exc).__name__}", request=request) from exc
