"""The two sandboxes as load-run peers: ``python -m bench.peers ministry|province --port N``.

Like ``gateway sandbox …``, but tuned for measuring the gateway rather than for a demo: the
ministry's rate limit off and uploaded bytes not kept (only size and sha256), both with logging
at WARNING (a log line per request would cost the peers more CPU than the gateway's own work).
"""

from __future__ import annotations

import argparse
import logging
import sys

from bench.harness import python_command

CLIENT_ID = "bench-client"
CLIENT_SECRET = "bench-secret"
CALLBACK_SECRET = "bench-callback-secret"


def command(peer: str) -> list[str]:
    """The command line of ``peer`` for :func:`bench.harness.serve` (``{port}`` filled in there)."""
    return python_command("-m", "bench.peers", peer, "--port", "{port}")


def gateway_settings(ministry_url: str, province_url: str | None = None) -> dict[str, str]:
    """The GATEWAY_* variables that point a gateway at these peers."""
    env = {"GATEWAY_MINISTRY_BASE_URL": ministry_url, "GATEWAY_MINISTRY_CLIENT_ID": CLIENT_ID,
           "GATEWAY_MINISTRY_CLIENT_SECRET": CLIENT_SECRET}
    if province_url:
        env.update({"GATEWAY_PROVINCE_CALLBACK_URL": f"{province_url}/callbacks",
                    "GATEWAY_PROVINCE_CALLBACK_SECRET": CALLBACK_SECRET})
    return env


def main(argv: list[str] | None = None) -> None:
    """Serve one sandbox until SIGTERM."""
    parser = argparse.ArgumentParser(prog="python -m bench.peers", description=__doc__)
    parser.add_argument("peer", choices=("ministry", "province"))
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--max-file-mib", type=int, default=20, help="the ministry's upload cap")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if args.peer == "ministry":
        from adapters.ministry.sandbox.config import RateLimitSettings, SandboxConfig
        from adapters.ministry.sandbox.server import serve

        serve("127.0.0.1", args.port, SandboxConfig(
            clients={CLIENT_ID: CLIENT_SECRET}, rate_limit=RateLimitSettings(enabled=False),
            keep_file_bytes=False, max_file_bytes=args.max_file_mib * 1024 * 1024, token_lifetime_seconds=3600,
            request_log_limit=1000,
        ), log_level="warning")
    else:
        from adapters.province.sandbox.config import ProvinceSandboxConfig
        from adapters.province.sandbox.server import serve as serve_province

        serve_province("127.0.0.1", args.port, ProvinceSandboxConfig(callback_secret=CALLBACK_SECRET),
                       log_level="warning")


if __name__ == "__main__":
    main(sys.argv[1:])
