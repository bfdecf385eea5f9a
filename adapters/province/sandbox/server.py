"""Running the sandbox under uvicorn: ``serve()`` blocks; the CLI and ``python -m`` call it."""

from __future__ import annotations

import uvicorn

from adapters.province.sandbox.app import create_app
from adapters.province.sandbox.config import ProvinceSandboxConfig

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8002


def serve(
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    config: ProvinceSandboxConfig | None = None,
    *,
    log_level: str = "info",
    access_log: bool = False,
) -> None:
    """Serve a new sandbox on ``host:port`` until interrupted (Ctrl-C / SIGTERM).

    ``config`` defaults to :meth:`ProvinceSandboxConfig.from_env`. The access log is off by
    default: it adds nothing the sandbox's own log lines (MaHoSo, event, outcome) do not say.
    """
    uvicorn.run(
        create_app(config),
        host=host,
        port=port,
        log_level=log_level,
        access_log=access_log,
        log_config=None,  # keep the caller's logging set-up (the gateway CLI configures it)
        # A hung answer (fault) must not hold a shutdown for long.
        timeout_graceful_shutdown=2,
    )
