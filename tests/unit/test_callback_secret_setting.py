"""``GATEWAY_PROVINCE_CALLBACK_SECRET`` holds one key or, during a rotation, several comma-separated ones."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from gateway import cli
from gateway.settings import MAX_SIGNING_SECRETS, Settings, describe_error, get_settings, parse_signing_secrets

URL = "https://mot-cua.example.gov.vn/callbacks"


def test_one_key_is_one_key() -> None:
    assert Settings(province_callback_url=URL, province_callback_secret="only").province_callback_secrets == ("only",)  # type: ignore[arg-type]


def test_several_keys_keep_their_order_without_spaces_or_repeats() -> None:
    assert parse_signing_secrets(" new-key , old-key,new-key ") == ("new-key", "old-key")


@pytest.mark.parametrize(("spec", "position"), [("new,,old", 2), (",new", 1), ("new, ", 2)])
def test_an_empty_entry_is_refused_by_position_without_echoing_the_keys(spec: str, position: int) -> None:
    with pytest.raises(ValidationError) as caught:
        Settings(province_callback_url=URL, province_callback_secret=spec)  # type: ignore[arg-type]
    text = describe_error(caught.value)
    assert f"entry {position} is empty" in text
    assert "new" not in text


def test_too_many_keys_are_refused() -> None:
    with pytest.raises(ValueError, match=f"at most {MAX_SIGNING_SECRETS}"):
        parse_signing_secrets(",".join(f"key-{n}" for n in range(MAX_SIGNING_SECRETS + 1)))


def test_the_alert_secret_is_parsed_alike_and_named_in_its_errors() -> None:
    assert Settings(alert_webhook_secret="new, old").alert_webhook_secrets == ("new", "old")  # type: ignore[arg-type]
    with pytest.raises(ValidationError) as caught:
        Settings(alert_webhook_secret="new,,old")  # type: ignore[arg-type]
    assert "GATEWAY_ALERT_WEBHOOK_SECRET entry 2 is empty" in describe_error(caught.value)


def test_a_url_without_any_key_is_refused() -> None:
    with pytest.raises(ValidationError, match="must be set"):
        Settings(province_callback_url=URL, province_callback_secret=" ")  # type: ignore[arg-type]


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[pytest.MonkeyPatch]:
    monkeypatch.setenv("GATEWAY_DATABASE_URL", f"sqlite:///{tmp_path / 'gw.db'}")
    monkeypatch.setenv("GATEWAY_BLOB_DIR", str(tmp_path / "blobs"))
    get_settings.cache_clear()
    yield monkeypatch
    get_settings.cache_clear()


@pytest.mark.parametrize("fault", [
    {"GATEWAY_PROVINCE_CALLBACK_SECRET": "callback-key-one,,callback-key-two"},
    {"GATEWAY_BLOB_STORE": "postgresql"},
])
def test_a_refused_configuration_names_the_fault_but_echoes_no_secret(
        environment: pytest.MonkeyPatch, fault: dict[str, str]) -> None:
    secrets = {"GATEWAY_MINISTRY_CLIENT_SECRET": "ministry-secret-value", "GATEWAY_SESSION_SECRET": "session-value",
               "GATEWAY_PROVINCE_CALLBACK_URL": URL, "GATEWAY_PROVINCE_CALLBACK_SECRET": "callback-key-one"}
    for name, value in {**secrets, **fault}.items():
        environment.setenv(name, value)
    result = CliRunner().invoke(cli.app, ["serve"])
    assert result.exit_code == 2
    assert "invalid configuration" in result.output
    for value in ("ministry-secret-value", "session-value", "callback-key-one", "callback-key-two"):
        assert value not in result.output
