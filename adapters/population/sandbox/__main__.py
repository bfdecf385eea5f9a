"""``python -m adapters.population.sandbox``: run the population sandbox (see ``--help``)."""

from __future__ import annotations

import argparse
import logging

from adapters.population.sandbox.config import PopulationSandboxConfig
from adapters.population.sandbox.server import DEFAULT_HOST, DEFAULT_PORT, serve


def main(argv: list[str] | None = None) -> None:
    """Parse the arguments and serve until interrupted (configuration from ``POPULATION_SANDBOX_*``)."""
    parser = argparse.ArgumentParser(prog="python -m adapters.population.sandbox", description=__doc__)
    parser.add_argument("--host", default=DEFAULT_HOST)
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    serve(args.host, args.port, PopulationSandboxConfig.from_env())


if __name__ == "__main__":
    main()
