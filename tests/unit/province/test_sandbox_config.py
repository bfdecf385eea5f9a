"""The province sandbox's configuration from the environment, and the dossier codes it makes up."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from adapters.province.sandbox.config import ProvinceSandboxConfig
from adapters.province.sandbox.posting import build_sample, fresh_code

VN = timezone(timedelta(hours=7))
DOSSIER_CODE = re.compile(r"[0-9A-Za-z.]+-[0-9]{6}-[0-9]{4,}")  # what the gateway accepts as MaHoSo


def test_defaults_match_make_run() -> None:
    config = ProvinceSandboxConfig.from_env({})
    assert (config.callback_secret, config.gateway_url, config.api_key) == (
        "demo-callback-secret", "http://127.0.0.1:8000", "demo-province-key")
    assert not config.faults.down


def test_environment_overrides_and_secret_precedence() -> None:
    config = ProvinceSandboxConfig.from_env({
        "GATEWAY_PROVINCE_CALLBACK_SECRET": "gateway-side",
        "PROVINCE_SANDBOX_CALLBACK_SECRET": "sandbox-side",
        "PROVINCE_SANDBOX_GATEWAY_URL": "http://gw.test:9000/",
        "PROVINCE_SANDBOX_API_KEY": "k",
        "PROVINCE_SANDBOX_FAULTS": '{"fail_next": 2, "status": 500}',
    })
    assert config.callback_secret == "sandbox-side"
    assert config.gateway_url == "http://gw.test:9000"
    assert config.api_key == "k"
    assert (config.faults.fail_next, config.faults.status) == (2, 500)
    assert ProvinceSandboxConfig.from_env({"GATEWAY_PROVINCE_CALLBACK_SECRET": "g"}).callback_secret == "g"


def test_a_comma_separated_secret_is_the_current_then_the_previous_ones() -> None:
    config = ProvinceSandboxConfig.from_env({"GATEWAY_PROVINCE_CALLBACK_SECRET": " new , old "})
    assert (config.callback_secret, config.previous_callback_secrets) == ("new", ["old"])
    assert config.secrets == ["new", "old"]


def test_invalid_configuration_is_refused() -> None:
    with pytest.raises(ValidationError):
        ProvinceSandboxConfig(gateway_url="ftp://x")
    with pytest.raises(ValidationError):
        ProvinceSandboxConfig.from_env({"PROVINCE_SANDBOX_FAULTS": '{"status": 200}'})


def test_fresh_codes_are_distinct_even_within_one_millisecond() -> None:
    now = datetime(2024, 1, 15, 8, 30, 0, 123000, tzinfo=VN)
    codes = [fresh_code(now) for _ in range(5)]
    assert len(set(codes)) == 5
    assert all(DOSSIER_CODE.fullmatch(c) and c.startswith("000.00.12.H56-240115-") for c in codes)


@pytest.mark.parametrize("procedure", ["allowance", "funeral"])
def test_samples_are_received_now_with_the_sample_lead_time(procedure: str) -> None:
    now = datetime(2025, 7, 1, 9, 15, 30, tzinfo=VN)
    dossier, files = build_sample(procedure, "000.00.12.H56-250701-0001", now)
    assert dossier["MaHoSo"] == "000.00.12.H56-250701-0001"
    assert dossier["NgayTiepNhan"] == "20250701091530"
    assert dossier["NgayHenTra"] > dossier["NgayTiepNhan"]
    assert sorted(files) == sorted(item["TepDinhKemId"] for item in dossier["TaiLieuNop"])
    assert all(data.startswith(b"%PDF-") for data in files.values())
