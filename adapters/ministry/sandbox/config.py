"""Start-up configuration of the ministry sandbox.

Every field is a plain value so a CLI can expose it as an option; the fault
settings can also be changed while the sandbox runs (``PUT /sandbox/faults``).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

MIB = 1024 * 1024

FaultKind = Literal["ok", "error_500", "error_503", "hang", "lost_answer", "rate_limited"]


class FaultSettings(BaseModel):
    """What the sandbox does wrong, and how often.

    Probabilities are exclusive per request (one draw decides among 500, 503,
    hang and lost answer), so their sum must not exceed 1. ``sequence`` and the
    429 burst are consumed before any probability is drawn, which gives tests
    a fully deterministic script without any RNG.
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    error_500_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    error_503_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    error_503_retry_after: int | None = Field(
        default=None, ge=1, description="Retry-After (s) sent with injected 503s; None = no header"
    )
    hang_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    hang_seconds: float = Field(
        default=30.0, ge=0.0, description="sleep before processing; the request is then processed normally"
    )
    lost_answer_rate: float = Field(
        default=0.0, ge=0.0, le=1.0, description="the action is performed, then the connection is dropped"
    )
    burst_429_count: int = Field(default=0, ge=0, description="the next N matching requests get 429")
    burst_429_retry_after: int = Field(default=1, ge=1)
    sequence: list[FaultKind] = Field(
        default_factory=list, description="scripted faults for the next matching requests, in order"
    )
    token_max_age_seconds: float | None = Field(
        default=None, gt=0, description="tokens die this long after issue, whatever expires_in said"
    )
    feed_redeliver_rate: float = Field(
        default=0.0, ge=0.0, le=1.0, description="a change-feed page's cursor lags one entry (redelivery)"
    )
    path_prefixes: list[str] = Field(default_factory=lambda: ["/api/v1/"])
    include_token_endpoint: bool = False
    seed: int | None = Field(default=None, description="seed of the fault RNG (deterministic runs)")

    @model_validator(mode="after")
    def _rates_fit(self) -> FaultSettings:
        total = self.error_500_rate + self.error_503_rate + self.hang_rate + self.lost_answer_rate
        if total > 1.0 + 1e-9:
            raise ValueError("error_500_rate + error_503_rate + hang_rate + lost_answer_rate must be <= 1")
        return self


class RateLimitSettings(BaseModel):
    """Token bucket per client (contract §7)."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    rate_per_second: float = Field(default=20.0, gt=0)
    burst: int = Field(default=40, ge=1)


class SandboxConfig(BaseModel):
    """Everything the sandbox needs at start; defaults match the contract and ``make run``."""

    model_config = ConfigDict(extra="forbid")

    clients: dict[str, str] = Field(
        default_factory=lambda: {"demo-gateway": "demo-secret"}, description="client_id -> client_secret"
    )
    token_lifetime_seconds: int = Field(default=300, ge=1)
    rate_limit: RateLimitSettings = Field(default_factory=RateLimitSettings)
    faults: FaultSettings = Field(default_factory=FaultSettings)
    max_file_bytes: int = Field(default=20 * MIB, ge=1)
    keep_file_bytes: bool = Field(
        default=True, description="keep uploaded bytes in memory (False: only sha256/size, for benchmarks)"
    )
    file_retention_seconds: float = Field(default=24 * 3600, gt=0, description="unreferenced files die")
    idempotency_ttl_seconds: float = Field(default=24 * 3600, gt=0)
    request_log_limit: int = Field(default=100_000, ge=1, description="oldest entries are dropped past it")
    max_json_bytes: int = Field(default=1 * MIB, ge=1024)
    access_log: bool = False
    graceful_shutdown_seconds: float = Field(default=2.0, ge=0)
