"""The ministry client secret, callback secret, session secret and API keys never leave the gateway.

One whole flow over real sockets (intake, delivery with an OAuth token, signed callbacks, admin
calls, failed logins) with JSON logs captured; then every answer that could carry configuration
(readiness, metrics, admin stats, OpenAPI, the console's login page) and ``gateway stats`` are
searched for each secret. ``Settings`` itself masks them in its repr.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import structlog
from typer.testing import CliRunner

from adapters.province.sandbox.app import create_app as create_province
from adapters.province.sandbox.app import sandbox_state
from adapters.province.sandbox.config import ProvinceSandboxConfig
from gateway.cli import app as cli_app
from gateway.logging import configure_logging
from gateway.settings import Settings, get_settings
from tests.conftest import ADMIN_KEY, API_KEYS, PROVINCE_KEY, READER_KEY
from tests.contract.ministry_support import SandboxHandle
from tests.e2e.conftest import CLIENT_SECRET, dossier_state, wait_until
from tests.support.servers import run_server

CALLBACK_SECRET = "cb-secret-5f0c1e2d-never-shown"
SESSION_SECRET = "session-secret-9a8b7c6d-never-shown"
SECRETS = {"ministry client secret": CLIENT_SECRET, "callback secret": CALLBACK_SECRET,
           "session secret": SESSION_SECRET, "province key": PROVINCE_KEY, "reader key": READER_KEY,
           "admin key": ADMIN_KEY}


def assert_no_secret(where: str, text: str) -> None:
    for name, value in SECRETS.items():
        assert value not in text, f"the {name} appears in {where}"


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_settings_repr_and_dump_mask_the_secrets() -> None:
    settings = Settings(ministry_client_secret=CLIENT_SECRET, province_callback_secret=CALLBACK_SECRET,  # type: ignore[arg-type]
                        province_callback_url="http://province.invalid/cb", session_secret=SESSION_SECRET,  # type: ignore[arg-type]
                        api_keys=API_KEYS)  # type: ignore[arg-type]
    for text in (repr(settings), str(settings), str(settings.model_dump()), settings.model_dump_json(),
                 repr(settings.api_clients)):
        assert_no_secret("Settings output", text)
    assert "**********" in repr(settings)


def test_no_secret_in_logs_answers_or_stats(
    db_url: str, gateway_factory: Callable[..., str], ministry: SandboxHandle,
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, restore_logging: None,
) -> None:
    configure_logging("json", "DEBUG")
    province_app = create_province(ProvinceSandboxConfig(callback_secret=CALLBACK_SECRET, api_key=PROVINCE_KEY))
    with run_server(province_app, graceful_shutdown_seconds=0.5) as province_url, \
            httpx.Client(base_url=province_url, timeout=30) as province:
        url = gateway_factory(province_callback_url=f"{province_url}/callbacks",
                              province_callback_secret=CALLBACK_SECRET, session_secret=SESSION_SECRET)
        state = sandbox_state(province_app)
        state.config = state.config.model_copy(update={"gateway_url": url})
        answer = province.post("/_sandbox/post", json={}).json()
        assert answer["status"] == 202, answer
        code = answer["MaHoSo"]
        answers: dict[str, str] = {}
        with httpx.Client(base_url=url, timeout=10) as http:
            delivered = wait_until(lambda: (s := dossier_state(http, code, PROVINCE_KEY))["state"] == "delivered" and s)
            acted = ministry.officer(str(delivered["ministry"]["id"]), "DA_TIEP_NHAN", canBo="Cán bộ B")
            assert acted.status_code == 200
            wait_until(lambda: province.get("/_sandbox/callbacks", params={"MaHoSo": code}).json()["callbacks"])
            # Refusals log too: a wrong key, and a key without the scope.
            assert http.get("/api/v1/admin/stats", headers={"Authorization": "Bearer not-a-key"}).status_code == 401
            assert http.get("/api/v1/admin/stats", headers={"Authorization": f"Bearer {READER_KEY}"}).status_code == 403
            admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
            for path, headers in (("/health/live", {}), ("/health/ready", {}), ("/metrics", {}),
                                  ("/openapi.json", {}), ("/docs", {}), ("/admin/login", {}),
                                  ("/api/v1/admin/stats", admin), ("/api/v1/admin/messages", admin),
                                  ("/api/v1/admin/audit", admin), (f"/api/v1/dossiers/{code}", admin)):
                response = http.get(path, headers=headers)
                answers[path] = f"{response.status_code} {response.headers} {response.text}"
            assert answers["/health/ready"].startswith("200"), answers["/health/ready"]
            assert answers["/api/v1/admin/stats"].startswith("200"), answers["/api/v1/admin/stats"]
    for path, text in answers.items():
        assert_no_secret(f"the answer to GET {path}", text)

    # `gateway stats` with every secret in its environment.
    for name in [n for n in os.environ if n.startswith("GATEWAY_")]:
        monkeypatch.delenv(name)
    env: dict[str, Any] = {"DATABASE_URL": db_url, "MINISTRY_CLIENT_ID": "sandbox-client",
                           "MINISTRY_CLIENT_SECRET": CLIENT_SECRET, "PROVINCE_CALLBACK_URL": "http://province.invalid/cb",
                           "PROVINCE_CALLBACK_SECRET": CALLBACK_SECRET, "SESSION_SECRET": SESSION_SECRET,
                           "API_KEYS": API_KEYS, "LOG_FORMAT": "json", "LOG_LEVEL": "DEBUG"}
    for name, value in env.items():
        monkeypatch.setenv(f"GATEWAY_{name}", value)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli_app, ["stats"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert "messages by state" in result.output
    assert_no_secret("the output of `gateway stats`", result.output)

    logs = capsys.readouterr()
    assert '"event"' in logs.err  # the capture did see the JSON log lines
    assert_no_secret("the logs", logs.err + logs.out)


@pytest.mark.parametrize("key", ["callback_secret", "session_secret", "ministry_client_secret", "X-Api-Key",
                                 "refresh_token", "Authorization", "db_password"])
def test_a_careless_log_call_passing_a_secret_by_name_is_masked(
    key: str, capsys: pytest.CaptureFixture[str], restore_logging: None
) -> None:
    configure_logging("json", "DEBUG")
    structlog.get_logger("test").warning("careless", **{key.replace("-", "_"): CALLBACK_SECRET})
    logging.getLogger("stdlib").warning("careless %s", "stdlib", extra={key.replace("-", "_"): SESSION_SECRET})
    output = capsys.readouterr().err
    assert "careless" in output
    assert_no_secret("the logs", output)
