"""Everything one population sandbox holds, in one object the routes and the middleware share.

Tokens, rate limit, faults, clock and request log are the ministry sandbox's pieces (the same LGSP
platform fronts both services); the people are this sandbox's own.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from adapters.ministry.sandbox.clock import Clock
from adapters.ministry.sandbox.faults import FaultInjector
from adapters.ministry.sandbox.ratelimit import RateLimiter
from adapters.ministry.sandbox.requestlog import LoggedRequest, RequestLog, mask_id
from adapters.ministry.sandbox.tokens import TokenRegistry
from adapters.population.sandbox.config import PopulationSandboxConfig
from adapters.population.sandbox.people import DEFAULT_PEOPLE, PeopleRegistry

__all__ = ["LoggedVerification", "PopulationSandboxState", "mask_id"]


@dataclass
class LoggedVerification(LoggedRequest):
    """A logged request, with what a verification asked and answered, masked: never a name or a date."""

    person: str | None = None  # the soDinhDanh asked about, masked (mask_id)
    request_id: str | None = None  # maYeuCau answered
    result: str | None = None  # ketQua answered
    mismatched: list[str] | None = None  # truongSaiLech answered (field names)


@dataclass
class PopulationSandboxState:
    """Configuration and state of one sandbox; ``reset()`` returns it to how it started."""

    config: PopulationSandboxConfig
    clock: Clock = field(default_factory=Clock)

    def __post_init__(self) -> None:
        c = self.config
        self.faults = FaultInjector(c.faults)
        self.tokens = TokenRegistry(
            clients=c.clients, lifetime_seconds=c.token_lifetime_seconds, clock=self.clock,
            max_age=self.faults.token_max_age,
        )
        self.limiter = RateLimiter(c.rate_limit, self.clock)
        self.log = RequestLog(c.request_log_limit, LoggedVerification)
        self.people = PeopleRegistry(DEFAULT_PEOPLE if c.seed_default_people else ())

    def new_request_id(self) -> str:
        """A fresh ``maYeuCau``."""
        return f"YC-{secrets.token_hex(8).upper()}"

    def reset(self) -> None:
        """The start-up people and faults back; every token and logged request forgotten."""
        self.people.reset()
        self.tokens.reset()
        self.limiter.reset()
        self.faults.replace(self.config.faults)
        self.log.reset()
