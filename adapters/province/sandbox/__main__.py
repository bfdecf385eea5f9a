"""``python -m adapters.province.sandbox``: run the province sandbox (see ``--help``)."""

from __future__ import annotations

import argparse
import json
import logging

from adapters.province.sandbox.config import CallbackFaults, ProvinceSandboxConfig
from adapters.province.sandbox.server import DEFAULT_HOST, DEFAULT_PORT, serve


def parse_config(argv: list[str] | None = None) -> tuple[str, int, ProvinceSandboxConfig]:
    """``(host, port, config)``: the environment (``PROVINCE_SANDBOX_*``), overridden by arguments."""
    parser = argparse.ArgumentParser(prog="python -m adapters.province.sandbox", description=__doc__)
    parser.add_argument("--host", default=DEFAULT_HOST)
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--gateway-url", default=None, help="where sample dossiers are posted")
    parser.add_argument("--api-key", default=None, help="the gateway API key (dossiers:write)")
    parser.add_argument("--callback-secret", default=None, help="HMAC key of X-Gateway-Signature")
    parser.add_argument("--faults", default=None, help='start-up faults as JSON, e.g. \'{"down": true}\'')
    args = parser.parse_args(argv)
    config = ProvinceSandboxConfig.from_env()
    changes: dict[str, object] = {}
    if args.gateway_url:
        changes["gateway_url"] = args.gateway_url.rstrip("/")
    if args.api_key:
        changes["api_key"] = args.api_key
    if args.callback_secret:
        changes["callback_secret"] = args.callback_secret
    if args.faults:
        changes["faults"] = CallbackFaults.model_validate(json.loads(args.faults))
    return args.host, args.port, config.model_copy(update=changes)


def main(argv: list[str] | None = None) -> None:
    """Parse the arguments and serve until interrupted."""
    host, port, config = parse_config(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    serve(host, port, config)


if __name__ == "__main__":
    main()
