"""Real HTTP servers for tests: an ASGI app under uvicorn, on a free loopback port, in a thread."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

import uvicorn
from starlette.types import ASGIApp

STARTUP_TIMEOUT = 10.0


@contextmanager
def run_server(
    app: ASGIApp,
    *,
    host: str = "127.0.0.1",
    log_level: str = "warning",
    graceful_shutdown_seconds: float = 1.0,
    lifespan: Literal["auto", "on", "off"] = "auto",
) -> Iterator[str]:
    """Serve ``app`` with uvicorn in a background thread; yields its base URL (``http://host:port``).

    The socket is bound before the server starts (port 0: the OS picks a free one), so there is
    no race for the port. On exit the server is asked to stop; requests still running (a hung
    answer) get ``graceful_shutdown_seconds`` before they are cancelled.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        log_level=log_level,
        log_config=None,  # leave the process's logging alone (pytest captures it)
        access_log=False,
        lifespan=lifespan,
        timeout_graceful_shutdown=graceful_shutdown_seconds,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name=f"uvicorn:{port}", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError("the test server exited during start-up")
            if time.monotonic() > deadline:
                raise RuntimeError("the test server did not start in time")
            time.sleep(0.01)
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=graceful_shutdown_seconds + 5)
        sock.close()
