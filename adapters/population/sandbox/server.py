"""Running the sandbox under uvicorn: ``serve()`` blocks; the CLI and ``python -m`` call it."""

from __future__ import annotations

import uvicorn

from adapters.population.sandbox.app import create_app
from adapters.population.sandbox.config import PopulationSandboxConfig

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8003


def serve(
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    config: PopulationSandboxConfig | None = None,
    *,
    log_level: str = "info",
    access_log: bool = False,
) -> None:
    """Serve a new sandbox on ``host:port`` until interrupted; ``config`` defaults to the environment's."""
    uvicorn.run(
        create_app(config),
        host=host,
        port=port,
        log_level=log_level,
        access_log=access_log,  # uvicorn's access lines carry no body, but nothing is gained by them
        log_config=None,  # keep the caller's logging set-up (the gateway CLI configures it)
        timeout_graceful_shutdown=2,  # a hung answer (fault) must not hold a shutdown for long
    )
