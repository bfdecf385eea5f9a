"""Operations against a live gateway and the ministry sandbox: replay through the admin API, /metrics scraped,
and the logs of a whole run free of personal data with one line per delivery attempt."""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from adapters.province.client import post_dossier
from adapters.province.samples import numbered_dossier, sample_dossier
from gateway.db import create_database
from gateway.logging import configure_logging
from outbox.columns import utcnow
from outbox.models import OutboxAttempt
from tests.conftest import ADMIN_KEY, PROVINCE_KEY
from tests.contract.ministry_support import SandboxHandle
from tests.e2e.conftest import dossier_state, wait_until
from tests.support.admin import audit_entries, seed, states
from tests.support.intake import auth, sample_files

DELIVERY_PATHS = ["/api/v1/tep-tin", "/api/v1/ho-so/cho-tiep-nhan"]
ADMIN = auth(ADMIN_KEY)


def _post(http: httpx.Client, dossier: dict[str, Any], expect: int = 202) -> None:
    response = post_dossier(http, PROVINCE_KEY, dossier, sample_files(dossier))
    assert response.status_code == expect, response.text


def _in_state(http: httpx.Client, code: str, state: str) -> dict[str, Any] | None:
    found = dossier_state(http, code, PROVINCE_KEY)
    return found if found["state"] == state else None


def _metrics(http: httpx.Client) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = http.get("/metrics")
    assert response.status_code == 200
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(response.text) for sample in family.samples}


def _metric(http: httpx.Client, name: str, **labels: str) -> float | None:
    return _metrics(http).get((name, tuple(sorted(labels.items()))))


def test_a_dead_delivery_replayed_by_an_admin_is_delivered(
    gateway_factory: Callable[..., str], ministry: SandboxHandle
) -> None:
    url = gateway_factory(retry_max_attempts=1)  # the first failure buries the message
    ministry.faults(fail_next=1, status=503, path_prefixes=DELIVERY_PATHS)
    dossier = numbered_dossier()
    code = dossier["MaHoSo"]
    with httpx.Client(base_url=url, timeout=30) as http:
        _post(http, dossier)
        wait_until(lambda: _in_state(http, code, "dead"))
        ministry.faults()  # the line is back

        [message] = http.get("/api/v1/admin/messages", params={"MaHoSo": code, "state": "dead"},
                             headers=ADMIN).json()["items"]
        assert message["kind"] == "deliver_dossier" and "503" in message["lastError"]
        replayed = http.post(f"/api/v1/admin/messages/{message['id']}/replay", headers=ADMIN)
        assert replayed.status_code == 200, replayed.text

        delivered = wait_until(lambda: _in_state(http, code, "delivered"))
        assert delivered["ministry"]["status"] == "CHO_TIEP_NHAN"
        detail = http.get(f"/api/v1/admin/messages/{message['id']}", headers=ADMIN).json()
        assert detail["state"] == "done"
        assert [(a["outcome"], a["httpStatus"]) for a in detail["attemptsLog"]] == [("dead", 503), ("done", None)]
        [entry] = http.get("/api/v1/admin/audit", headers=ADMIN).json()["items"]
        assert (entry["actor"], entry["action"], entry["target"]["ids"]) == ("api:admin", "replay", [message["id"]])
        again = http.post(f"/api/v1/admin/messages/{message['id']}/replay", headers=ADMIN)
        assert again.status_code == 409
    assert len([d for d in ministry.all_dossiers() if d["maHoSoTinh"] == code]) == 1


def test_metrics_scraped_from_a_live_gateway(gateway_factory: Callable[..., str], ministry: SandboxHandle) -> None:
    url = gateway_factory()
    first, second = numbered_dossier(), numbered_dossier()
    with httpx.Client(base_url=url, timeout=30) as http:
        _post(http, first)
        wait_until(lambda: _in_state(http, first["MaHoSo"], "delivered"))
        lag = wait_until(lambda: (v := _metric(http, "gateway_reconciler_lag_seconds")) is not None and v < 2 and [v])
        assert lag[0] >= 0
        assert _metric(http, "gateway_circuit_state", target="ministry") == 0
        assert _metric(http, "gateway_outbox_messages", kind="deliver_dossier", state="done") == 1
        assert _metric(http, "gateway_outbox_oldest_undelivered_seconds", kind="deliver_dossier") == 0
        assert (_metric(http, "gateway_delivery_attempts_total", kind="deliver_dossier", outcome="done") or 0) >= 1
        assert (_metric(http, "gateway_intake_requests_total", result="202") or 0) >= 1
        assert _metric(http, "gateway_dossiers_overdue") is not None
        assert (_metric(http, "gateway_delivery_latency_seconds_count", kind="deliver_dossier") or 0) >= 1

        ministry.faults(error_503_rate=1.0)  # the ministry is down: deliveries and the change feed fail
        _post(http, second)
        wait_until(lambda: _metric(http, "gateway_circuit_state", target="ministry") == 2)  # open
        wait_until(lambda: (_metric(http, "gateway_outbox_oldest_undelivered_seconds", kind="deliver_dossier")
                            or 0) > 0.5)
        wait_until(lambda: (_metric(http, "gateway_reconciler_lag_seconds") or 0) > 1.0)
        assert (_metric(http, "gateway_delivery_attempts_total", kind="deliver_dossier", outcome="retry") or 0) >= 1

        ministry.faults()  # back
        wait_until(lambda: _in_state(http, second["MaHoSo"], "delivered"), timeout=30)
        wait_until(lambda: _metric(http, "gateway_circuit_state", target="ministry") == 0)
        assert _metric(http, "gateway_outbox_oldest_undelivered_seconds", kind="deliver_dossier") == 0


