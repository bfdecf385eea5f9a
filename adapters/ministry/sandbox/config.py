"""Start-up configuration of the ministry sandbox.

Every field is a plain value so a CLI can expose it as an option; the fault settings can also be
replaced while the sandbox runs (``PUT /_sandbox/faults``).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

MIB = 1024 * 1024

DEFAULT_CLIENT_ID = "sandbox-client"
DEFAULT_CLIENT_SECRET = "sandbox-secret"  # noqa: S105 - a published sandbox credential

FaultKind = Literal["ok", "error_500", "error_503", "rate_limited", "hang", "lost_answer"]
FailStatus = Literal[429, 500, 502, 503, 504]


class FaultSettings(BaseModel):
    """What the sandbox does wrong, where, and how often.

    Only requests whose path starts with one of ``path_prefixes`` are touched. For each of them,
    in this order: ``fail_next`` (answer ``status`` to the next N requests), then ``sequence``
    (one scripted fault per request), then one random draw among the rates (exclusive, so their
    sum must not exceed 1). The first two give tests a fully deterministic script.

    ``hang`` processes the request at once and holds its answer back ``hang_seconds``;
    ``lost_answer`` processes it, then drops the connection without a complete answer. Both
    mean the ministry acted although the client saw no answer.
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    error_500_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    error_503_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    rate_limited_rate: float = Field(default=0.0, ge=0.0, le=1.0, description="injected 429s")
    hang_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    lost_answer_rate: float = Field(default=0.0, ge=0.0, le=1.0)

    error_503_retry_after: int | None = Field(
        default=1, ge=0, description="Retry-After (s) sent with injected 503s; None = no header"
    )
    rate_limited_retry_after: int = Field(default=1, ge=1, description="Retry-After (s) of injected 429s")
    hang_seconds: float = Field(default=30.0, ge=0.0, description="how long an answer is held back")

    fail_next: int = Field(default=0, ge=0, description="the next N matching requests get `status`")
    status: FailStatus = Field(default=503, description="status of the `fail_next` answers")
    sequence: list[FaultKind] = Field(
        default_factory=list, description="scripted faults for the next matching requests, in order"
    )

    path_prefixes: list[str] = Field(
        default_factory=lambda: ["/api/v1/"],
        description="faults touch only these paths; add /oauth2/token to fault the token endpoint",
    )
    token_max_age_seconds: float | None = Field(
        default=None, gt=0, description="tokens die this long after issue, whatever expires_in said"
    )
    feed_redeliver_rate: float = Field(
        default=0.0, ge=0.0, le=1.0, description="a change-feed page's cursor lags one entry (redelivery)"
    )
    seed: int | None = Field(default=None, description="seed of the fault RNG (reproducible runs)")

    @field_validator("path_prefixes")
    @classmethod
    def _absolute(cls, prefixes: list[str]) -> list[str]:
        for prefix in prefixes:
            if not prefix.startswith("/"):
                raise ValueError(f"path prefix {prefix!r} must start with /")
        return prefixes

    @model_validator(mode="after")
    def _rates_fit(self) -> FaultSettings:
        total = (
            self.error_500_rate
            + self.error_503_rate
            + self.rate_limited_rate
            + self.hang_rate
            + self.lost_answer_rate
        )
        if total > 1.0 + 1e-9:
            raise ValueError("the five fault rates must add up to at most 1")
        return self


class RateLimitSettings(BaseModel):
    """Token bucket per client (contract §7)."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    rate_per_second: float = Field(default=20.0, gt=0)
    burst: int = Field(default=40, ge=1)


class SandboxConfig(BaseModel):
    """Everything the sandbox needs at start; the defaults match the contract and ``make run``."""

    model_config = ConfigDict(extra="forbid")

    clients: dict[str, str] = Field(
        default_factory=lambda: {DEFAULT_CLIENT_ID: DEFAULT_CLIENT_SECRET},
        description="client_id -> client_secret",
    )
    token_lifetime_seconds: int = Field(default=300, ge=1, description="expires_in of issued tokens")
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
    optional_fields: list[str] = Field(
        # The contract shows only ghiChu as null. A paper dossier may lack the applicant's ID, phone or
        # relation and the street detail; a ministry refusing those would refuse real citizens, so the
        # sandbox takes them as optional (our reading; the gateway always computes ngayHenTra).
        default_factory=lambda: [
            "ghiChu", "nguoiNop.soDinhDanh", "nguoiNop.soDienThoai", "nguoiNop.quanHeVoiDoiTuong",
            "doiTuong.noiThuongTru.diaChiChiTiet",
        ],
        description="body fields (dotted paths) that may be null or absent",
    )
    seed_beneficiaries: bool = Field(
        default=True, description="start (and reset) with beneficiaries.DEFAULT_BENEFICIARIES; False: nobody"
    )
    page_refresh_seconds: int = Field(default=5, ge=1, description="meta refresh of the HTML page")

    @field_validator("clients")
    @classmethod
    def _some_client(cls, clients: dict[str, str]) -> dict[str, str]:
        return check_clients(clients)


def check_clients(clients: dict[str, str]) -> dict[str, str]:
    """``clients`` if there is at least one and no id or secret is empty (ValueError otherwise)."""
    if not clients:
        raise ValueError("at least one client is required")
    for client_id, secret in clients.items():
        if not client_id or not secret:
            raise ValueError("client ids and secrets must not be empty")
    return clients
