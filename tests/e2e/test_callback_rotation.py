"""Rotating the callback signing key without a gap (SECURITY.md): with two keys configured, every callback
carries a signature per key, so the province accepts them whether it holds only the new key or only the old one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from adapters.province.sandbox.app import create_app as create_province
from adapters.province.sandbox.app import sandbox_state
from adapters.province.sandbox.config import ProvinceSandboxConfig
from tests.conftest import PROVINCE_KEY
from tests.contract.ministry_support import SandboxHandle
from tests.e2e.conftest import Province, dossier_state, wait_until
from tests.support.servers import run_server

NEW_KEY, OLD_KEY = "callback-key-2026", "callback-key-2025"


@pytest.fixture
def province_with_new_key() -> Iterator[Province]:
    app = create_province(ProvinceSandboxConfig(callback_secret=NEW_KEY, api_key=PROVINCE_KEY))
    with run_server(app, graceful_shutdown_seconds=0.5) as base_url:
        handle = Province(app, base_url)
        yield handle
        handle.http.close()


def _holds_only(province: Province, key: str) -> None:
    state = sandbox_state(province.app)
    state.config = state.config.model_copy(update={"callback_secret": key, "previous_callback_secrets": []})


def _refusals(province: Province) -> list[dict[str, Any]]:
    attempts: list[dict[str, Any]] = province.http.get("/_sandbox/attempts").json()["attempts"]
    return [a for a in attempts if a["status"] != 200]


def test_two_keys_are_accepted_by_a_province_holding_either_one(
        gateway_factory: Callable[..., str], province_with_new_key: Province, ministry: SandboxHandle) -> None:
    province = province_with_new_key
    url = gateway_factory(province_callback_url=f"{province.base_url}/callbacks",
                          province_callback_secret=f"{NEW_KEY},{OLD_KEY}")
    province.point_at(url)
    code = province.post_sample(encoding="multipart")["MaHoSo"]
    wait_until(lambda: [c["SuKien"] for c in province.callbacks(code)] == ["DA_CHUYEN_BO"])
    with httpx.Client(base_url=url, timeout=10) as http:
        ministry_id = dossier_state(http, code, PROVINCE_KEY)["ministry"]["id"]

    _holds_only(province, OLD_KEY)  # the province went back to the old key (or has not switched yet)
    assert ministry.officer(ministry_id, "DA_TIEP_NHAN", canBo="Cán bộ B").status_code == 200
    wait_until(lambda: len(province.callbacks(code)) == 2)

    callbacks = province.callbacks(code)
    assert [c["TrangThaiBo"] for c in callbacks] == ["CHO_TIEP_NHAN", "DA_TIEP_NHAN"]
    assert all(c["signature_ok"] for c in callbacks)
    assert _refusals(province) == []  # accepted the first time, not after retries
