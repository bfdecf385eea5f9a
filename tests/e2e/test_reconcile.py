"""Ministry statuses flow back: the change feed applied once per change, through repeats and crashes."""

from __future__ import annotations

import json
import random
import signal
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from adapters.province.client import post_dossier
from adapters.province.samples import numbered_dossier
from gateway.db import create_database
from gateway.models import Dossier, DossierEvent, MinistryChange
from outbox.models import OutboxMessage
from tests.conftest import PROVINCE_KEY, READER_KEY
from tests.contract.ministry_support import SandboxHandle
from tests.e2e.conftest import dossier_state, fast_env, fast_settings, wait_until
from tests.e2e.test_workers import worker_process
from tests.support.intake import sample_files
from tests.support.pg import free_port

DECISION = {"so": "123/QĐ-UBND", "ngay": "2024-02-01", "mucHuongThang": 500000, "thangBatDauHuong": "2024-02"}
LIFE = ["DA_TIEP_NHAN", "DANG_THAM_DINH", "DA_PHE_DUYET"]


def _callbacks_off_line() -> dict[str, Any]:
    """Callbacks on, towards a port nobody listens on: they are enqueued and wait (we inspect the outbox)."""
    return {"province_callback_url": f"http://127.0.0.1:{free_port()}/callbacks",
            "province_callback_secret": "test-callback-secret"}


def _post_many(url: str, numbers: range) -> list[str]:
    codes = []
    with httpx.Client(base_url=url, timeout=30) as http:
        for n in numbers:
            dossier = numbered_dossier(n)
            assert post_dossier(http, PROVINCE_KEY, dossier, sample_files(dossier)).status_code == 202
            codes.append(dossier["MaHoSo"])
    return codes


def _states(url: str, codes: list[str]) -> dict[str, dict[str, Any]]:
    with httpx.Client(base_url=url, timeout=10) as http:
        return {code: dossier_state(http, code, PROVINCE_KEY) for code in codes}


def _move_along(ministry: SandboxHandle, ministry_id: str) -> None:
    for status in LIFE:
        extras: dict[str, Any] = {"quyetDinh": DECISION} if status == "DA_PHE_DUYET" else {}
        if status == "DA_TIEP_NHAN":
            extras["canBo"] = "Cán bộ A"
        response = ministry.officer(ministry_id, status, **extras)
        assert response.status_code == 200, response.text


def _callbacks(db_url: str) -> dict[str, list[dict[str, Any]]]:
    database = create_database(db_url)
    try:
        with database.session() as session:
            rows = session.execute(
                select(OutboxMessage).where(OutboxMessage.kind == "province_callback")  # type: ignore[arg-type]
                .order_by(OutboxMessage.id)  # type: ignore[arg-type]
            ).scalars().all()
            bodies = [r.payload["body"] for r in rows]
    finally:
        database.dispose()
    out: dict[str, list[dict[str, Any]]] = {}
    for body in bodies:
        out.setdefault(body["MaHoSo"], []).append(body)
    return out


def test_statuses_and_the_decision_come_back_once_each_even_when_the_feed_repeats(
    gateway_factory: Callable[..., str], ministry: SandboxHandle, db_url: str
) -> None:
    url = gateway_factory(**_callbacks_off_line())
    [code] = _post_many(url, range(301, 302))
    delivered = wait_until(lambda: (s := _states(url, [code])[code])["state"] == "delivered" and s)
    ministry.faults(feed_redeliver_rate=0.7, seed=7)
    _move_along(ministry, delivered["ministry"]["id"])

    state = wait_until(lambda: (s := _states(url, [code])[code])["ministry"]["status"] == "DA_PHE_DUYET" and s)
    time.sleep(1.0)  # more feed polls, with repeats
    state = _states(url, [code])[code]
    assert state["ministry"]["nationalStatus"] == 9
    assert state["decision"] == {"number": "123/QĐ-UBND", "date": "2024-02-01", "monthlyAmount": 500000,
                                 "firstMonth": "2024-02"}
    statuses = [h["detail"]["status"] for h in state["history"] if h["event"] == "ministry_status"]
    assert statuses == LIFE, json.dumps([h for h in state["history"] if h["event"] == "ministry_status"])
    bodies = _callbacks(db_url)[code]
    assert [(b["SuKien"], b["TrangThaiBo"], b["TrangThaiHoSo"]) for b in bodies] == [
        ("DA_CHUYEN_BO", "CHO_TIEP_NHAN", 2),
        ("CAP_NHAT_TRANG_THAI", "DA_TIEP_NHAN", 4),
        ("CAP_NHAT_TRANG_THAI", "DANG_THAM_DINH", 4),
        ("CAP_NHAT_TRANG_THAI", "DA_PHE_DUYET", 9),
    ]
    # No thangChiTraDauTien in this approval: nothing known to be owed (TruyLinh null, province-api §6).
    assert bodies[-1]["QuyetDinh"] == {"SoQuyetDinh": "123/QĐ-UBND", "NgayQuyetDinh": "2024-02-01",
                                       "MucHuongThang": 500000, "ThangBatDauHuong": "2024-02", "TruyLinh": None}
    assert bodies[0]["MaHoSoBo"] == state["ministry"]["id"]
    assert len({b["EventId"] for b in bodies}) == 4


