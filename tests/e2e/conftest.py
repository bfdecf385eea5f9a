"""End-to-end fixtures: the ministry sandbox and the gateway, each a real server on a real socket."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from adapters.ministry.sandbox.app import create_app as create_ministry
from adapters.ministry.sandbox.config import RateLimitSettings, SandboxConfig
from adapters.province.sandbox.app import create_app as create_province
from adapters.province.sandbox.app import sandbox_state
from adapters.province.sandbox.config import ProvinceSandboxConfig
from gateway.app import create_app
from gateway.settings import Settings
from tests.conftest import API_KEYS, PROVINCE_KEY
from tests.contract.ministry_support import SandboxHandle
from tests.support.servers import run_server

CLIENT_ID = "sandbox-client"
CLIENT_SECRET = "sandbox-secret"
CALLBACK_SECRET = "lifecycle-callback-secret"


@pytest.fixture(scope="session")
def ministry_server() -> Iterator[tuple[Any, str]]:
    """One ministry sandbox for the session (reset before each test)."""
    app = create_ministry(SandboxConfig(clients={CLIENT_ID: CLIENT_SECRET},
                                        rate_limit=RateLimitSettings(enabled=False)))
    with run_server(app, graceful_shutdown_seconds=0.5) as base_url:
        yield app, base_url


@pytest.fixture
def ministry(ministry_server: tuple[Any, str]) -> Iterator[SandboxHandle]:
    """The shared sandbox, reset."""
    handle = SandboxHandle(*ministry_server)
    handle.reset()
    try:
        yield handle
    finally:
        handle.faults()
        handle.close()


def fast_settings(db_url: str, tmp_path: Path, ministry_url: str, **overrides: Any) -> Settings:
    """Settings with short retries, leases and polls, so fault tests run in seconds."""
    values: dict[str, Any] = {
        "database_url": db_url, "blob_dir": tmp_path / "blobs", "api_keys": API_KEYS,
        "ministry_base_url": ministry_url, "ministry_client_id": CLIENT_ID, "ministry_client_secret": CLIENT_SECRET,
        "ministry_timeout_s": 1.0, "retry_base_s": 0.05, "retry_cap_s": 0.3, "outbox_poll_s": 0.05,
        "outbox_lease_s": 5.0, "breaker_threshold": 3, "breaker_cool_down_s": 0.5, "reconcile_interval_s": 0.2,
        "log_format": "json",
    }
    values.update(overrides)
    return Settings(**values)


def fast_env(settings: Settings) -> dict[str, str]:
    """The same settings as GATEWAY_* variables, for gateway processes."""
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    for name, value in settings.model_dump().items():
        if value is None or name == "api_keys":
            continue
        if hasattr(value, "get_secret_value"):
            value = value.get_secret_value()
        if isinstance(value, list):
            import json

            value = json.dumps([str(v) for v in value])
        env[f"GATEWAY_{name.upper()}"] = str(value)
    env["GATEWAY_API_KEYS"] = API_KEYS
    return env


@pytest.fixture
def gateway_factory(db_url: str, tmp_path: Path, ministry: SandboxHandle) -> Iterator[Callable[..., str]]:
    """Start a gateway (embedded worker on) with fast settings; returns its base URL."""
    stack: list[Any] = []

    def start(**overrides: Any) -> str:
        settings = fast_settings(db_url, tmp_path, ministry.base_url, **overrides)
        context = run_server(create_app(settings), graceful_shutdown_seconds=1.0)
        url = context.__enter__()
        stack.append(context)
        return url

    yield start
    for context in reversed(stack):
        context.__exit__(None, None, None)


def wait_until(predicate: Callable[[], Any], timeout: float = 20.0, interval: float = 0.05) -> Any:
    """Poll ``predicate`` until it returns something truthy; fail the test after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout}s")
        time.sleep(interval)


def dossier_state(http: httpx.Client, code: str, key: str) -> dict[str, Any]:
    """GET /api/v1/dossiers/{code} as JSON."""
    response = http.get(f"/api/v1/dossiers/{code}", headers={"Authorization": f"Bearer {key}"})
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    return body


class Province:
    """The running province sandbox."""

    def __init__(self, app: Any, base_url: str) -> None:
        self.app = app
        self.base_url = base_url
        self.http = httpx.Client(base_url=base_url, timeout=30)

    def point_at(self, gateway_url: str) -> None:
        state = sandbox_state(self.app)
        state.config = state.config.model_copy(update={"gateway_url": gateway_url})

    def post_sample(self, **options: Any) -> dict[str, Any]:
        answer: dict[str, Any] = self.http.post("/_sandbox/post", json=options).json()
        assert answer["status"] == 202, answer
        return answer

    def callbacks(self, code: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.http.get("/_sandbox/callbacks", params={"MaHoSo": code}).json()["callbacks"]
        return found

    def faults(self, **settings: Any) -> None:
        self.http.put("/_sandbox/faults", json=settings).raise_for_status()


@pytest.fixture
def province() -> Iterator[Province]:
    app = create_province(ProvinceSandboxConfig(callback_secret=CALLBACK_SECRET, api_key=PROVINCE_KEY))
    with run_server(app, graceful_shutdown_seconds=0.5) as base_url:
        handle = Province(app, base_url)
        yield handle
        handle.http.close()
