"""Back-payments end to end (issue 17): an approval with months owed, seen in the feed, posted to the ministry
(§9) once, listed for the payment run, told to the province; a refused amount goes dead and replays."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import httpx

from adapters.province.client import post_dossier
from adapters.province.samples import sample_dossier
from tests.conftest import ADMIN_KEY, API_KEYS, PROVINCE_KEY
from tests.contract.ministry_support import SandboxHandle
from tests.e2e.conftest import CALLBACK_SECRET, CLIENT_ID, CLIENT_SECRET, Province, dossier_state, wait_until
from tests.support.intake import sample_files
from tests.support.procs import gateway_env, serve_gateway

BACK_PAYMENT_PATH = "/api/v1/chi-tra/truy-linh"
DECISION = {"so": "123/QĐ-UBND", "ngay": "2024-09-05", "mucHuongThang": 500_000, "thangBatDauHuong": "2024-05"}


def _delivered(url: str, code: str) -> str:
    dossier = sample_dossier(MaHoSo=code)
    with httpx.Client(base_url=url, timeout=30) as http:
        assert post_dossier(http, PROVINCE_KEY, dossier, sample_files(dossier)).status_code == 202
        state = wait_until(lambda: (s := dossier_state(http, code, PROVINCE_KEY))["state"] == "delivered" and s)
    return str(state["ministry"]["id"])


def _adjustments(url: str) -> list[dict]:  # type: ignore[type-arg]
    with httpx.Client(base_url=url, timeout=10, headers={"Authorization": f"Bearer {ADMIN_KEY}"}) as admin:
        items: list[dict] = admin.get("/api/v1/admin/payment-adjustments",  # type: ignore[type-arg]
                                      params={"kind": "truy_linh"}).json()["items"]
    return items


def _approve(ministry: SandboxHandle, ministry_id: str, first_paid: str) -> None:
    for status in ("DA_TIEP_NHAN", "DANG_THAM_DINH"):
        assert ministry.officer(ministry_id, status, **({"canBo": "Cán bộ B"} if status == "DA_TIEP_NHAN" else {})
                                ).status_code == 200
    answer = ministry.officer(ministry_id, "DA_PHE_DUYET", quyetDinh=DECISION, thangChiTraDauTien=first_paid)
    assert answer.status_code == 200, answer.text


def test_months_owed_by_an_approval_are_posted_once_listed_and_told(
    gateway_factory: Callable[..., str], province: Province, ministry: SandboxHandle
) -> None:
    url = gateway_factory(province_callback_url=f"{province.base_url}/callbacks",
                          province_callback_secret=CALLBACK_SECRET)
    code = "000.00.12.H56-240115-0401"
    _approve(ministry, _delivered(url, code), "2024-09")
    [adjustment] = wait_until(lambda: _adjustments(url))
    assert (adjustment["MaHoSo"], adjustment["firstMonth"], adjustment["lastMonth"], adjustment["amount"],
            adjustment["listMonth"]) == (code, "2024-05", "2024-08", 1_720_000, "2024-09")
    [sent] = ministry.http.get("/_sandbox/truy-linh").json()["truyLinh"]
    assert (sent["tuThang"], sent["denThang"], sent["soTien"], sent["canCu"]["soQuyetDinh"]) == (
        "2024-05", "2024-08", 1_720_000, "123/QĐ-UBND")
    approved = wait_until(lambda: [c for c in province.callbacks(code) if c["TrangThaiBo"] == "DA_PHE_DUYET"])
    assert approved[0]["QuyetDinh"]["TruyLinh"]["SoTien"] == 1_720_000
    assert province.callbacks(code)[0]["SuKien"] == "DA_CHUYEN_BO"
    assert len([r for r in ministry.requests(BACK_PAYMENT_PATH) if r["method"] == "POST"]) == 1


def test_an_approval_paid_from_its_first_month_owes_nothing(
    gateway_factory: Callable[..., str], province: Province, ministry: SandboxHandle
) -> None:
    url = gateway_factory(province_callback_url=f"{province.base_url}/callbacks",
                          province_callback_secret=CALLBACK_SECRET)
    code = "000.00.12.H56-240115-0402"
    _approve(ministry, _delivered(url, code), "2024-05")
    approved = wait_until(lambda: [c for c in province.callbacks(code) if c["TrangThaiBo"] == "DA_PHE_DUYET"])
    assert approved[0]["QuyetDinh"]["TruyLinh"] is None
    assert _adjustments(url) == [] and not ministry.requests(BACK_PAYMENT_PATH)


def test_a_refused_amount_goes_dead_with_its_months_and_a_replay_after_correction_sends_it(
    gateway_factory: Callable[..., str], ministry: SandboxHandle
) -> None:
    url = gateway_factory()
    code = "000.00.12.H56-240115-0403"
    ministry_id = _delivered(url, code)
    ministry.faults(fail_next=1, status=503, error_503_retry_after=2, path_prefixes=[BACK_PAYMENT_PATH])
    _approve(ministry, ministry_id, "2024-09")
    wait_until(lambda: [r for r in ministry.requests(BACK_PAYMENT_PATH) if r["method"] == "POST"])
    # Meanwhile the ministry's record says another group (1.5): its months disagree with the gateway's.
    [record] = ministry.beneficiaries("038141001234")
    ministry.http.post("/_sandbox/doi-tuong", json={**record, "nhomDoiTuong": "NCT_NGHEO_KHONG_NGUOI_PHUNG_DUONG"}
                       ).raise_for_status()
    with httpx.Client(base_url=url, timeout=10, headers={"Authorization": f"Bearer {ADMIN_KEY}"}) as admin:
        [dead] = wait_until(lambda: admin.get("/api/v1/admin/messages", params={
            "state": "dead", "kind": "send_back_payment"}).json()["items"])
        detail = admin.get(f"/api/v1/admin/messages/{dead['id']}").json()
        assert detail["lastErrorDetail"]["maLoi"] == "SAI_SO_TIEN"
        assert any("2024-0" in d["truong"] or "2024-0" in d["thongDiep"] for d in detail["lastErrorDetail"]["chiTiet"])
        assert _adjustments(url) == []
        # The officer corrects the ministry's record; the administrator replays.
        ministry.http.post("/_sandbox/doi-tuong", json=record).raise_for_status()
        assert admin.post(f"/api/v1/admin/messages/{dead['id']}/replay").status_code == 200
    [adjustment] = wait_until(lambda: _adjustments(url))
    assert adjustment["amount"] == 1_720_000


def test_a_gateway_killed_while_the_ministry_records_the_back_payment_sends_it_once(
    db_url: str, tmp_path: Path, ministry: SandboxHandle
) -> None:
    code = "000.00.12.H56-240115-0404"
    env = gateway_env(db_url, tmp_path / "blobs", API_KEYS, GATEWAY_EMBEDDED_WORKER="true",
                      GATEWAY_MINISTRY_BASE_URL=ministry.base_url, GATEWAY_MINISTRY_CLIENT_ID=CLIENT_ID,
                      GATEWAY_MINISTRY_CLIENT_SECRET=CLIENT_SECRET, GATEWAY_MINISTRY_TIMEOUT_S="60",
                      GATEWAY_OUTBOX_POLL_S="0.05", GATEWAY_OUTBOX_LEASE_S="2", GATEWAY_RETRY_BASE_S="0.05",
                      GATEWAY_RETRY_CAP_S="0.3", GATEWAY_RECONCILE_INTERVAL_S="0.2")
    with serve_gateway(env, tmp_path / "first.log") as gateway:
        ministry_id = _delivered(gateway.base_url, code)
        # The ministry records the back-payment and holds its answer: the gateway dies before it hears it.
        ministry.faults(sequence=["hang"], hang_seconds=30.0, path_prefixes=[BACK_PAYMENT_PATH])
        _approve(ministry, ministry_id, "2024-09")
        wait_until(lambda: [r for r in ministry.requests(BACK_PAYMENT_PATH) if r["method"] == "POST"], timeout=30)
        time.sleep(0.2)
        gateway.kill()
    ministry.faults()
    with serve_gateway(env, tmp_path / "second.log") as gateway:
        [adjustment] = wait_until(lambda: _adjustments(gateway.base_url), timeout=40)
    assert adjustment["amount"] == 1_720_000
    assert len(ministry.http.get("/_sandbox/truy-linh").json()["truyLinh"]) == 1
    posts = [r for r in ministry.requests(BACK_PAYMENT_PATH) if r["method"] == "POST"]
    assert len(posts) >= 2 and len({r["idempotency_key"] for r in posts}) == 1
