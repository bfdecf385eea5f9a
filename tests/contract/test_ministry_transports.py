"""Both transports fail alike: the same httpx exception, hence the same transient error, for each failure
of the line (refused, dropped, cut short, not HTTP, silent, not reading an upload)."""

from __future__ import annotations

import socket
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager, suppress

import httpx
import pytest

from adapters.ministry.client import MinistryClient
from adapters.ministry.errors import TransientMinistryError
from adapters.ministry.transport import DEFAULT_TRANSPORT, TRANSPORT_NAMES, TransportName, make_transport

Behaviour = Callable[[socket.socket], None]


def _read_head(conn: socket.socket) -> None:
    """Read the request's head and body (closing with unread bytes would reset the connection instead)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                   if line.lower().startswith(b"content-length:")), 0)
    while len(body) < length and (chunk := conn.recv(65536)):
        body += chunk


def _close_at_once(conn: socket.socket) -> None:
    _read_head(conn)


def _cut_short(conn: socket.socket) -> None:
    _read_head(conn)
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"a\":")


def _not_http(conn: socket.socket) -> None:
    _read_head(conn)
    conn.sendall(b"SSH-2.0-OpenSSH_9.6\r\n\r\n")


def _silent(conn: socket.socket) -> None:
    _read_head(conn)
    threading.Event().wait(5)  # answers nothing: the client gives up first


def _not_reading(conn: socket.socket) -> None:
    threading.Event().wait(5)  # reads nothing: the client's upload fills the buffers and stalls


@contextmanager
def raw_server(behaviour: Behaviour) -> Iterator[str]:
    """A loopback server that treats every connection with ``behaviour``, then closes it."""
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    stopping = threading.Event()
    connections: list[socket.socket] = []

    def serve() -> None:
        while not stopping.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            connections.append(conn)
            threading.Thread(target=_handle, args=(conn,), daemon=True).start()

    def _handle(conn: socket.socket) -> None:
        with suppress(OSError):
            behaviour(conn)
        with suppress(OSError):
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stopping.set()
        for conn in connections:
            with suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
                conn.close()
        listener.close()


@contextmanager
def closed_port_url() -> Iterator[str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


async def _big_body(total: int = 64 * 1024 * 1024, chunk: int = 64 * 1024) -> AsyncIterator[bytes]:
    block = b"x" * chunk
    for _ in range(total // chunk):
        yield block


async def _request(transport: TransportName, url: str, *, upload: bool = False) -> httpx.Response:
    async with httpx.AsyncClient(transport=make_transport(transport, max_connections=4),
                                 timeout=httpx.Timeout(0.5)) as client:
        if upload:
            return await client.post(url + "/upload", content=_big_body())
        response = await client.get(url + "/x")
        await response.aread()
        return response


CASES: dict[str, tuple[Behaviour | None, type[httpx.TransportError], bool]] = {
    # failure: (the server's behaviour, None = nobody listening; the exception; whether the client uploads)
    "refused": (None, httpx.ConnectError, False),
    "closed without an answer": (_close_at_once, httpx.RemoteProtocolError, False),
    "answer cut short": (_cut_short, httpx.RemoteProtocolError, False),
    "not HTTP": (_not_http, httpx.RemoteProtocolError, False),
    "no answer in time": (_silent, httpx.ReadTimeout, False),
    "upload not read": (_not_reading, httpx.WriteTimeout, True),
}


@pytest.mark.parametrize("transport", TRANSPORT_NAMES)
@pytest.mark.parametrize("case", list(CASES))
async def test_each_failure_raises_the_same_httpx_exception_on_both_transports(
    case: str, transport: TransportName
) -> None:
    behaviour, expected, upload = CASES[case]
    with closed_port_url() if behaviour is None else raw_server(behaviour) as url, \
            pytest.raises(httpx.TransportError) as caught:
        await _request(transport, url, upload=upload)
    assert type(caught.value) is expected, repr(caught.value)


@pytest.mark.parametrize("transport", TRANSPORT_NAMES)
@pytest.mark.parametrize(("behaviour", "code"), [(_close_at_once, "PROTOCOL"), (_silent, "TIMEOUT")])
async def test_the_client_classifies_them_alike(transport: TransportName, behaviour: Behaviour, code: str) -> None:
    with raw_server(behaviour) as url:
        async with MinistryClient(url, "id", "secret", timeout=0.5, transport_name=transport) as client:
            with pytest.raises(TransientMinistryError) as caught:
                await client.changes(None, 10)
    assert (caught.value.code, caught.value.status) == (code, None)


def test_the_default_transport_is_the_faster_one_the_benchmark_chose() -> None:
    # bench/delivery.py compares them; README "Performance" has the numbers.
    assert DEFAULT_TRANSPORT == "aiohttp"
