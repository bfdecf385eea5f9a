"""Choice of the HTTP transport under the httpx API: httpx's own pool, or aiohttp's.

Both keep ``httpx.AsyncClient`` on top, so the client code and its tests do not change; the
benchmarks decide which one the gateway runs with.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any, Literal

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport

TransportName = Literal["httpx", "aiohttp"]
TRANSPORT_NAMES: tuple[TransportName, ...] = ("httpx", "aiohttp")
DEFAULT_TRANSPORT: TransportName = "aiohttp"
"""The faster under the delivery benchmark (bench/delivery.py): about 1.6× the deliveries per second of
httpx's pool at 8 concurrent deliveries, and httpx's pool slows down sharply at 32."""


def make_limits(max_connections: int) -> httpx.Limits:
    """Pool limits: every connection we may open may also be kept alive for reuse."""
    if max_connections < 1:
        raise ValueError("max_connections must be at least 1")
    return httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)


def make_transport(name: TransportName = DEFAULT_TRANSPORT, *, max_connections: int = 32) -> httpx.AsyncBaseTransport:
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
    """httpx-aiohttp's transport made to fail like httpx's own: the same exception classes for the same
    failures, and a write timeout.

    httpx-aiohttp maps some aiohttp errors to the wrong httpx class (a refused connection becomes a
    ``ConnectTimeout``, a dropped connection too) and leaves others unmapped; and aiohttp has no write
    timeout, so a ministry that stops reading an upload would hold it until the attempt's own timeout.
    Here every failure is mapped from the aiohttp exception itself, and the request body is watched:
    each chunk must be written within the ``write`` timeout, as with httpx.
    """

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        write_s = request.extensions.get("timeout", {}).get("write")
        deadline: asyncio.Timeout | None = None
        try:
            if write_s is None or not _has_streamed_body(request):
                response = await super().handle_async_request(request)
            else:
                async with asyncio.timeout(None) as deadline:
                    request.stream = _WriteWatch(request.stream, deadline, write_s)
                    response = await super().handle_async_request(request)
        except TimeoutError as exc:
            if deadline is not None and deadline.expired():
                raise httpx.WriteTimeout("aiohttp: writing the request timed out", request=request) from exc
            raise _as_httpx(exc, request) from exc
        except httpx.TransportError as exc:
            raise _as_httpx(exc.__cause__ or exc, request) from exc
        except aiohttp.ClientError as exc:
            raise _as_httpx(exc, request) from exc
        response.stream = _RemappedStream(response.stream, request)
        return response


def _has_streamed_body(request: httpx.Request) -> bool:
    """True when the body is sent from a stream (an upload), not from bytes already in memory."""
    try:
        request.content  # noqa: B018 - raises while the body is an unread stream
    except httpx.RequestNotRead:
        return True
    return False


class _WriteWatch(httpx.AsyncByteStream):
    """A request body whose every chunk must be taken by the connection within ``seconds``."""

    def __init__(self, stream: Any, deadline: asyncio.Timeout, seconds: float) -> None:
        self._stream = stream
        self._deadline = deadline
        self._seconds = seconds

    async def __aiter__(self) -> AsyncIterator[bytes]:
        loop = asyncio.get_running_loop()
        pushed = -self._seconds
        async for chunk in self._stream:
            # aiohttp asks for the next chunk once this one is written: the deadline spans the write. It is
            # pushed on at most every tenth of the timeout (a timer per chunk costs), so a write that stalls
            # gets 90 to 100 % of the timeout.
            now = loop.time()
            if now - pushed >= self._seconds / 10:
                self._deadline.reschedule(now + self._seconds)
                pushed = now
            yield chunk
        self._deadline.reschedule(None)  # the answer's wait is the read timeout's business

    async def aclose(self) -> None:
        if isinstance(self._stream, httpx.AsyncByteStream):
            await self._stream.aclose()


class _RemappedStream(httpx.AsyncByteStream):
    """The answer's body, failing with the httpx exceptions httpx's own transport would raise."""

    def __init__(self, stream: Any, request: httpx.Request) -> None:
        self._stream = stream
        self._request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._stream:
                yield chunk
        except httpx.TransportError as exc:
            raise _as_httpx(exc.__cause__ or exc, self._request) from exc
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise _as_httpx(exc, self._request) from exc

    async def aclose(self) -> None:
        try:
            await self._stream.aclose()
        except httpx.TransportError as exc:
            raise _as_httpx(exc.__cause__ or exc, self._request) from exc
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise _as_httpx(exc, self._request) from exc


# Most specific first: aiohttp's timeouts are also connection errors, its connector errors also OSErrors.
_EQUIVALENTS: tuple[tuple[type[BaseException], type[httpx.TransportError]], ...] = (
    (aiohttp.ConnectionTimeoutError, httpx.ConnectTimeout),
    (aiohttp.ServerTimeoutError, httpx.ReadTimeout),
    (TimeoutError, httpx.ReadTimeout),
    (aiohttp.ClientConnectorError, httpx.ConnectError),
    (aiohttp.ServerDisconnectedError, httpx.RemoteProtocolError),  # closed without (a complete) answer
    (aiohttp.ClientPayloadError, httpx.RemoteProtocolError),  # body cut short
    (aiohttp.ClientResponseError, httpx.RemoteProtocolError),  # not HTTP that can be read
    (aiohttp.InvalidURL, httpx.UnsupportedProtocol),
    (aiohttp.ClientOSError, httpx.ReadError),  # reset by the peer
    (aiohttp.ClientConnectionResetError, httpx.ReadError),
)


def _as_httpx(exc: BaseException, request: httpx.Request) -> httpx.TransportError:
    """The httpx exception httpx's own transport raises for the failure behind ``exc``."""
    if isinstance(exc, httpx.TransportError):
        return exc
    for aiohttp_class, httpx_class in _EQUIVALENTS:
        if isinstance(exc, aiohttp_class):
            return httpx_class(f"aiohttp: {type(exc).__name__}: {exc}", request=request)
    return httpx.TransportError(f"aiohttp: {type(exc).__name__}: {exc}", request=request)
