"""``python -m adapters.ministry.sandbox``: run the ministry sandbox (see ``--help``)."""

from __future__ import annotations

import argparse
import json
import logging

from adapters.ministry.sandbox.config import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    FaultSettings,
    RateLimitSettings,
    SandboxConfig,
)
from adapters.ministry.sandbox.server import DEFAULT_HOST, DEFAULT_PORT, serve


def parse_config(argv: list[str] | None = None) -> tuple[str, int, SandboxConfig]:
    """``(host, port, config)`` from command-line arguments."""
    parser = argparse.ArgumentParser(prog="python -m adapters.ministry.sandbox", description=__doc__)
    parser.add_argument("--host", default=DEFAULT_HOST)
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--client-id", default=DEFAULT_CLIENT_ID)
    parser.add_argument("--client-secret", default=DEFAULT_CLIENT_SECRET)
    parser.add_argument("--token-lifetime", type=int, default=300, help="expires_in of tokens (s)")
    parser.add_argument("--no-rate-limit", action="store_true", help="disable the 20/s, burst 40 limit")
    parser.add_argument("--faults", default=None, help='fault settings as JSON, e.g. \'{"error_503_rate": 0.1}\'')
    args = parser.parse_args(argv)
    config = SandboxConfig(
        clients={args.client_id: args.client_secret},
        token_lifetime_seconds=args.token_lifetime,
        rate_limit=RateLimitSettings(enabled=not args.no_rate_limit),
        faults=FaultSettings.model_validate(json.loads(args.faults)) if args.faults else FaultSettings(),
    )
    return args.host, args.port, config


def main(argv: list[str] | None = None) -> None:
    """Parse the arguments and serve until interrupted."""
    host, port, config = parse_config(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    serve(host, port, config)


if __name__ == "__main__":
    main()
