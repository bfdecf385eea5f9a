"""Everything one sandbox instance holds, in one object the routes and middleware share."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from adapters.ministry.sandbox.beneficiaries import DEFAULT_BENEFICIARIES, BeneficiaryRegistry
from adapters.ministry.sandbox.clock import Clock
from adapters.ministry.sandbox.config import SandboxConfig
from adapters.ministry.sandbox.faults import FaultInjector
from adapters.ministry.sandbox.idempotency import IdempotencyStore
from adapters.ministry.sandbox.ratelimit import RateLimiter
from adapters.ministry.sandbox.requestlog import RequestLog
from adapters.ministry.sandbox.store import SandboxStore
from adapters.ministry.sandbox.tokens import TokenRegistry


class SandboxCore(Protocol):
    """What the platform pieces (middleware, token and bearer checks, fault and log routes) need of a
    sandbox's state: the ministry's, or another peer's on the same platform (the population sandbox)."""

    clock: Clock
    faults: FaultInjector
    tokens: TokenRegistry
    limiter: RateLimiter
    log: RequestLog

    def reset(self) -> None:
        """Back to how it started."""


@dataclass
class SandboxState:
    """Configuration and state of one sandbox; ``reset()`` returns it to how it started."""

    config: SandboxConfig
    clock: Clock = field(default_factory=Clock)

    def __post_init__(self) -> None:
        c = self.config
        self.store = SandboxStore(
            clock=self.clock, file_retention_seconds=c.file_retention_seconds, keep_file_bytes=c.keep_file_bytes
        )
        self.faults = FaultInjector(c.faults)
        self.tokens = TokenRegistry(
            clients=c.clients,
            lifetime_seconds=c.token_lifetime_seconds,
            clock=self.clock,
            max_age=self.faults.token_max_age,
        )
        self.limiter = RateLimiter(c.rate_limit, self.clock)
        # The people the ministry pays (§8), beside the dossiers: seeded at start and on every reset.
        self.beneficiaries = BeneficiaryRegistry(DEFAULT_BENEFICIARIES if c.seed_beneficiaries else ())
        self.idempotency = IdempotencyStore(ttl_seconds=c.idempotency_ttl_seconds, clock=self.clock)
        self.log = RequestLog(c.request_log_limit)

    def reset(self) -> None:
        """Empty every store, forget every token and request, put the start-up faults and people back."""
        self.store.reset()
        self.beneficiaries.reset()
        self.tokens.reset()
        self.limiter.reset()
        self.idempotency.reset()
        self.faults.replace(self.config.faults)
        self.log.reset()
