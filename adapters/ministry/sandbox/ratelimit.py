"""Token-bucket rate limit per client (contract §7: ~20 requests/s on average, bursts of 40)."""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

from adapters.ministry.sandbox.clock import Clock
from adapters.ministry.sandbox.config import RateLimitSettings


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """One bucket per client: ``burst`` tokens, refilled at ``rate_per_second``."""

    def __init__(self, settings: RateLimitSettings, clock: Clock) -> None:
        self._settings = settings
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[str, _Bucket] = {}

    def acquire(self, client_id: str) -> int | None:
        """Take a token for one request: None if allowed, else the Retry-After (whole seconds, >= 1)."""
        if not self._settings.enabled:
            return None
        rate, burst = self._settings.rate_per_second, float(self._settings.burst)
        now = self._clock.monotonic()
        with self._lock:
            bucket = self._buckets.setdefault(client_id, _Bucket(burst, now))
            bucket.tokens = min(burst, bucket.tokens + (now - bucket.updated) * rate)
            bucket.updated = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return None
            return max(1, math.ceil((1.0 - bucket.tokens) / rate))

    def reset(self) -> None:
        """Full buckets for everyone."""
        with self._lock:
            self._buckets.clear()