def test_workers_killed_while_reading_the_feed_lose_and_repeat_nothing(
    gateway_factory: Callable[..., str], ministry: SandboxHandle, db_url: str, tmp_path: Path
) -> None:
    url = gateway_factory(embedded_worker=False)
    settings = fast_settings(db_url, tmp_path, ministry.base_url, reconcile_batch=1, reconcile_interval_s=0.05,
                             reconcile_lease_s=1.0, **_callbacks_off_line())
    env = fast_env(settings)
    codes = _post_many(url, range(401, 409))
    with worker_process(env, tmp_path / "deliver.log"):
        wait_until(lambda: all(s["state"] == "delivered" for s in _states(url, codes).values()), timeout=40)
    ids = {code: s["ministry"]["id"] for code, s in _states(url, codes).items()}
    for ministry_id in ids.values():
        _move_along(ministry, ministry_id)

    # Each feed page now takes 0.15 s, so the 24 changes take several seconds to read: kills land mid-feed.
    ministry.faults(sequence=["hang"] * 200, hang_seconds=0.15, path_prefixes=["/api/v1/ho-so/thay-doi"])
    rng = random.Random(3)
    seen = []
    for round_ in range(3):  # read the feed in fits and starts, killed at random instants
        with worker_process(env, tmp_path / f"crash{round_}.log") as victim:
            time.sleep(rng.uniform(1.5, 2.5))
            victim.send_signal(signal.SIGKILL)
            victim.wait(timeout=10)
        seen.append(_recorded_changes(db_url))
    assert seen[0] < seen[-1] or seen[-1] < len(codes) * 4, seen  # the crashes did interrupt the reading
    ministry.faults()
    with worker_process(env, tmp_path / "last.log"):
        wait_until(lambda: all(s["ministry"]["status"] == "DA_PHE_DUYET" for s in _states(url, codes).values()),
                   timeout=60, interval=0.3)

    database = create_database(db_url)
    try:
        with database.session() as session:
            events = session.execute(
                select(Dossier.ma_ho_so, DossierEvent.detail)  # type: ignore[call-overload]
                .join(Dossier, Dossier.id == DossierEvent.dossier_id)
                .where(DossierEvent.kind == "ministry_status")
                .order_by(DossierEvent.id)
            ).all()
    finally:
        database.dispose()
    per_dossier: dict[str, list[str]] = {}
    for code, detail in events:
        if detail["status"] != "CHO_TIEP_NHAN":  # recorded only when the feed beat the delivery's own answer
            per_dossier.setdefault(code, []).append(detail["status"])
    assert per_dossier == {code: LIFE for code in codes}
    callbacks = _callbacks(db_url)
    for code in codes:
        assert [b["SuKien"] for b in callbacks[code]].count("CAP_NHAT_TRANG_THAI") == 3
        assert Counter(b["TrangThaiBo"] for b in callbacks[code]) == Counter(["CHO_TIEP_NHAN", *LIFE])


def test_overdue_dossiers_are_listed_and_counted(gateway_factory: Callable[..., str], ministry: SandboxHandle) -> None:
    url = gateway_factory(embedded_worker=False)
    late = numbered_dossier(601)  # promised for 2024: long past
    on_time = numbered_dossier(602)
    on_time["NgayHenTra"] = "20991231170000"
    computed = numbered_dossier(603)
    del computed["NgayHenTra"]  # promised date computed from 22 working days after 15/01/2024
    with httpx.Client(base_url=url, timeout=30) as http:
        for dossier in (late, on_time, computed):
            assert post_dossier(http, PROVINCE_KEY, dossier, sample_files(dossier)).status_code == 202
        listing = http.get("/api/v1/dossiers", params={"overdue": "true"},
                           headers={"Authorization": f"Bearer {READER_KEY}"}).json()
        detail = dossier_state(http, computed["MaHoSo"], READER_KEY)
        everything = http.get("/api/v1/dossiers", headers={"Authorization": f"Bearer {READER_KEY}"}).json()
        metrics = http.get("/metrics").text
    assert listing["count"] == 2
    assert {item["MaHoSo"] for item in listing["items"]} == {late["MaHoSo"], computed["MaHoSo"]}
    assert all(item["overdue"] for item in listing["items"])
    # 22 working days after Monday 15/01/2024, skipping Tết (8–14/02/2024): Wednesday 21/02/2024, 17:00 +07:00.
    assert detail["dueAt"] == "2024-02-21T10:00:00+00:00"
    assert everything["count"] == 3
    assert "gateway_dossiers_overdue 2.0" in metrics


def _recorded_changes(db_url: str) -> int:
    database = create_database(db_url)
    try:
        with database.session() as session:
            return len(session.execute(select(MinistryChange.change_key)).all())  # type: ignore[call-overload]
    finally:
        database.dispose()


