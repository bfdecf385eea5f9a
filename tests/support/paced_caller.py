"""A process that calls the ministry ``calls`` times through the gateway's paced client and shared budget.

``python -m tests.support.paced_caller <database url> <ministry base url> <calls> <rate> <burst>``;
prints ``{"ok": n, "refused": m, "codes": [...]}`` on its last line. Used to show that processes sharing a
database share one budget.
"""

from __future__ import annotations

import asyncio
import json
import sys

from adapters.ministry.client import MinistryClient
from adapters.ministry.errors import MinistryError
from gateway.db import create_database
from gateway.pacing import DatabaseSlots
from gateway.vocabulary import Peer


async def main(db_url: str, base_url: str, calls: int, rate: float, burst: int) -> dict[str, object]:
    """Make the calls all at once (the budget queues them); count how they ended."""
    db = create_database(db_url)
    codes: list[str] = []
    try:
        async with MinistryClient(base_url, "sandbox-client", "sandbox-secret", rate_per_second=rate, burst=burst,
                                  slots=DatabaseSlots(db, Peer.MINISTRY), max_budget_wait=120) as client:

            async def one() -> None:
                try:
                    await client.changes(None, 1)
                except MinistryError as exc:
                    codes.append(f"{exc.status}:{exc.code}")

            await asyncio.gather(*(one() for _ in range(calls)))
    finally:
        db.dispose()
    return {"ok": calls - len(codes), "refused": len(codes), "codes": sorted(set(codes))}


if __name__ == "__main__":
    url, base, n, r, b = sys.argv[1:6]
    print(json.dumps(asyncio.run(main(url, base, int(n), float(r), int(b)))))
