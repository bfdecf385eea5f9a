"""A dossier goes province → gateway → the ministry's pending-reception queue, through faults, on both engines."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable

import httpx
from sqlalchemy import select

from adapters.province.client import post_dossier
from adapters.province.samples import numbered_dossier, sample_dossier, sample_funeral_dossier
from gateway.db import create_database
from outbox.models import OutboxMessage
from tests.conftest import PROVINCE_KEY
from tests.contract.ministry_support import SandboxHandle
from tests.e2e.conftest import dossier_state, wait_until
from tests.support.intake import sample_files

CREATE = "/api/v1/ho-so/cho-tiep-nhan"
DELIVERY_PATHS = ["/api/v1/tep-tin", CREATE]  # not the change feed, which the reconciler polls meanwhile


def _post(base_url: str, dossier: dict, files: dict[str, bytes]) -> httpx.Response:  # type: ignore[type-arg]
    with httpx.Client(base_url=base_url, timeout=30) as http:
        response = post_dossier(http, PROVINCE_KEY, dossier, files)
    assert response.status_code == 202, response.text
    return response


def _delivered(base_url: str, code: str) -> dict | None:  # type: ignore[type-arg]
    with httpx.Client(base_url=base_url, timeout=10) as http:
        state = dossier_state(http, code, PROVINCE_KEY)
    return state if state["state"] == "delivered" else None


def _state(base_url: str, code: str) -> dict:  # type: ignore[type-arg]
    with httpx.Client(base_url=base_url, timeout=10) as http:
        return dossier_state(http, code, PROVINCE_KEY)


def _created(ministry: SandboxHandle, code: str) -> list[dict]:  # type: ignore[type-arg]
    return [d for d in ministry.all_dossiers() if d["maHoSoTinh"] == code]


def test_a_dossier_lands_in_pending_reception_with_every_attachment(
    gateway_factory: Callable[..., str], ministry: SandboxHandle
) -> None:
    url = gateway_factory()
    dossier = sample_funeral_dossier()
    files = sample_files(dossier)
    _post(url, dossier, files)

    state = wait_until(lambda: _delivered(url, dossier["MaHoSo"]))
    assert state["ministry"]["status"] == "CHO_TIEP_NHAN"
    assert state["ministry"]["nationalStatus"] == 2
    [landed] = ministry.pending()
    assert landed["id"] == state["ministry"]["id"]
    assert landed["maHoSoTinh"] == dossier["MaHoSo"]
    by_component = {c["maThanhPhan"]: c for c in landed["thanhPhanHoSo"]}
    assert set(by_component) == {"TK_MAI_TANG", "TRICH_LUC_KHAI_TU"}
    sent = {item["MaThanhPhanHoSo"]: hashlib.sha256(files[item["TepDinhKemId"]]).hexdigest()
            for item in dossier["TaiLieuNop"]}
    for code, component in by_component.items():
        assert [f["sha256"] for f in component["tepTin"]] == [sent[code]]
    assert ministry.lookup() == []
    assert not [r for r in ministry.requests() if "tra-cuu" in r["path"]]
    assert [h["event"] for h in state["history"]] == ["received", "delivered"]


def test_pre2025_dossiers_reach_the_ministry_with_the_codes_in_force(
    gateway_factory: Callable[..., str], ministry: SandboxHandle
) -> None:
    url = gateway_factory()
    # Received 2024 with pre-2025 codes: Hà Giang's Xã Kim Thạch (now Tuyên Quang, Xã Phú Linh), and
    # Khánh Hòa's Xã Cam Tân, split in three, resolved by its processing unit (Xã Suối Dầu, 22708).
    merged = sample_dossier(MaHoSo="000.00.12.H56-240115-0101", MaDonViXuLy="00703")
    merged["DuLieuToKhai"]["NoiThuongTru"].update(MaTinh="02", MaXa="00703")
    split = sample_dossier(MaHoSo="000.00.12.H56-240115-0102", MaDonViXuLy="22708")
    split["DuLieuToKhai"]["NoiThuongTru"].update(MaTinh="56", MaXa="22435")
    for dossier in (merged, split):
        _post(url, dossier, sample_files(dossier))

    expected = {merged["MaHoSo"]: ("08", "00706", "00706"), split["MaHoSo"]: ("56", "22708", "22708")}
    for code, (province, commune, unit) in expected.items():
        state = wait_until(lambda code=code: _delivered(url, code))  # type: ignore[misc]
        [landed] = _created(ministry, code)
        residence = landed["doiTuong"]["noiThuongTru"]
        assert (residence["maTinh"], residence["maXa"], landed["maDonViTiepNhan"]) == (province, commune, unit)
        content = state["content"]
        assert content["beneficiary"]["residence"]["commune_code"] == commune
        assert {t["field"]: t["code"] for t in content["translations"]} == {
            "province": province, "commune": commune, "processing_unit": unit}
    kept = _state(url, merged["MaHoSo"])["content"]["beneficiary"]["residence"]
    assert (kept["submitted_province_code"], kept["submitted_commune_code"]) == ("02", "00703")


def test_failures_of_the_line_are_retried_until_delivered(
    gateway_factory: Callable[..., str], ministry: SandboxHandle
) -> None:
    url = gateway_factory()
    ministry.faults(fail_next=4, status=503, path_prefixes=DELIVERY_PATHS)
    dossier = sample_dossier()
    _post(url, dossier, sample_files(dossier))

    wait_until(lambda: _delivered(url, dossier["MaHoSo"]))
    assert len(_created(ministry, dossier["MaHoSo"])) == 1
    failed = [r for r in ministry.requests() if r["status"] == 503]
    assert len(failed) == 4


def test_an_answer_lost_after_the_ministry_acted_still_gives_exactly_one_dossier(
    gateway_factory: Callable[..., str], ministry: SandboxHandle
) -> None:
    url = gateway_factory()
    ministry.faults(sequence=["lost_answer", "lost_answer"], path_prefixes=[CREATE])  # the create, twice
    dossier = sample_dossier()
    _post(url, dossier, sample_files(dossier))

    state = wait_until(lambda: _delivered(url, dossier["MaHoSo"]))
    [created] = _created(ministry, dossier["MaHoSo"])
    assert created["id"] == state["ministry"]["id"]
    creates = ministry.requests(CREATE, method="POST")
    assert len(creates) == 3
    assert len({r["idempotency_key"] for r in creates}) == 1  # one key across the retries


def test_a_hung_ministry_times_out_and_the_retry_does_not_duplicate(
    gateway_factory: Callable[..., str], ministry: SandboxHandle
) -> None:
    url = gateway_factory()
    ministry.faults(sequence=["hang"], hang_seconds=3, path_prefixes=[CREATE])
    dossier = sample_dossier()
    _post(url, dossier, sample_files(dossier))
    wait_until(lambda: _delivered(url, dossier["MaHoSo"]))
    assert len(_created(ministry, dossier["MaHoSo"])) == 1


def test_retry_after_is_honoured(gateway_factory: Callable[..., str], ministry: SandboxHandle) -> None:
    url = gateway_factory()
    ministry.faults(fail_next=1, status=429, rate_limited_retry_after=2, path_prefixes=DELIVERY_PATHS)
    dossier = sample_dossier()
    started = time.monotonic()
    _post(url, dossier, sample_files(dossier))
    wait_until(lambda: _delivered(url, dossier["MaHoSo"]))
    assert time.monotonic() - started >= 2.0  # the backoff alone would have retried within 0.3 s


def test_an_expired_token_is_renewed_once(gateway_factory: Callable[..., str], ministry: SandboxHandle) -> None:
    url = gateway_factory()
    first = numbered_dossier(101)
    _post(url, first, sample_files(first))
    wait_until(lambda: _delivered(url, first["MaHoSo"]))
    assert ministry.token_requests() == 1
    ministry.expire_tokens()
    second = numbered_dossier(102)
    _post(url, second, sample_files(second))
    wait_until(lambda: _delivered(url, second["MaHoSo"]))
    assert ministry.token_requests() == 2


def test_a_refusal_goes_dead_with_the_ministrys_reasons(
    gateway_factory: Callable[..., str], ministry: SandboxHandle, db_url: str
) -> None:
    url = gateway_factory()
    dossier = sample_dossier(MaDonViXuLy="16171/phong-LĐTBXH")  # the gateway takes it, the ministry does not
    _post(url, dossier, sample_files(dossier))

    state = wait_until(lambda: (s := _state(url, dossier["MaHoSo"]))["state"] == "dead" and s)
    failure = next(h for h in state["history"] if h["event"] == "delivery_failed")
    assert failure["detail"]["maLoi"] == "DU_LIEU_KHONG_HOP_LE"
    assert any(d["truong"] == "maDonViTiepNhan" for d in failure["detail"]["chiTiet"])
    assert _created(ministry, dossier["MaHoSo"]) == []
    database = create_database(db_url)
    try:
        with database.session() as session:
            [message] = session.execute(select(OutboxMessage)).scalars().all()
            assert (message.state, message.attempts) == ("dead", 1)
    finally:
        database.dispose()


def test_while_the_ministry_is_down_the_circuit_opens_and_the_gateway_stays_ready(
    gateway_factory: Callable[..., str], ministry: SandboxHandle
) -> None:
    url = gateway_factory()
    ministry.faults(error_503_rate=1.0, error_503_retry_after=None, path_prefixes=DELIVERY_PATHS)
    dossier = sample_dossier()
    _post(url, dossier, sample_files(dossier))

    def circuit() -> str:
        return str(httpx.get(f"{url}/health/ready", timeout=5).json()["components"]["ministry"]["circuit"])

    wait_until(lambda: circuit() in ("open", "half_open"))
    ready = httpx.get(f"{url}/health/ready", timeout=5)
    assert ready.status_code == 200
    assert ready.json()["oldest_undelivered_age_s"] > 0
    while_open = len(ministry.requests("/api/v1/tep-tin"))
    time.sleep(0.3)
    assert len(ministry.requests("/api/v1/tep-tin")) <= while_open + 1  # at most a probe, no hammering

    ministry.faults()  # back up
    wait_until(lambda: _delivered(url, dossier["MaHoSo"]))
    wait_until(lambda: circuit() == "closed")
    metrics = httpx.get(f"{url}/metrics", timeout=5).text
    assert 'gateway_delivery_attempts_total{kind="deliver_dossier",outcome="done"}' in metrics