def _delivered(http: httpx.Client, dossier: dict[str, Any], files: dict[str, bytes]) -> str:
    """Post ``dossier`` and wait until it is delivered; its ministry id."""
    assert post_dossier(http, PROVINCE_KEY, dossier, files).status_code == 202
    state = wait_until(lambda: (s := dossier_state(http, dossier["MaHoSo"], PROVINCE_KEY))["state"]
                       == "delivered" and s)
    ministry_id: str = state["ministry"]["id"]
    return ministry_id


def _supplemented_when_asked(http: httpx.Client, ministry: SandboxHandle, ministry_id: str, reason: str,
                             revised: dict[str, Any], revised_files: dict[str, bytes]) -> dict[str, Any]:
    """The officer asks for more; once the gateway knows, the province posts ``revised``; the dossier's state once
    the supplement has moved it back to DA_TIEP_NHAN."""
    code = revised["MaHoSo"]
    assert ministry.officer(ministry_id, "YEU_CAU_BO_SUNG", lyDo=reason).status_code == 200
    wait_until(lambda: dossier_state(http, code, PROVINCE_KEY)["ministry"]["status"] == "YEU_CAU_BO_SUNG")
    answer = post_dossier(http, PROVINCE_KEY, revised, revised_files)
    assert answer.status_code == 202 and answer.json()["revision"] == 2
    final: dict[str, Any] = wait_until(lambda: (s := dossier_state(http, code, PROVINCE_KEY))["ministry"]["status"]
                                       == "DA_TIEP_NHAN" and s)
    return final


def test_a_supplement_asked_by_the_ministry_goes_through_bo_sung_with_only_the_new_component(
    gateway_factory: Callable[..., str], ministry: SandboxHandle
) -> None:
    url = gateway_factory()
    dossier = numbered_dossier(701)
    files = sample_files(dossier)
    with httpx.Client(base_url=url, timeout=30) as http:
        ministry_id = _delivered(http, dossier, files)
        # Not asked for more yet: a changed dossier is refused.
        extra = {"TepDinhKemId": "f2", "TenTepDinhKem": "cccd.pdf", "MaThanhPhanHoSo": "BAN_SAO_GIAY_TO_TUY_THAN"}
        revised = {**dossier, "TaiLieuNop": [*dossier["TaiLieuNop"], extra]}
        revised_files = {**files, "f2": sample_files({"MaHoSo": "x", "TaiLieuNop": [extra]})["f2"]}
        assert post_dossier(http, PROVINCE_KEY, revised, revised_files).status_code == 409

        final = _supplemented_when_asked(http, ministry, ministry_id, "Thiếu bản sao CCCD", revised, revised_files)
    assert any(h["event"] == "supplement_delivered" and h["detail"]["components"] == ["BAN_SAO_GIAY_TO_TUY_THAN"]
               for h in final["history"])
    [supplement] = ministry.requests(f"/api/v1/ho-so/{ministry_id}/bo-sung", method="POST")
    assert supplement["status"] == 200
    [held] = [d for d in ministry.all_dossiers() if d["id"] == ministry_id]
    assert {c["maThanhPhan"] for c in held["thanhPhanHoSo"]} == {"TK_1C", "BAN_SAO_GIAY_TO_TUY_THAN"}
    assert len(ministry.all_dossiers()) == 1


def test_a_supplement_adding_a_page_to_a_component_already_delivered_sends_only_the_new_page(
    gateway_factory: Callable[..., str], ministry: SandboxHandle
) -> None:
    url = gateway_factory()
    dossier = numbered_dossier(702)
    files = sample_files(dossier)
    page = {"TepDinhKemId": "f2", "TenTepDinhKem": "to-khai-1c-trang-2.pdf", "MaThanhPhanHoSo": "TK_1C"}
    revised = {**dossier, "TaiLieuNop": [*dossier["TaiLieuNop"], page]}
    revised_files = {**files, "f2": b"%PDF-1.4\n% trang 2 cua to khai\n%%EOF\n"}
    with httpx.Client(base_url=url, timeout=30) as http:
        ministry_id = _delivered(http, dossier, files)
        [first] = [d for d in ministry.all_dossiers() if d["id"] == ministry_id]
        [delivered_ids] = [c["tepTinIds"] for c in first["thanhPhanHoSo"] if c["maThanhPhan"] == "TK_1C"]
        final = _supplemented_when_asked(http, ministry, ministry_id, "Thiếu trang 2 tờ khai", revised, revised_files)
    assert any(h["event"] == "supplement_delivered" and h["detail"]["components"] == ["TK_1C"]
               for h in final["history"])
    [supplement] = ministry.requests(f"/api/v1/ho-so/{ministry_id}/bo-sung", method="POST")
    assert supplement["status"] == 200
    # The ministry holds the first page once and the new page once: only the new page was uploaded and sent.
    [held] = [d for d in ministry.all_dossiers() if d["id"] == ministry_id]
    held_ids = [i for c in held["thanhPhanHoSo"] if c["maThanhPhan"] == "TK_1C" for i in c["tepTinIds"]]
    assert len(held_ids) == len(set(held_ids)) == 2 and set(delivered_ids) < set(held_ids)
    assert len(ministry.requests("/api/v1/tep-tin", method="POST")) == 2