def test_a_whole_run_logs_no_personal_data_and_one_line_per_attempt(
    capsys: pytest.CaptureFixture[str], gateway_factory: Callable[..., str], ministry: SandboxHandle, db_url: str
) -> None:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    configure_logging("json", "DEBUG")
    try:
        _whole_run(capsys, gateway_factory, ministry, db_url)
    finally:
        # The gateway and the sandbox log from their threads after this test: not into capsys's closed stream.
        root.handlers[:] = handlers
        root.setLevel(level)


def _whole_run(capsys: pytest.CaptureFixture[str], gateway_factory: Callable[..., str], ministry: SandboxHandle,
               db_url: str) -> None:
    url = gateway_factory()
    good = sample_dossier()
    refused_here = numbered_dossier()
    refused_here["DuLieuToKhai"]["GioiTinh"] = 1  # contradicts the ID number: 422 at intake
    refused_there = numbered_dossier()
    refused_there["MaDonViXuLy"] = "16171/phong-LĐTBXH"  # accepted here, refused by the ministry
    personal = {value for d in (good, refused_here, refused_there)
                for value in (d["DuLieuToKhai"]["SoDinhDanh"], d["DuLieuToKhai"]["HoTen"],
                              d["DuLieuToKhai"]["NgaySinh"], d["ChuHoSo"]["SoDinhDanh"], d["ChuHoSo"]["HoTen"],
                              d["ChuHoSo"]["SoDienThoai"])}
    personal.add("1941-03-02")  # the birth date as the ministry payload spells it

    ministry.faults(fail_next=2, status=503, error_503_retry_after=None, path_prefixes=DELIVERY_PATHS)
    with httpx.Client(base_url=url, timeout=30) as http:
        _post(http, good)
        _post(http, refused_here, expect=422)
        _post(http, refused_there)
        ministry_id = wait_until(lambda: _in_state(http, good["MaHoSo"], "delivered"))["ministry"]["id"]
        wait_until(lambda: _in_state(http, refused_there["MaHoSo"], "dead"))
        for status, extras in (("DA_TIEP_NHAN", {"canBo": "Cán bộ B"}), ("DANG_THAM_DINH", {}),
                               ("KHONG_PHE_DUYET", {"lyDo": "Không đủ điều kiện"})):
            assert ministry.officer(ministry_id, status, **extras).status_code == 200
        wait_until(lambda: dossier_state(http, good["MaHoSo"], PROVINCE_KEY)["ministry"]["status"]
                   == "KHONG_PHE_DUYET")

        [dead] = http.get("/api/v1/admin/messages", params={"state": "dead"}, headers=ADMIN).json()["items"]
        assert http.post(f"/api/v1/admin/messages/{dead['id']}/replay", headers=ADMIN).status_code == 200
        wait_until(lambda: http.get(f"/api/v1/admin/messages/{dead['id']}", headers=ADMIN).json()["state"] == "dead")
        cancel = http.post(f"/api/v1/admin/messages/{dead['id']}/cancel", json={"reason": "đơn vị sai"},
                           headers=ADMIN)
        assert cancel.status_code == 200

    output = capsys.readouterr().err
    for value in personal:
        assert value not in output, f"{value!r} leaked into the logs"
    lines = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    assert any(line["event"] == "reconcile_page" for line in lines)

    # Every attempt recorded in the database has exactly one log line, with the message id and outcome.
    logged = Counter((line["message_id"], line["attempt"], line["outcome"]) for line in lines
                     if line["event"].startswith("delivery_") and "outcome" in line)
    database = create_database(db_url)
    try:
        with database.session() as session:
            recorded = Counter((a.message_id, a.attempt, a.outcome)
                               for a in session.execute(select(OutboxAttempt)).scalars())
    finally:
        database.dispose()
    assert logged == recorded
    assert Counter(outcome for _id, _attempt, outcome in recorded.elements()) == {"retry": 2, "done": 1, "dead": 2}

    actions = [(line["action"], line["actor"], line["message_ids"]) for line in lines
               if line["event"] == "admin_action"]
    assert actions == [("replay", "api:admin", [dead["id"]]), ("cancel", "api:admin", [dead["id"]])]


def test_the_worker_purges_finished_messages_past_retention(
    gateway_factory: Callable[..., str], db_url: str
) -> None:
    database = create_database(db_url)
    try:
        long_ago = utcnow() - timedelta(days=3)
        old_done = seed(database, state="done", created_at=long_ago)
        old_dead = seed(database, state="dead", created_at=long_ago)
        recent_done = seed(database, state="done")
        gateway_factory(retention_days=2)  # the worker purges at start, then hourly
        wait_until(lambda: old_done not in states(database, [old_done]))
        assert states(database, [old_done, old_dead, recent_done]) == {old_dead: "dead", recent_done: "done"}
        [entry] = audit_entries(database)
        assert (entry.actor, entry.action, entry.result) == ("system:retention", "purge", {"deleted": 1})
    finally:
        database.dispose()
