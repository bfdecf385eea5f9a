"""Attachments given by URL (``TaiLieuNop[i].DuongDanTaiTepTin``, province-api.md §2).

The gateway fetches each URL itself, streaming the body into the blob store's staging area under
the same per-file and total caps as uploaded files (the type is judged by the bytes afterwards, as
for every file). Only ``http``/``https`` URLs whose host is in the allowlist
(``GATEWAY_ATTACHMENT_URL_ALLOWLIST``) are fetched; redirects are followed by hand (at most
:data:`MAX_REDIRECTS`), each target checked again. Transient failures (timeouts, connection
errors, 5xx, 429 with ``Retry-After``) are retried a few times with tenacity.

**SSRF and DNS rebinding.** Checking a host name's addresses and then letting the HTTP client
resolve the name again to connect leaves a window in which a hostile DNS server answers with a
public address first and ``127.0.0.1`` or ``169.254.169.254`` second. So the check is done where
the connection is made: :class:`GuardedBackend` is an httpcore *network backend* whose
``connect_tcp`` resolves the host once, refuses the whole name when any of its addresses is
loopback, link-local, private, multicast, reserved, unspecified or otherwise not global (IPv4,
IPv6 and IPv4 embedded in IPv6 alike), and then opens the socket to exactly the validated IP
address. httpcore still sends the original ``Host`` header and uses the original host name for
TLS SNI and certificate checks, because both come from the request URL, not from the socket.
Every connection the client opens (first request, retries, each redirect hop) goes through this
backend, so no address is ever connected to without having been checked. Proxies from the
environment are disabled (``trust_env=False``): through a proxy the check would be meaningless.

A host may resolve to a private address only when it is listed, exactly (no wildcard), both in
the allowlist and in ``GATEWAY_ATTACHMENT_URL_ALLOW_PRIVATE`` (a province file server on the LAN).
Cloud metadata addresses (:data:`METADATA_ADDRESSES`) are refused even then.

This module knows nothing of the gateway: the caller passes the policy, the size caps and where to
stage the bytes (anything with a ``stage(limit)`` returning a :class:`StagedFile`), gets field
errors appended to its list, and turns :class:`AttachmentTooLargeError` into its own 413 answer.
"""

from __future__ import annotations

import email.utils
import ipaddress
import socket
import time
from collections.abc import Callable, Iterable, MutableMapping
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

import anyio
import anyio.abc
import httpcore
import httpx
import structlog
from httpcore._backends.anyio import AnyIOStream
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt

from mappings.errors import FieldError
from mappings.tables import error_message

log = structlog.get_logger(__name__)

