"""Fault injection: which fault (if any) the next request gets, from the settings in force.

The decision only; carrying it out (answering early, holding the answer, dropping the
connection) is the middleware's job.
"""

from __future__ import annotations

import random
import threading
from typing import Any

from adapters.ministry.sandbox.config import FaultSettings
from adapters.ministry.sandbox.errors import SandboxError, rate_limited, system_error


class FaultInjector:
    """Holds the fault settings in force and draws a fault per request."""

    def __init__(self, settings: FaultSettings) -> None:
        self._lock = threading.Lock()
        self._settings = settings.model_copy(deep=True)
        self._rng = random.Random(settings.seed)  # noqa: S311 - fault draws, not secrets

    @property
    def settings(self) -> FaultSettings:
        """A copy of the settings in force (``fail_next`` and ``sequence`` as consumed so far)."""
        with self._lock:
            return self._settings.model_copy(deep=True)

    def replace(self, settings: FaultSettings) -> None:
        """Put ``settings`` in force (the RNG restarts from their seed)."""
        with self._lock:
            self._settings = settings.model_copy(deep=True)
            self._rng = random.Random(settings.seed)  # noqa: S311

    def update(self, changes: dict[str, Any]) -> FaultSettings:
        """Merge ``changes`` into the settings in force; raises pydantic's ValidationError if invalid."""
        with self._lock:
            merged = FaultSettings.model_validate({**self._settings.model_dump(), **changes})
            self._settings = merged
            if "seed" in changes:
                self._rng = random.Random(merged.seed)  # noqa: S311
            return merged.model_copy(deep=True)

    def applies_to(self, path: str) -> bool:
        """Whether requests to ``path`` are subject to faults."""
        with self._lock:
            return any(path.startswith(prefix) for prefix in self._settings.path_prefixes)

    def draw(self, path: str) -> tuple[str, SandboxError | None]:
        """The fault for one request to ``path``, and the error answer to send at once, if any."""
        with self._lock:
            s = self._settings
            if not any(path.startswith(prefix) for prefix in s.path_prefixes):
                return "ok", None
            if s.fail_next > 0:
                s.fail_next -= 1
                if s.status == 429:
                    return "rate_limited", rate_limited(s.rate_limited_retry_after)
                retry_after = s.error_503_retry_after if s.status == 503 else None
                return f"error_{s.status}", system_error(s.status, retry_after)
            kind: str
            if s.sequence:
                kind = s.sequence[0]
                s.sequence = s.sequence[1:]
            else:
                kind = self._draw_rate(s)
            return kind, self._error_for(kind, s)

    def redeliver(self) -> bool:
        """Whether this change-feed page should lag one entry (a redelivery fault)."""
        with self._lock:
            rate = self._settings.feed_redeliver_rate
            return rate > 0 and self._rng.random() < rate

    def token_max_age(self) -> float | None:
        """The forced token lifetime in force, if any."""
        with self._lock:
            return self._settings.token_max_age_seconds

    def hang_seconds(self) -> float:
        """How long a ``hang`` holds its answer back."""
        with self._lock:
            return self._settings.hang_seconds

    def _draw_rate(self, s: FaultSettings) -> str:
        roll = self._rng.random()
        for kind, rate in (
            ("error_500", s.error_500_rate),
            ("error_503", s.error_503_rate),
            ("rate_limited", s.rate_limited_rate),
            ("hang", s.hang_rate),
            ("lost_answer", s.lost_answer_rate),
        ):
            if roll < rate:
                return kind
            roll -= rate
        return "ok"

    @staticmethod
    def _error_for(kind: str, s: FaultSettings) -> SandboxError | None:
        if kind == "error_500":
            return system_error(500)
        if kind == "error_503":
            return system_error(503, s.error_503_retry_after)
        if kind == "rate_limited":
            return rate_limited(s.rate_limited_retry_after)
        return None
