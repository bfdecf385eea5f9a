"""Start-up configuration of the province sandbox, from code or from the environment.

The fault settings can also be replaced while the sandbox runs (``PUT /_sandbox/faults``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field, field_validator

DEFAULT_CALLBACK_SECRET = "demo-callback-secret"  # noqa: S105 - the published demo secret of `make run`
DEFAULT_GATEWAY_URL = "http://127.0.0.1:8000"
DEFAULT_API_KEY = "demo-province-key"

ENV_CALLBACK_SECRET = ("PROVINCE_SANDBOX_CALLBACK_SECRET", "GATEWAY_PROVINCE_CALLBACK_SECRET")
ENV_GATEWAY_URL = "PROVINCE_SANDBOX_GATEWAY_URL"
ENV_API_KEY = "PROVINCE_SANDBOX_API_KEY"
ENV_FAULTS = "PROVINCE_SANDBOX_FAULTS"


class CallbackFaults(BaseModel):
    """What the sandbox does wrong when the gateway calls back.

    In this order, for each ``POST /callbacks``: ``down`` answers ``status`` (503 by default) to
    every request outside ``/_sandbox/``; else ``fail_next`` answers ``status`` to the next N
    callbacks and counts down. Neither looks at or records the callback. Then the callback is
    processed (checked, recorded) and, if ``hang_s`` > 0, its answer is held back that long: the
    province acted but the gateway, timing out, cannot know, so it retries with the same EventId.
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    down: bool = Field(default=False, description="answer `status` to everything but /_sandbox/")
    fail_next: int = Field(default=0, ge=0, description="the next N callbacks get `status`")
    status: int = Field(default=503, ge=400, le=599, description="status of injected failures")
    retry_after: int | None = Field(default=None, ge=0, description="Retry-After (s) on injected failures")
    hang_s: float = Field(default=0.0, ge=0.0, le=600.0, description="hold every callback answer this long")


class ProvinceSandboxConfig(BaseModel):
    """Everything the sandbox needs at start; the defaults match ``make run``."""

    model_config = ConfigDict(extra="forbid")

    callback_secret: str = Field(default=DEFAULT_CALLBACK_SECRET, min_length=1,
                                 description="HMAC key of X-Gateway-Signature")
    previous_callback_secrets: list[str] = Field(
        default_factory=list, description="also accepted, for a secret rotation in progress")
    verify_signatures: bool = Field(
        default=True, description="False: record callbacks whatever their signature (marked not ok)")
    signature_tolerance_s: float = Field(default=300.0, gt=0, description="the contract's 5 minutes")
    gateway_url: str = Field(default=DEFAULT_GATEWAY_URL, description="where sample dossiers are posted")
    api_key: str = Field(default=DEFAULT_API_KEY, min_length=1, description="API key with dossiers:write")
    post_timeout_s: float = Field(default=30.0, gt=0)
    faults: CallbackFaults = Field(default_factory=CallbackFaults)
    max_callback_bytes: int = Field(default=256 * 1024, ge=1024, description="larger callback bodies get 413")
    page_refresh_seconds: int = Field(default=3, ge=1, description="meta refresh of the HTML page")

    @field_validator("gateway_url")
    @classmethod
    def _http_url(cls, url: str) -> str:
        if not url.startswith(("http://", "https://")):
            raise ValueError("gateway_url must be an http(s) URL")
        return url.rstrip("/")

    @property
    def secrets(self) -> list[str]:
        """Every secret a callback may be signed with, the current one first."""
        return [self.callback_secret, *self.previous_callback_secrets]

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ProvinceSandboxConfig:
        """The defaults, overridden by ``PROVINCE_SANDBOX_*`` (and ``GATEWAY_PROVINCE_CALLBACK_SECRET``).

        ``PROVINCE_SANDBOX_FAULTS`` holds start-up faults as JSON, e.g. ``{"down": true}``.
        """
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for name in ENV_CALLBACK_SECRET:
            if env.get(name):
                # Comma-separated like the gateway's setting during a rotation: the first is the current one.
                current, *previous = [key.strip() for key in env[name].split(",") if key.strip()] or [""]
                values["callback_secret"] = current
                values["previous_callback_secrets"] = previous
                break
        if env.get(ENV_GATEWAY_URL):
            values["gateway_url"] = env[ENV_GATEWAY_URL]
        if env.get(ENV_API_KEY):
            values["api_key"] = env[ENV_API_KEY]
        if env.get(ENV_FAULTS):
            values["faults"] = CallbackFaults.model_validate(json.loads(env[ENV_FAULTS]))
        return cls.model_validate(values)