URL_FIELD = "DuongDanTaiTepTin"
MAX_REDIRECTS = 3
CONNECT_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 15.0
TOTAL_TIMEOUT_S = 120.0  # one file, all attempts included (a slow drip cannot hold a request forever)
ATTEMPTS = 3
BACKOFF_BASE_S = 0.5
RETRY_AFTER_CAP_S = 5.0
CHUNK_BYTES = 64 * 1024
METADATA_ADDRESSES = frozenset({ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")})
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_REDIRECTS = frozenset({301, 302, 303, 307, 308})

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class StagedFile(Protocol):
    """Where one fetched file's bytes go (the gateway's staged blob): measured, appended, dropped."""

    @property
    def size(self) -> int:
        """Bytes written so far."""

    def write(self, chunk: bytes) -> None:
        """Append bytes (called from a worker thread)."""

    def discard(self) -> None:
        """Drop what was written (the fetch failed)."""


F = TypeVar("F", bound=StagedFile)


class FetchError(Exception):
    """A URL attachment that could not be fetched: a stable ``code`` and the HTTP status to answer."""

    def __init__(self, code: str, status: int = 422, **params: Any) -> None:
        super().__init__(code)
        self.code = code
        self.status = status
        self.params = params


class AttachmentTooLargeError(Exception):
    """A fetched file over the per-file or total cap: the whole submission is refused (413), not just the field."""

    def __init__(self, error: FieldError) -> None:
        super().__init__(error.message)
        self.error = error


class AddressRefusedError(Exception):
    """Raised by :class:`GuardedBackend` when a host resolves to an address it may not reach."""

    def __init__(self, host: str, address: str) -> None:
        super().__init__(f"{host} resolves to a refused address {address}")
        self.host = host
        self.address = address


class _RetryableStatusError(Exception):
    """A 5xx or 429 answer: worth another attempt, after ``retry_after`` seconds when the server said."""

    def __init__(self, status: int, retry_after: float | None) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status
        self.retry_after = retry_after


def normalize_host(host: str) -> str:
    """Lower case, without a trailing dot (``Files.Example.VN.`` → ``files.example.vn``)."""
    return host.strip().lower().rstrip(".")


def parse_host_list(spec: str) -> tuple[str, ...]:
    """A comma-separated host list (as in the settings), normalized; empty entries dropped."""
    return tuple(h for h in (normalize_host(part) for part in spec.split(",")) if h)


def is_forbidden_address(address: IPAddress) -> bool:
    """True for any address that is not plainly public unicast (IPv4-in-IPv6 judged by its IPv4)."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour or (address.teredo[1] if address.teredo else None)
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None and is_forbidden_address(embedded):
            return True
    return (
        address.is_loopback or address.is_link_local or address.is_private or address.is_multicast
        or address.is_reserved or address.is_unspecified or not address.is_global
    )


@dataclass(frozen=True)
class UrlPolicy:
    """Which URLs may be fetched and which hosts may resolve to private addresses."""

    allowlist: tuple[str, ...]
    allow_private: frozenset[str]

    @classmethod
    def from_lists(cls, allowlist: str, allow_private: str) -> UrlPolicy:
        """The policy of two comma-separated host lists (``GATEWAY_ATTACHMENT_URL_ALLOWLIST`` and
        ``GATEWAY_ATTACHMENT_URL_ALLOW_PRIVATE``)."""
        return cls(parse_host_list(allowlist), frozenset(parse_host_list(allow_private)))

    def host_allowed(self, host: str) -> bool:
        """True when ``host`` matches an allowlist entry: exactly, or ``*.suffix`` for a subdomain of suffix."""
        host = normalize_host(host)
        for entry in self.allowlist:
            if entry.startswith("*."):
                if host.endswith(entry[1:]) and len(host) > len(entry) - 1:
                    return True
            elif host == entry:
                return True
        return False

    def private_allowed(self, host: str) -> bool:
        """True when ``host`` is listed exactly in both lists (wildcards never grant private access)."""
        host = normalize_host(host)
        return host in self.allow_private and host in self.allowlist

    def check_url(self, url: httpx.URL) -> None:
        """Raise ``attachment_url_not_allowed`` unless ``url`` is http(s) on an allowlisted host."""
        host = _host_of(url)
        if url.scheme not in ("http", "https") or not host or not self.host_allowed(host):
            raise FetchError("attachment_url_not_allowed", host=host or "?", scheme=url.scheme)

    def check_address(self, host: str, address: IPAddress) -> None:
        """Raise :class:`AddressRefusedError` when ``host`` may not be reached at ``address``."""
        if address in METADATA_ADDRESSES or (
            isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped in METADATA_ADDRESSES
        ):
            raise AddressRefusedError(host, str(address))
        if is_forbidden_address(address) and not self.private_allowed(host):
            raise AddressRefusedError(host, str(address))


def _host_of(url: httpx.URL) -> str:
    return normalize_host(url.raw_host.decode("ascii", "replace"))


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """An httpcore network backend that resolves once, validates, and connects to the validated IP.

    httpcore calls ``connect_tcp(host, port)`` with the URL's host name; this resolves it
    (``getaddrinfo``), refuses the name if *any* address is refused by the policy (a mixed answer is
    hostile), then tries the validated addresses in order. The stream returned is a plain anyio
    stream, so TLS (``start_tls`` with the host name as SNI) and HTTP work exactly as usual.
    """

    def __init__(self, policy: UrlPolicy) -> None:
        self.policy = policy

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """Resolve ``host``, check every address, connect to a checked one."""
        try:
            with anyio.fail_after(timeout):
                infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
                addresses: list[IPAddress] = []
                for info in infos:
                    address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
                    self.policy.check_address(host, address)
                    if address not in addresses:
                        addresses.append(address)
                last: OSError | None = None
                for address in addresses:
                    try:
                        stream = await anyio.connect_tcp(str(address), port, local_host=local_address)
                    except OSError as exc:
                        last = exc
                        continue
                    for option in socket_options or ():
                        stream.extra(anyio.abc.SocketAttribute.raw_socket).setsockopt(*option)  # noqa: S610
                    return AnyIOStream(stream)
                raise httpcore.ConnectError(str(last) if last else f"no address for {host}")
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(f"connecting to {host} timed out") from exc
        except OSError as exc:  # resolution failures (socket.gaierror) and the like
            raise httpcore.ConnectError(str(exc)) from exc

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """Never used: attachments are fetched over TCP only."""
        raise httpcore.ConnectError("unix sockets are not allowed for attachment URLs")

    async def sleep(self, seconds: float) -> None:
        """Sleep (httpcore's own connect retries, unused here)."""
        await anyio.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's own transport with its connection pool rebuilt on :class:`GuardedBackend`.

    ``AsyncHTTPTransport`` takes no network backend argument, so the pool it built is replaced by
    an identical one that uses the guarded backend (same TLS context; no proxy, no environment).
    """

    def __init__(self, policy: UrlPolicy) -> None:
        super().__init__(trust_env=False)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=10,
            max_keepalive_connections=5,
            network_backend=GuardedBackend(policy),
        )


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _wait(state: RetryCallState) -> float:
    exc = state.outcome.exception() if state.outcome is not None else None
    if isinstance(exc, _RetryableStatusError) and exc.retry_after is not None:
        return min(exc.retry_after, RETRY_AFTER_CAP_S)
    return min(BACKOFF_BASE_S * 2 ** (state.attempt_number - 1), RETRY_AFTER_CAP_S)


_TRANSIENT = (_RetryableStatusError, httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)


class _Fetcher(Generic[F]):
    """Fetches the URL attachments of one submission with one guarded client."""

    def __init__(self, client: httpx.AsyncClient, policy: UrlPolicy, stage: Callable[[int], F]) -> None:
        self.client = client
        self.policy = policy
        self.stage = stage

    async def fetch(self, url: httpx.URL, limit: int) -> F:
        """The staged (unfinished) file at ``url``; raises :class:`FetchError`, leaving nothing staged."""
        self.policy.check_url(url)
        retrying = AsyncRetrying(stop=stop_after_attempt(ATTEMPTS), wait=_wait,
                                 retry=retry_if_exception_type(_TRANSIENT), reraise=True)
        host = _host_of(url)
        try:
            with anyio.fail_after(TOTAL_TIMEOUT_S):
                async for attempt in retrying:
                    with attempt:
                        return await self._attempt(url, limit)
        except AddressRefusedError as exc:
            raise FetchError("attachment_url_private_address", host=exc.host) from exc
        except _RetryableStatusError as exc:
            raise FetchError("attachment_url_http_error", host=host, http_status=exc.status) from exc
        except (httpx.TransportError, TimeoutError) as exc:
            raise FetchError("attachment_url_unreachable", host=host, attempts=ATTEMPTS) from exc
        except httpx.HTTPError as exc:  # an undecodable body (bad Content-Encoding) and the like
            raise FetchError("attachment_url_http_error", host=host, http_status="?") from exc
        raise AssertionError("unreachable")  # pragma: no cover (reraise=True always raises or returns)

    async def _attempt(self, url: httpx.URL, limit: int) -> F:
        for hop in range(MAX_REDIRECTS + 1):
            self.policy.check_url(url)
            request = self.client.build_request("GET", url)
            response = await self.client.send(request, stream=True, follow_redirects=False)
            try:
                location = response.headers.get("location")
                if response.status_code in _REDIRECTS and location:
                    if hop == MAX_REDIRECTS:
                        raise FetchError("attachment_url_too_many_redirects", host=_host_of(url),
                                         max=MAX_REDIRECTS)
                    try:
                        url = response.url.join(location)
                    except httpx.InvalidURL as exc:
                        raise FetchError("attachment_url_not_allowed", host="?", scheme="?") from exc
                    continue
                if response.status_code >= 500 or response.status_code == 429:
                    raise _RetryableStatusError(response.status_code, _retry_after(response.headers.get("retry-after")))
                if response.status_code != 200:
                    raise FetchError("attachment_url_http_error", host=_host_of(url), http_status=response.status_code)
                return await self._stream(response, limit)
            finally:
                await response.aclose()
        raise AssertionError("unreachable")  # pragma: no cover

    async def _stream(self, response: httpx.Response, limit: int) -> F:
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise FetchError("attachment_too_large", 413, host=_host_of(response.url), limit=limit)
        blob = self.stage(limit)
        try:
            async for chunk in response.aiter_bytes(CHUNK_BYTES):
                if blob.size + len(chunk) > limit:  # checked here, before the staged file's own cap
                    raise FetchError("attachment_too_large", 413, host=_host_of(response.url), limit=limit)
                await anyio.to_thread.run_sync(blob.write, chunk)
        except BaseException:
            blob.discard()
            raise
        return blob


async def fetch_url_attachments(
    raw: Any, files: MutableMapping[str, F], errors: list[FieldError], *, policy: UrlPolicy,
    stage: Callable[[int], F], max_file_bytes: int, max_total_bytes: int,
) -> None:
    """Fetch every ``TaiLieuNop[i].DuongDanTaiTepTin`` given without ``NoiDungBase64`` into ``files``.

    Each file is written into ``stage(limit)``, ``limit`` the smaller of ``max_file_bytes`` and what
    ``max_total_bytes`` leaves after the files already in ``files``. Failures are appended to
    ``errors`` as field errors on ``TaiLieuNop[i].DuongDanTaiTepTin`` (the caller answers 422 and
    discards every staged file); a file over the per-file or total cap raises
    :class:`AttachmentTooLargeError` at once. Items with a missing or repeated ``TepDinhKemId`` are
    left to the validator.
    """
    items = raw.get("TaiLieuNop") if isinstance(raw, dict) else None
    if not isinstance(items, list):
        return
    wanted = [
        (index, item["TepDinhKemId"], item[URL_FIELD])
        for index, item in enumerate(items)
        if isinstance(item, dict) and item.get(URL_FIELD) is not None and item.get("NoiDungBase64") is None
        and isinstance(item.get("TepDinhKemId"), str)
    ]
    if not wanted:
        return
    timeout = httpx.Timeout(READ_TIMEOUT_S, connect=CONNECT_TIMEOUT_S)
    async with httpx.AsyncClient(transport=GuardedTransport(policy), timeout=timeout, trust_env=False,
                                 headers={"User-Agent": "tro-giup-xa-hoi-gateway/attachment-fetch"}) as client:
        fetcher = _Fetcher(client, policy, stage)
        for index, file_id, value in wanted:
            field = f"TaiLieuNop[{index}].{URL_FIELD}"
            if file_id in files:
                continue  # a repeated id: the validator reports it
            try:
                url = _parse_url(value)
                used = sum(blob.size for blob in files.values())
                limit = min(max_file_bytes, max_total_bytes - used)
                if limit <= 0:
                    raise FetchError("attachment_too_large", 413, host=_host_of(url), limit=max_total_bytes)
                files[file_id] = await fetcher.fetch(url, limit)
            except FetchError as exc:
                log.info("attachment_url_refused", field=field, code=exc.code, host=exc.params.get("host"))
                error = FieldError(field, exc.code, error_message(exc.code, **exc.params))
                if exc.status == 413:
                    raise AttachmentTooLargeError(error) from exc
                errors.append(error)


def _parse_url(value: Any) -> httpx.URL:
    if not isinstance(value, str):
        raise FetchError("attachment_url_not_allowed", host="?", scheme="?")
    try:
        url = httpx.URL(value)
    except (httpx.InvalidURL, TypeError, ValueError) as exc:
        raise FetchError("attachment_url_not_allowed", host="?", scheme="?") from exc
    return url
