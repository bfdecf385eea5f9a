"""Start-up configuration of the population sandbox, from code or from the environment.

The fault settings are the ministry sandbox's (same shape, same ``/_sandbox/faults`` routes) and can be
replaced while it runs; people can be seeded while it runs (``/_sandbox/people``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field, field_validator

from adapters.ministry.sandbox.config import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    FaultSettings,
    RateLimitSettings,
    check_clients,
)

ENV_PREFIX = "POPULATION_SANDBOX_"
ENV_CLIENT_ID = ENV_PREFIX + "CLIENT_ID"
ENV_CLIENT_SECRET = ENV_PREFIX + "CLIENT_SECRET"
ENV_TOKEN_LIFETIME = ENV_PREFIX + "TOKEN_LIFETIME_S"
ENV_RATE = ENV_PREFIX + "RATE_PER_SECOND"
ENV_RATE_LIMIT = ENV_PREFIX + "RATE_LIMIT"
ENV_FAULTS = ENV_PREFIX + "FAULTS"
ENV_SEED = ENV_PREFIX + "SEED"


def _contract_rate_limit() -> RateLimitSettings:
    # population-api §2: about 10 requests per second per client.
    return RateLimitSettings(rate_per_second=10.0, burst=10)


class PopulationSandboxConfig(BaseModel):
    """Everything the sandbox needs at start; the defaults match the contract and ``make run``."""

    model_config = ConfigDict(extra="forbid")

    clients: dict[str, str] = Field(
        default_factory=lambda: {DEFAULT_CLIENT_ID: DEFAULT_CLIENT_SECRET},
        description="client_id -> client_secret",
    )
    token_lifetime_seconds: int = Field(default=300, ge=1, description="expires_in of issued tokens")
    rate_limit: RateLimitSettings = Field(default_factory=_contract_rate_limit)
    faults: FaultSettings = Field(default_factory=FaultSettings)
    seed_default_people: bool = Field(
        default=True, description="start with DEFAULT_PEOPLE (the province samples' beneficiary and more)"
    )
    request_log_limit: int = Field(default=100_000, ge=1, description="oldest entries are dropped past it")
    max_json_bytes: int = Field(default=16 * 1024, ge=1024)

    @field_validator("clients")
    @classmethod
    def _some_client(cls, clients: dict[str, str]) -> dict[str, str]:
        return check_clients(clients)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> PopulationSandboxConfig:
        """The defaults, overridden by ``POPULATION_SANDBOX_*``.

        ``CLIENT_ID`` / ``CLIENT_SECRET`` (one client), ``TOKEN_LIFETIME_S``, ``RATE_PER_SECOND`` (burst the
        same), ``RATE_LIMIT=off``, ``FAULTS`` (start-up faults as JSON, e.g. ``{"error_503_rate": 0.1}``),
        ``SEED=none`` (start with nobody).
        """
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        if env.get(ENV_CLIENT_ID) or env.get(ENV_CLIENT_SECRET):
            values["clients"] = {env.get(ENV_CLIENT_ID) or DEFAULT_CLIENT_ID:
                                 env.get(ENV_CLIENT_SECRET) or DEFAULT_CLIENT_SECRET}
        if env.get(ENV_TOKEN_LIFETIME):
            values["token_lifetime_seconds"] = int(env[ENV_TOKEN_LIFETIME])
        limit = _contract_rate_limit()
        if env.get(ENV_RATE):
            rate = float(env[ENV_RATE])
            limit = RateLimitSettings(rate_per_second=rate, burst=max(1, round(rate)))
        if env.get(ENV_RATE_LIMIT, "").strip().lower() in ("off", "false", "0", "no"):
            limit = RateLimitSettings(enabled=False)
        values["rate_limit"] = limit
        if env.get(ENV_FAULTS):
            values["faults"] = FaultSettings.model_validate(json.loads(env[ENV_FAULTS]))
        if env.get(ENV_SEED, "").strip().lower() in ("none", "off", "false", "0", "no"):
            values["seed_default_people"] = False
        return cls.model_validate(values)
