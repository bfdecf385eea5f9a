"""Running the sandbox under uvicorn: ``serve()`` blocks; the CLI and ``python -m`` call it."""

from __future__ import annotations

import uvicorn
from starlette.types import ASGIApp

from adapters.ministry.sandbox.app import create_app
from adapters.ministry.sandbox.config import SandboxConfig

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8001


def serve(
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    config: SandboxConfig | None = None,
    *,
    log_level: str = "info",
    access_log: bool = False,
) -> None:
    """Serve a new sandbox on ``host:port`` until interrupted (Ctrl-C / SIGTERM)."""
    run(create_app(config), host, port, log_level=log_level, access_log=access_log)


def run(app: ASGIApp, host: str, port: int, *, log_level: str = "info", access_log: bool = False) -> None:
    """Serve ``app`` (a sandbox) on ``host:port`` under uvicorn until interrupted."""
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level=log_level,
        access_log=access_log,
        log_config=None,  # keep the caller's logging set-up (the gateway CLI configures it)
        # A hung answer (fault) must not hold a shutdown for long.
        timeout_graceful_shutdown=2,
    )
