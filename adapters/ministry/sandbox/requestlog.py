"""The log of requests the sandbox received, so tests can count what the client really sent."""

from __future__ import annotations

import re
import threading
from collections import deque
from dataclasses import asdict, dataclass
from typing import Any

# soDinhDanh=<value> in a query string (§8 lookup): the value is masked before it is logged.
_PERSONAL_ID_PARAM = re.compile(r"(?<![^&])(soDinhDanh=)([^&]*)")


def mask_id(personal_id: str) -> str:
    """An ID number as logs show it: the first 3 and last 2 digits (``038*******34``)."""
    if len(personal_id) <= 5:
        return "*" * len(personal_id)
    return personal_id[:3] + "*" * (len(personal_id) - 5) + personal_id[-2:]


def masked_query(query: str) -> str:
    """A raw query string with every ``soDinhDanh`` value masked (:func:`mask_id`)."""
    return _PERSONAL_ID_PARAM.sub(lambda m: m[1] + mask_id(m[2]), query)


@dataclass
class LoggedRequest:
    """One request: filled in as it goes through the sandbox, final once answered."""

    seq: int
    time: str
    method: str
    path: str
    query: str
    idempotency_key: str | None
    client_id: str | None = None
    status: int | None = None  # what the sandbox answered (or would have, for a lost answer)
    fault: str | None = None  # the injected fault, if any
    replayed: bool = False  # Idempotent-Replayed: true
    answered: bool = True  # False when the answer was deliberately lost
    duration_ms: float | None = None
    # The sandbox's monotonic clock when the request arrived, in seconds (``time`` is the wall clock to the
    # second): rates and 1-second windows are counted on it.
    at_s: float | None = None
    # What the client's rate limit (§7) made of the request: "admitted" (it took a token of the bucket),
    # "refused" (429), None when it was not consulted (token requests, no or a bad token, an injected fault).
    rate_limit: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


class RequestLog:
    """A bounded, thread-safe list of LoggedRequest, oldest first."""

    def __init__(self, limit: int, entry_type: type[LoggedRequest] = LoggedRequest) -> None:
        self._entry_type = entry_type  # a subclass adds a sandbox's own (non-personal) fields
        self._lock = threading.Lock()
        self._entries: deque[LoggedRequest] = deque(maxlen=limit)
        self._seq = 0

    def start(self, *, time: str, method: str, path: str, query: str, idempotency_key: str | None,
              at_s: float | None = None) -> LoggedRequest:
        """A new entry for a request that just arrived (``at_s``: the sandbox's monotonic clock, seconds)."""
        with self._lock:
            self._seq += 1
            entry = self._entry_type(self._seq, time, method, path, query, idempotency_key)
            entry.at_s = at_s
            self._entries.append(entry)
            return entry

    def entries(self, *, path_prefix: str | None = None, method: str | None = None) -> list[LoggedRequest]:
        """The entries, optionally only those under ``path_prefix`` and/or with ``method``."""
        with self._lock:
            return [
                e for e in self._entries
                if (path_prefix is None or e.path.startswith(path_prefix))
                and (method is None or e.method == method.upper())
            ]

    def reset(self) -> None:
        """Empty the log."""
        with self._lock:
            self._entries.clear()
            self._seq = 0
