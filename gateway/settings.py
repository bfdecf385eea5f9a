"""All configuration, read once from the environment (``GATEWAY_*``) by one pydantic-settings class."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date
from functools import cache, cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

MIB = 1024 * 1024
SCOPES = frozenset({"dossiers:write", "dossiers:read", "admin", "monitor"})
"""The API keys' scopes: ``admin`` acts on the outbox and the dossiers and sees everything ``monitor`` sees;
``monitor`` only reads (the console, the admin API's GET routes; /metrics is public anyway)."""


@dataclass(frozen=True)
class ApiClient:
    """One configured API client: its name, the SHA-256 of its key, and its scopes."""

    name: str
    key_sha256: bytes
    scopes: frozenset[str]


def parse_api_keys(spec: str | None) -> tuple[ApiClient, ...]:
    """Parse ``name:key:scope+scope,…``; a key written ``sha256=<hex>`` is taken as already hashed.

    Raises ValueError naming the faulty entry (without echoing the key).
    """
    if not spec:
        return ()
    clients: list[ApiClient] = []
    for position, entry in enumerate(filter(None, (e.strip() for e in spec.split(","))), start=1):
        parts = entry.split(":", 2)  # scopes themselves contain ':' (dossiers:write)
        if len(parts) != 3 or not all(parts):
            raise ValueError(f"GATEWAY_API_KEYS entry {position}: expected name:key:scope+scope")
        name, key, scope_spec = parts
        scopes = frozenset(s.strip() for s in scope_spec.split("+"))
        unknown = scopes - SCOPES
        if unknown:
            raise ValueError(f"GATEWAY_API_KEYS entry {position} ({name}): unknown scope(s) {sorted(unknown)}")
        if key.startswith("sha256="):
            digest = bytes.fromhex(key.removeprefix("sha256="))
            if len(digest) != 32:
                raise ValueError(f"GATEWAY_API_KEYS entry {position} ({name}): sha256 must be 64 hex digits")
        else:
            digest = hashlib.sha256(key.encode()).digest()
        clients.append(ApiClient(name=name, key_sha256=digest, scopes=scopes))
    return tuple(clients)


MAX_SIGNING_SECRETS = 5


def parse_signing_secrets(spec: str | None, setting: str = "GATEWAY_PROVINCE_CALLBACK_SECRET") -> tuple[str, ...]:
    """The keys of ``key,key,…`` (spaces around each ignored; the same key twice counted once), current first.

    Raises ValueError naming ``setting`` and the faulty entry's position (never the key): an empty entry
    (``a,,b``), or more than :data:`MAX_SIGNING_SECRETS` keys (each adds a signature to every header).
    """
    if spec is None or not spec.strip():
        return ()
    keys: list[str] = []
    for position, entry in enumerate(spec.split(","), start=1):
        key = entry.strip()
        if not key:
            raise ValueError(f"{setting} entry {position} is empty (keys are separated by commas, the current "
                             "one first)")
        if key not in keys:
            keys.append(key)
    if len(keys) > MAX_SIGNING_SECRETS:
        raise ValueError(f"{setting} holds {len(keys)} keys; at most {MAX_SIGNING_SECRETS} (a rotation needs two)")
    return tuple(keys)


class Settings(BaseSettings):
    """The gateway's settings. Names are fixed by contracts/gateway-operations.md."""

    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore")

    database_url: str = "sqlite:///./var/gateway.db"
    blob_dir: Path = Path("./var/blobs")
    # Where attachments live (gateway/blobs/): files under blob_dir (one machine), or chunks in the PostgreSQL
    # database (gateways on several machines); blob_dir then only stages what this machine receives.
    blob_store: Literal["fs", "postgresql"] = "fs"
    ministry_base_url: str = "http://127.0.0.1:8001"
    ministry_client_id: str | None = None
    ministry_client_secret: SecretStr | None = None
    province_callback_url: str | None = None
    # Comma-separated: callbacks carry one signature per key (the first is the current one), so a province can
    # switch keys without a gap (SECURITY.md, "Rotating secrets").
    province_callback_secret: SecretStr | None = None
    api_keys: SecretStr | None = None
    embedded_worker: bool = True
    reconcile_interval_s: float = 30.0
    reconcile_batch: int = Field(default=200, ge=1, le=500)  # gioiHan of each change-feed page
    reconcile_lease_s: float | None = Field(default=None, gt=0)  # default: 2 × interval + 5 s
    log_format: str = Field(default="json", pattern="^(json|console)$")
    log_level: str = "INFO"
    # Admin console: key signing the session cookie (unset: a random key per process, sessions end on restart).
    session_secret: SecretStr | None = None
    session_max_age_s: int = Field(default=8 * 3600, ge=60)
    # Console login throttle, per client address, shared by every process on this database: after
    # `login_delay_after` wrong keys within `login_window_s` each further attempt waits `login_delay_s`; after
    # `login_lockout_after` every attempt (even a right key) is refused with 429 for `login_lockout_s`.
    login_delay_after: int = Field(default=5, ge=1)
    login_delay_s: float = Field(default=1.0, ge=0, le=30)
    login_lockout_after: int = Field(default=10, ge=1)
    login_window_s: float = Field(default=900.0, gt=0)
    login_lockout_s: float = Field(default=900.0, gt=0)
    # Behind a reverse proxy that appends the client's address to X-Forwarded-For: take its last entry as the
    # client's address. Off by default (anyone can send that header).
    login_trust_forwarded_for: bool = False

    # Identity check against the population database (population-api.md); unset URL: no check.
    population_base_url: str | None = None
    population_client_id: str | None = None
    population_client_secret: SecretStr | None = None
    population_timeout_s: float = Field(default=10.0, gt=0)
    population_rate_per_s: float = Field(default=10.0, gt=0)  # the service allows about 10 requests/s per client
    population_burst: int | None = Field(default=None, ge=1)  # unset: half the rate (population-api gives none)
    identity_policy: Literal["block", "warn"] = "block"
    identity_max_wait_s: float = Field(default=86400.0, gt=0)

    # Delivery (the outbox dispatcher and the ministry client).
    ministry_timeout_s: float = 30.0
    # The ministry's limit per client (ministry-api §7), shared by every process on this database; the client
    # allows itself a burst a tenth smaller, room for the network's jitter.
    ministry_rate_per_s: float = Field(default=20.0, gt=0)
    ministry_burst: int = Field(default=40, ge=1)
    # The HTTP transport under the ministry client's httpx API: aiohttp's pool (faster, bench/delivery.py) or
    # httpx's own; the same as adapters.ministry.transport.DEFAULT_TRANSPORT.
    ministry_transport: Literal["httpx", "aiohttp"] = "aiohttp"
    worker_concurrency: int = Field(default=8, ge=1, le=256)
    outbox_lease_s: float = Field(default=120.0, gt=0)
    outbox_poll_s: float = Field(default=1.0, gt=0)
    retry_base_s: float = Field(default=2.0, gt=0)
    retry_cap_s: float = Field(default=300.0, gt=0)
    retry_max_attempts: int = Field(default=25, ge=1)
    retry_max_age_s: float = Field(default=3 * 24 * 3600.0, gt=0)
    # The first retries come quickly (a healthy peer's random failure); a peer really down opens its breaker.
    retry_quick_attempts: int = Field(default=6, ge=0)
    retry_quick_s: float = Field(default=1.0, gt=0)
    # Consecutive failures, of every process together. Ten: the contract's fault mix (a quarter of the calls
    # failing at random on a healthy line) has five in a row every few hundred calls, ten practically never;
    # a ministry really down fails ten calls in half a second.
    breaker_threshold: int = Field(default=10, ge=1)
    breaker_cool_down_s: float = Field(default=5.0, gt=0)
    # A failed probe doubles the cool-down up to this cap: under a partial outage (some requests
    # failing) a long cap delays recovery, so keep it near the retry cap's order of magnitude.
    breaker_max_cool_down_s: float = Field(default=30.0, gt=0)

    # Retention: delivered (and cancelled) messages and their attempts older than this are purged by
    # `gateway purge` and, every `retention_interval_s`, by each worker; dead messages never. 0 = never.
    retention_days: int = Field(default=30, ge=0)
    retention_interval_s: float = Field(default=3600.0, gt=0)

    # Alerts to a person (docs/contracts/alerts.md): a signed POST through the outbox; unset URL = no alerts.
    alert_webhook_url: str | None = None
    alert_webhook_secret: SecretStr | None = None  # comma-separated: one v1= per secret (rotation)
    alert_outage_s: float = Field(default=600.0, gt=0)  # a peer's circuit open this long → peer_outage
    alert_backlog_s: float = Field(default=3600.0, gt=0)  # the oldest undelivered message this old → backlog
    alert_repeat_s: float = Field(default=3600.0, gt=0)  # at most one alert per kind and target per this
    alert_check_interval_s: float = Field(default=30.0, gt=0)  # how often each worker checks outage and backlog

    # Deadlines: days the government announces each year on top of the `holidays` package's calendar.
    calendar_extra_days_off: list[date] = Field(default_factory=list)
    calendar_extra_workdays: list[date] = Field(default_factory=list)

    # Intake limits.
    max_file_bytes: int = 20 * MIB
    max_total_bytes: int = 100 * MIB
    max_base64_file_bytes: int = 5 * MIB
    max_json_body_bytes: int = 40 * MIB
    max_dossier_json_bytes: int = 1 * MIB
    max_attachments: int = 50
    max_json_depth: int = Field(default=32, ge=2)  # nesting of arrays/objects in a dossier JSON
    max_parts: int = Field(default=64, ge=2)  # parts of one multipart body (hoso + files)
    max_header_bytes: int = Field(default=32 * 1024, ge=1024)  # request line + headers; 431 beyond
    body_timeout_s: float = Field(default=60.0, gt=0)  # whole body must arrive within this; 408 after

    # Attachments by URL (DuongDanTaiTepTin): comma-separated host names, exact or `*.suffix`; empty = refused.
    attachment_url_allowlist: str = ""
    # Hosts (exact names, also in the allowlist) that may resolve to private/loopback addresses (a LAN server).
    attachment_url_allow_private: str = ""
    # Content checks on received files (gateway/dossiers/filecheck.py).
    refuse_active_pdf: bool = True  # refuse PDFs naming JavaScript, launch actions or embedded files
    max_image_pixels: int = Field(default=50_000_000, ge=1)  # width × height cap of PNG/JPEG

    @field_validator("blob_dir")
    @classmethod
    def _absolute_blob_dir(cls, value: Path) -> Path:
        # Relative paths resolve against the directory the command was started in.
        return value.expanduser().resolve()

    @field_validator("database_url")
    @classmethod
    def _absolute_sqlite_path(cls, value: str) -> str:
        prefix = "sqlite:///"
        if value.startswith(prefix) and not value.startswith(prefix + "/") and ":memory:" not in value:
            return prefix + str(Path(value.removeprefix(prefix)).resolve())
        return value

    @cached_property
    def api_clients(self) -> tuple[ApiClient, ...]:
        """The parsed ``GATEWAY_API_KEYS``."""
        return parse_api_keys(self.api_keys.get_secret_value() if self.api_keys else None)

    @cached_property
    def province_callback_secrets(self) -> tuple[str, ...]:
        """The callback signing keys of ``GATEWAY_PROVINCE_CALLBACK_SECRET`` (comma-separated), in order."""
        return parse_signing_secrets(
            self.province_callback_secret.get_secret_value() if self.province_callback_secret else None)

    @cached_property
    def alert_webhook_secrets(self) -> tuple[str, ...]:
        """The alert signing keys of ``GATEWAY_ALERT_WEBHOOK_SECRET`` (comma-separated, like the callbacks')."""
        return parse_signing_secrets(self.alert_webhook_secret.get_secret_value() if self.alert_webhook_secret
                                     else None, "GATEWAY_ALERT_WEBHOOK_SECRET")

    @model_validator(mode="after")
    def _callback_needs_secret(self) -> Settings:
        # Checked after the fields, not in a field validator: pydantic's error would echo the field's input.
        _ = self.province_callback_secrets, self.alert_webhook_secrets
        if self.province_callback_url and not self.province_callback_secrets:
            raise ValueError("GATEWAY_PROVINCE_CALLBACK_SECRET must be set when GATEWAY_PROVINCE_CALLBACK_URL is: "
                             "the province rejects unsigned callbacks")
        return self

    @model_validator(mode="after")
    def _database_blobs_need_postgresql(self) -> Settings:
        if self.blob_store == "postgresql" and not self.database_url.startswith("postgresql"):
            raise ValueError("GATEWAY_BLOB_STORE=postgresql keeps attachments in the database, which must then be "
                             "PostgreSQL (GATEWAY_DATABASE_URL=postgresql+psycopg://…); with SQLite use "
                             "GATEWAY_BLOB_STORE=fs")
        return self

    @property
    def callbacks_configured(self) -> bool:
        """True when status callbacks go to the province."""
        return bool(self.province_callback_url and self.province_callback_secrets)

    @property
    def alerts_configured(self) -> bool:
        """True when operator alerts go to a webhook."""
        return bool(self.alert_webhook_url)

    @property
    def identity_configured(self) -> bool:
        """True when new revisions are checked against the population database before delivery."""
        return bool(self.population_base_url)

    @property
    def delivery_configured(self) -> bool:
        """True when the ministry client credentials are set (else nothing can be delivered)."""
        return bool(self.ministry_client_id and self.ministry_client_secret)

    @property
    def is_sqlite(self) -> bool:
        """True when the database is SQLite (the embedded default)."""
        return self.database_url.startswith("sqlite")


def describe_error(exc: ValueError) -> str:
    """What is wrong with the configuration, one line per fault, WITHOUT the values given.

    pydantic's own text quotes the input, and a model-level check's input is every setting, secrets included.
    """
    if not isinstance(exc, ValidationError):
        return str(exc)
    lines = []
    for error in exc.errors(include_url=False, include_input=False, include_context=False):
        where = ".".join(str(part) for part in error["loc"])
        lines.append(f"{('GATEWAY_' + where.upper()) if where else 'settings'}: {error['msg']}")
    return "; ".join(lines)


@cache
def get_settings() -> Settings:
    """The process-wide settings (a FastAPI dependency; tests override it)."""
    return Settings()
