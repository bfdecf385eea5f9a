"""The linked death procedure end to end (issue 16): province sandbox → gateway → ministry sandbox, real sockets.

One notice: the deceased looked up among the ministry's beneficiaries, the allowance stopped from the month
after the death with the overpayment recovered (computed by mappings, checked by the sandbox against its own
computation), the funeral-support dossier created in pending reception, every outcome called back in order.
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from adapters.province.client import post_death_notice
from adapters.province.samples import sample_death_notice, sample_pdf_bytes
from tests.conftest import ADMIN_KEY, API_KEYS, PROVINCE_KEY
from tests.contract.ministry_support import SandboxHandle
from tests.e2e.conftest import CALLBACK_SECRET, CLIENT_ID, CLIENT_SECRET, Province, wait_until
from tests.support.procs import gateway_env, serve_gateway

STOP_PATH = "/api/v1/doi-tuong/"
LAN = {"HoTen": "Phạm Thị Lan", "SoDinhDanh": "038130005678", "NgaySinh": "1930", "GioiTinh": 2}
NOBODY = {"HoTen": "Đỗ Văn Khoa", "SoDinhDanh": "038050001111", "NgaySinh": "05/05/1950", "GioiTinh": 1}


def _files(notice: dict[str, Any]) -> dict[str, bytes]:
    return {item["TepDinhKemId"]: sample_pdf_bytes(f"{notice['MaHoSoLienThong']} {item['TenTepDinhKem']}")
            for item in notice["TaiLieuNop"]}


def _notice(code: str, **deceased: Any) -> dict[str, Any]:
    notice = sample_death_notice(MaHoSoLienThong=code)
    notice["NguoiMat"].update(deceased)
    return notice


def _post(url: str, notice: dict[str, Any], expected: int = 202, encoding: str = "multipart") -> dict[str, Any]:
    with httpx.Client(base_url=url, timeout=30) as http:
        answer = post_death_notice(http, PROVINCE_KEY, notice, _files(notice), encoding=encoding)
    assert answer.status_code == expected, answer.text
    body: dict[str, Any] = answer.json()
    return body


def _notice_state(url: str, code: str) -> dict[str, Any]:
    with httpx.Client(base_url=url, timeout=10) as http:
        answer = http.get(f"/api/v1/death-notices/{code}", headers={"Authorization": f"Bearer {PROVINCE_KEY}"})
    answer.raise_for_status()
    body: dict[str, Any] = answer.json()
    return body


def _funeral_delivered(url: str, code: str) -> dict[str, Any] | None:
    state = _notice_state(url, code)
    return state if state["steps"]["funeral_dossier"]["delivery"] == "delivered" else None


def _events(province: Province, code: str) -> list[str]:
    return [c["SuKien"] for c in province.callbacks(code)]


@pytest.fixture
def wired(gateway_factory: Callable[..., str], province: Province) -> str:
    url = gateway_factory(province_callback_url=f"{province.base_url}/callbacks",
                          province_callback_secret=CALLBACK_SECRET)
    province.point_at(url)
    return url


def test_an_active_beneficiary_is_stopped_with_the_overpayment_and_funeral_support_opened(
    wired: str, province: Province, ministry: SandboxHandle
) -> None:
    code = "000.00.12.H56-241002-0101"
    receipt = _post(wired, _notice(code))
    assert receipt["MaHoSoLienThong"] == code and receipt["links"]["self"] == f"/api/v1/death-notices/{code}"
    state = wait_until(lambda: _funeral_delivered(wired, code))
    steps = state["steps"]
    assert (steps["lookup"]["state"], steps["lookup"]["status"]) == ("done", "DANG_HUONG")
    # Died 28/09/2024, paid through 2024-12 at 500,000: October, November and December recovered.
    assert (steps["stop"]["state"], steps["stop"]["stopMonth"]) == ("done", "2024-10")
    assert steps["stop"]["recovery"] == {"soTien": 1_500_000, "chiTiet": [
        {"thang": "2024-10", "soTien": 500_000}, {"thang": "2024-11", "soTien": 500_000},
        {"thang": "2024-12", "soTien": 500_000}]}
    assert steps["funeral_dossier"]["MaHoSo"] == code

    wait_until(lambda: len(province.callbacks(code)) >= 2)
    callbacks = province.callbacks(code)
    assert _events(province, code)[:2] == ["DA_THOI_HUONG", "DA_CHUYEN_BO"]
    assert all(c["signature_ok"] and not c["out_of_order"] for c in callbacks)
    assert callbacks[0]["ThoiHuong"] == {"ThangThoiHuong": "2024-10", "TruyThu": {
        "SoTien": 1_500_000, "SoThang": 3, "ChiTiet": [{"Thang": "2024-10", "SoTien": 500_000},
                                                       {"Thang": "2024-11", "SoTien": 500_000},
                                                       {"Thang": "2024-12", "SoTien": 500_000}]}}

    [funeral] = [d for d in ministry.all_dossiers() if d["maHoSoTinh"] == code]
    assert funeral["maThuTuc"] == "1.001731"
    assert funeral["nguoiNop"]["hoTen"] == "Trần Văn Nam"
    assert {c["maThanhPhan"] for c in funeral["thanhPhanHoSo"]} == {"TK_MAI_TANG", "TRICH_LUC_KHAI_TU"}
    stops = [r for r in ministry.requests(STOP_PATH) if r["method"] == "POST"]
    assert len(stops) == 1

    with httpx.Client(base_url=wired, timeout=10, headers={"Authorization": f"Bearer {ADMIN_KEY}"}) as admin:
        listed = admin.get("/api/v1/admin/payment-adjustments", params={"kind": "truy_thu"}).json()
        as_csv = admin.get("/api/v1/admin/payment-adjustments", params={"format": "csv"})
        dossier = admin.get(f"/api/v1/dossiers/{code}", headers={"Authorization": f"Bearer {PROVINCE_KEY}"}).json()
    [adjustment] = listed["items"]
    assert (adjustment["kind"], adjustment["MaHoSo"], adjustment["amount"], adjustment["firstMonth"],
            adjustment["lastMonth"]) == ("truy_thu", code, 1_500_000, "2024-10", "2024-12")
    [row] = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert (row["kind"], row["amount"], row["detail"]) == (
        "truy_thu", "1500000", "2024-10:500000;2024-11:500000;2024-12:500000")
    assert dossier["state"] == "delivered" and dossier["dueAt"]  # 5 working days (1.001731), followed as any dossier


def test_a_beneficiary_never_paid_after_the_death_is_stopped_with_nothing_to_recover(
    wired: str, province: Province
) -> None:
    code = "000.00.12.H56-241002-0102"
    _post(wired, _notice(code, **LAN), encoding="json")
    state = wait_until(lambda: _funeral_delivered(wired, code))
    assert (state["steps"]["stop"]["state"], state["steps"]["stop"]["recovery"]) == ("done", None)
    wait_until(lambda: len(province.callbacks(code)) >= 2)
    stopped = province.callbacks(code)[0]
    assert stopped["SuKien"] == "DA_THOI_HUONG" and stopped["ThoiHuong"]["TruyThu"] is None
    with httpx.Client(base_url=wired, timeout=10, headers={"Authorization": f"Bearer {ADMIN_KEY}"}) as admin:
        assert admin.get("/api/v1/admin/payment-adjustments").json()["items"] == []


def test_a_non_beneficiary_gets_funeral_support_and_nothing_stopped(
    wired: str, province: Province, ministry: SandboxHandle
) -> None:
    code = "000.00.12.H56-241002-0103"
    _post(wired, _notice(code, **NOBODY))
    state = wait_until(lambda: _funeral_delivered(wired, code))
    assert (state["steps"]["lookup"]["found"], state["steps"]["stop"]["state"]) == (False, "not_needed")
    wait_until(lambda: len(province.callbacks(code)) >= 2)
    assert _events(province, code)[:2] == ["KHONG_CO_TRO_CAP", "DA_CHUYEN_BO"]
    assert not [r for r in ministry.requests(STOP_PATH) if r["method"] == "POST"]


def test_the_same_notice_twice_is_one_notice_and_other_content_is_a_conflict(wired: str) -> None:
    code = "000.00.12.H56-241002-0104"
    notice = _notice(code, **NOBODY)
    first = _post(wired, notice)
    again = _post(wired, notice, expected=200, encoding="json")
    assert again["id"] == first["id"]
    changed = _notice(code, **NOBODY)
    changed["KhaiTu"]["SoTrichLuc"] = "999/TLKT-BS"
    with httpx.Client(base_url=wired, timeout=30) as http:
        conflict = post_death_notice(http, PROVINCE_KEY, changed, _files(changed))
    assert conflict.status_code == 409 and conflict.json()["code"] == "death_notice_conflict"
    with httpx.Client(base_url=wired, timeout=30) as http:
        bad = _notice("000.00.12.H56-241002-0105", NgayMat="01/10/2025")  # after the registration and reception
        refused = post_death_notice(http, PROVINCE_KEY, bad, _files(bad))
    assert refused.status_code == 422
    assert {(e["field"], e["code"]) for e in refused.json()["errors"]} >= {
        ("KhaiTu.NgayDangKy", "death_after_registration"), ("NgayTiepNhan", "death_after_received")}


def test_a_lost_answer_to_the_stop_stops_once(wired: str, ministry: SandboxHandle) -> None:
    code = "000.00.12.H56-241002-0106"
    ministry.faults(sequence=["lost_answer"], path_prefixes=[STOP_PATH])
    _post(wired, _notice(code))
    state = wait_until(lambda: _funeral_delivered(wired, code))
    assert state["steps"]["stop"]["state"] == "done"
    stops = [r for r in ministry.requests(STOP_PATH) if r["method"] == "POST"]
    assert len(stops) == 2  # the lost one and its retry, with the same key: one stop
    assert len({r.get("idempotency_key") for r in stops}) == 1


def test_a_gateway_killed_while_the_ministry_stops_leaves_one_stop_and_one_funeral_dossier(
    db_url: str, tmp_path: Path, ministry: SandboxHandle
) -> None:
    code = "000.00.12.H56-241002-0107"
    ministry.faults(sequence=["hang"], hang_seconds=30.0, path_prefixes=[STOP_PATH])
    env = gateway_env(db_url, tmp_path / "blobs", API_KEYS, GATEWAY_EMBEDDED_WORKER="true",
                      GATEWAY_MINISTRY_BASE_URL=ministry.base_url, GATEWAY_MINISTRY_CLIENT_ID=CLIENT_ID,
                      GATEWAY_MINISTRY_CLIENT_SECRET=CLIENT_SECRET, GATEWAY_MINISTRY_TIMEOUT_S="60",
                      GATEWAY_OUTBOX_POLL_S="0.05", GATEWAY_OUTBOX_LEASE_S="2", GATEWAY_RETRY_BASE_S="0.05",
                      GATEWAY_RETRY_CAP_S="0.3", GATEWAY_RECONCILE_INTERVAL_S="0.5")
    with serve_gateway(env, tmp_path / "first.log") as gateway:
        _post(gateway.base_url, _notice(code))
        # The ministry has the stop (its answer held back): kill the gateway before it records anything.
        wait_until(lambda: [r for r in ministry.requests(STOP_PATH) if r["method"] == "POST"], timeout=30)
        time.sleep(0.2)
        gateway.kill()
    ministry.faults()
    with serve_gateway(env, tmp_path / "second.log") as gateway:
        state = wait_until(lambda: _funeral_delivered(gateway.base_url, code), timeout=40)
    assert state["steps"]["stop"]["state"] == "done"
    assert len([d for d in ministry.all_dossiers() if d["maHoSoTinh"] == code]) == 1
    stops = [r for r in ministry.requests(STOP_PATH) if r["method"] == "POST"]
    assert len({r.get("idempotency_key") for r in stops}) == 1
    [record] = ministry.beneficiaries("038141001234")
    assert record["trangThaiHuong"] == "DA_THOI_HUONG"


def test_a_refused_amount_goes_dead_with_its_reasons_the_province_told_and_funeral_support_opened(
    wired: str, province: Province, ministry: SandboxHandle
) -> None:
    code = "000.00.12.H56-241002-0108"
    ministry.faults(fail_next=1, status=503, error_503_retry_after=2, path_prefixes=[STOP_PATH])
    _post(wired, _notice(code))
    # While the first stop waits out its Retry-After, a payment list carries her one month more: the ministry's
    # record now says paid through 2025-01, the gateway computed through 2024-12 (422 SAI_SO_TIEN).
    wait_until(lambda: [r for r in ministry.requests(STOP_PATH) if r["method"] == "POST"])
    [record] = ministry.beneficiaries("038141001234")
    ministry.http.post("/_sandbox/doi-tuong", json={**record, "daChiTraDenThang": "2025-01"}).raise_for_status()
    state = wait_until(lambda: _funeral_delivered(wired, code))
    stop = state["steps"]["stop"]
    assert stop["state"] == "failed" and "SAI_SO_TIEN" in stop["reason"]
    assert any("2025-01" in str(d) for d in stop["detail"]["chiTiet"])
    wait_until(lambda: len(province.callbacks(code)) >= 2)
    failed, delivered = province.callbacks(code)[:2]
    assert (failed["SuKien"], delivered["SuKien"]) == ("LOI_DONG_BO", "DA_CHUYEN_BO")
    assert "SAI_SO_TIEN" in failed["NoiDung"] or "2025-01" in failed["NoiDung"]
    with httpx.Client(base_url=wired, timeout=10, headers={"Authorization": f"Bearer {ADMIN_KEY}"}) as admin:
        dead = admin.get("/api/v1/admin/messages", params={"state": "dead", "kind": "notice_stop"}).json()["items"]
        assert admin.get("/api/v1/admin/payment-adjustments").json()["items"] == []
    assert len(dead) == 1
