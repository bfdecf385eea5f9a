"""Running the sandbox under uvicorn (as the ministry sandbox runs): ``serve()`` blocks; the CLI and
``python -m`` call it."""

from __future__ import annotations

from adapters.ministry.sandbox.server import run
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
    run(create_app(config), host, port, log_level=log_level, access_log=access_log)
