"""Identity first (issue 15): the population sandbox, the gateway and the ministry sandbox over real sockets.

A new revision is checked once against the population database before the ministry sees it; a disagreement
holds it (policy block) with a SAI_LECH_DAN_CU callback naming the fields, a correction or an administrator's
release sends it on; the service down past the wait sends it marked unverified.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import unicodedata
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from adapters.ministry.sandbox.config import RateLimitSettings
from adapters.population.client import VERIFY_PATH
from adapters.population.sandbox.app import create_app as create_population
from adapters.population.sandbox.config import PopulationSandboxConfig
from adapters.province.client import post_dossier
from adapters.province.samples import sample_dossier
from gateway.logging import configure_logging
from tests.conftest import ADMIN_KEY, PROVINCE_KEY
from tests.contract.ministry_support import SandboxHandle
from tests.e2e.conftest import CALLBACK_SECRET, CLIENT_ID, CLIENT_SECRET, Province, dossier_state, wait_until
from tests.support.intake import sample_files
from tests.support.servers import run_server

CREATE = "/api/v1/ho-so/cho-tiep-nhan"
HOA = sample_dossier()["DuLieuToKhai"]  # seeded in the population sandbox: she verifies


class Population:
    """The running population sandbox."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.http = httpx.Client(base_url=base_url, timeout=10.0)

    def faults(self, **settings: Any) -> None:
        self.http.put("/_sandbox/faults", json=settings).raise_for_status()

    def verifications(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.http.get("/_sandbox/requests", params={"path": VERIFY_PATH}).json()[
            "requests"]
        return found


@pytest.fixture(scope="session")
def population_server() -> Iterator[tuple[FastAPI, str]]:
    app = create_population(PopulationSandboxConfig(clients={CLIENT_ID: CLIENT_SECRET},
                                                    rate_limit=RateLimitSettings(enabled=False)))
    with run_server(app, graceful_shutdown_seconds=0.5) as base_url:
        yield app, base_url


@pytest.fixture
def population(population_server: tuple[FastAPI, str]) -> Iterator[Population]:
    handle = Population(population_server[1])
    handle.http.post("/_sandbox/reset").raise_for_status()
    try:
        yield handle
    finally:
        handle.faults()
        handle.http.close()


@pytest.fixture
def checked(gateway_factory: Callable[..., str], population: Population, province: Province) -> Callable[..., str]:
    """Start a gateway that checks identities against the sandbox and calls the province sandbox back."""

    def start(**overrides: Any) -> str:
        url = gateway_factory(population_base_url=population.base_url, population_client_id=CLIENT_ID,
                              population_client_secret=CLIENT_SECRET, population_timeout_s=1.0,
                              province_callback_url=f"{province.base_url}/callbacks",
                              province_callback_secret=CALLBACK_SECRET, **overrides)
        province.point_at(url)
        return url

    return start


def _dossier(code: str, **beneficiary: Any) -> dict[str, Any]:
    dossier = sample_dossier(MaHoSo=code)
    dossier["DuLieuToKhai"].update(beneficiary)
    return dossier


def _post(url: str, dossier: dict[str, Any], expected: int = 202) -> None:
    with httpx.Client(base_url=url, timeout=30) as http:
        answer = post_dossier(http, PROVINCE_KEY, dossier, sample_files(dossier))
    assert answer.status_code == expected, answer.text


def _state(url: str, code: str) -> dict[str, Any]:
    with httpx.Client(base_url=url, timeout=10) as http:
        return dossier_state(http, code, PROVINCE_KEY)


def _in_state(url: str, code: str, state: str) -> dict[str, Any] | None:
    found = _state(url, code)
    return found if found["state"] == state else None


def _admin(url: str) -> httpx.Client:
    return httpx.Client(base_url=url, timeout=10, headers={"Authorization": f"Bearer {ADMIN_KEY}"})


def _created(ministry: SandboxHandle, code: str) -> list[dict[str, Any]]:
    return [d for d in ministry.all_dossiers() if d["maHoSoTinh"] == code]


def test_a_matching_beneficiary_is_delivered_and_its_check_recorded(
    checked: Callable[..., str], population: Population, ministry: SandboxHandle
) -> None:
    url = checked()
    _post(url, _dossier("000.00.12.H56-240115-0201"))
    state = wait_until(lambda: _in_state(url, "000.00.12.H56-240115-0201", "delivered"))
    [verification] = population.verifications()
    assert state["identity"]["status"] == "verified" and state["identity"]["action"] == "delivered"
    assert state["identity"]["requestId"] == verification["request_id"] and state["identity"]["checkedAt"]
    assert [h["event"] for h in state["history"]] == ["received", "identity_verified", "delivered"]
    [landed] = _created(ministry, "000.00.12.H56-240115-0201")
    assert landed["ghiChu"] is None


def test_an_nfd_name_verifies_and_reaches_the_ministry_in_nfc(
    checked: Callable[..., str], ministry: SandboxHandle
) -> None:
    url = checked()
    _post(url, _dossier("000.00.12.H56-240115-0202", HoTen=unicodedata.normalize("NFD", "Nguyễn  Thị Hoa")))
    state = wait_until(lambda: _in_state(url, "000.00.12.H56-240115-0202", "delivered"))
    assert state["identity"]["status"] == "verified"
    [landed] = _created(ministry, "000.00.12.H56-240115-0202")
    assert landed["doiTuong"]["hoTen"] == unicodedata.normalize("NFC", "Nguyễn Thị Hoa")


def test_a_wrong_birth_date_is_held_and_the_province_told_which_field_then_a_correction_flows_on(
    checked: Callable[..., str], province: Province, ministry: SandboxHandle, population: Population
) -> None:
    url, code = checked(), "000.00.12.H56-240115-0203"
    _post(url, _dossier(code, NgaySinh="03/03/1941"))
    held = wait_until(lambda: _in_state(url, code, "held"))
    assert held["identity"] | {"checkedAt": None, "requestId": None} == {
        "status": "mismatch", "action": "held", "fields": ["DuLieuToKhai.NgaySinh"], "deceased": False,
        "checkedAt": None, "requestId": None, "reason": None, "releasedAt": None, "releasedBy": None}
    [told] = wait_until(lambda: province.callbacks(code))
    assert (told["SuKien"], told["SaiLech"], told["TrangThaiHoSo"], told["MaHoSoBo"]) == (
        "SAI_LECH_DAN_CU", ["DuLieuToKhai.NgaySinh"], None, None)
    assert told["signature_ok"] and "03/03/1941" not in json.dumps(told, ensure_ascii=False)
    assert _created(ministry, code) == []
    with httpx.Client(base_url=url, timeout=10) as http:
        metrics = http.get("/metrics").text
    assert "gateway_identity_held 1.0" in metrics
    assert 'gateway_identity_checks_total{outcome="mismatch"}' in metrics

    with _admin(url) as admin:
        report = admin.get("/api/v1/admin/identity-mismatches", params={"maXa": "16171"}).json()
        as_csv = admin.get("/api/v1/admin/identity-mismatches", params={"format": "csv"})
    assert [(m["MaHoSo"], m["fields"], m["action"]) for m in report["items"]] == [
        (code, ["DuLieuToKhai.NgaySinh"], "held")]
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert as_csv.headers["content-type"].startswith("text/csv")
    assert [(r["MaHoSo"], r["fields"], r["maXa"]) for r in rows] == [(code, "DuLieuToKhai.NgaySinh", "16171")]
    for personal in ("03/03/1941", "1941-03-03", HOA["SoDinhDanh"], "Hoa"):
        assert personal not in as_csv.text and personal not in json.dumps(report, ensure_ascii=False)

    _post(url, _dossier(code))  # the province corrects the birth date: revision 2, checked again
    delivered = wait_until(lambda: _in_state(url, code, "delivered"))
    assert (delivered["revision"], delivered["identity"]["status"]) == (2, "verified")
    assert len(_created(ministry, code)) == 1 and len(population.verifications()) == 2
    with _admin(url) as admin:
        [earlier] = admin.get("/api/v1/admin/identity-mismatches").json()["items"]
    assert (earlier["revision"], earlier["action"]) == (1, "corrected")


def test_a_dead_beneficiary_is_held(checked: Callable[..., str], ministry: SandboxHandle) -> None:
    url, code = checked(), "000.00.12.H56-240115-0204"
    _post(url, _dossier(code, HoTen="Lê Văn Thành", NgaySinh="15/07/1938", GioiTinh=1, SoDinhDanh="038038002468"))
    held = wait_until(lambda: _in_state(url, code, "held"))
    assert (held["identity"]["status"], held["identity"]["deceased"]) == ("deceased", True)
    assert _created(ministry, code) == []


def test_a_release_delivers_the_held_dossier_with_the_reason_and_is_audited(
    checked: Callable[..., str], ministry: SandboxHandle
) -> None:
    url, code = checked(), "000.00.12.H56-240115-0205"
    _post(url, _dossier(code, GioiTinh=1, SoDinhDanh="038041001234"))  # a man's ID, declared male: db says NU
    wait_until(lambda: _in_state(url, code, "held"))
    with _admin(url) as admin:
        blank = admin.post(f"/api/v1/admin/dossiers/{code}/release", json={"reason": "   "})
        released = admin.post(f"/api/v1/admin/dossiers/{code}/release",
                              json={"reason": "Đã đối chiếu căn cước bản giấy tại xã"})
        again = admin.post(f"/api/v1/admin/dossiers/{code}/release", json={"reason": "lần hai"})
        unknown = admin.post("/api/v1/admin/dossiers/000.00.12.H56-240115-9999/release", json={"reason": "x"})
        audit = admin.get("/api/v1/admin/audit", params={"action": "release"}).json()
    assert blank.status_code == 422 and blank.json()["errors"][0]["field"] == "reason"
    assert released.status_code == 200, released.text
    assert released.json() == {"MaHoSo": code, "revision": 1, "state": "queued"}
    assert again.status_code == 409 and unknown.status_code == 404
    state = wait_until(lambda: _in_state(url, code, "delivered"))
    assert state["identity"]["action"] == "released" and state["identity"]["releasedBy"].startswith("api:")
    [landed] = _created(ministry, code)
    assert "Đã đối chiếu căn cước bản giấy tại xã" in landed["ghiChu"]
    [entry] = audit["items"]
    assert entry["target"] == {"MaHoSo": code, "revision": 1}


def test_with_policy_warn_a_disagreement_is_delivered_with_it_in_ghichu_and_a_partial_date_agrees(
    checked: Callable[..., str], ministry: SandboxHandle, province: Province
) -> None:
    url, code = checked(identity_policy="warn"), "000.00.12.H56-240115-0206"
    _post(url, _dossier(code, NgaySinh="03/1941"))  # only month and year on paper: sent as 1941-03, it agrees
    state = wait_until(lambda: _in_state(url, code, "delivered"))
    assert (state["identity"]["status"], state["identity"]["action"]) == ("verified", "delivered")
    _post(url, _dossier("000.00.12.H56-240115-0207", NgaySinh="03/03/1941"))
    warned = wait_until(lambda: _in_state(url, "000.00.12.H56-240115-0207", "delivered"))
    assert (warned["identity"]["status"], warned["identity"]["action"]) == ("mismatch", "warned")
    [landed] = _created(ministry, "000.00.12.H56-240115-0207")
    assert "DuLieuToKhai.NgaySinh" in landed["ghiChu"]
    told = wait_until(lambda: [c for c in province.callbacks("000.00.12.H56-240115-0207")
                               if c["SuKien"] == "SAI_LECH_DAN_CU"])
    assert told[0]["SaiLech"] == ["DuLieuToKhai.NgaySinh"]


def test_the_service_down_past_the_wait_delivers_marked_unverified(
    checked: Callable[..., str], population: Population, ministry: SandboxHandle
) -> None:
    population.faults(error_503_rate=1.0, error_503_retry_after=None, path_prefixes=[VERIFY_PATH])
    url, code = checked(identity_max_wait_s=1.0), "000.00.12.H56-240115-0208"
    _post(url, _dossier(code))
    state = wait_until(lambda: _in_state(url, code, "delivered"))
    assert state["identity"]["status"] == "unverified" and state["identity"]["reason"]
    assert len(population.verifications()) >= 2  # retried before giving up on it
    [landed] = _created(ministry, code)
    assert "Chưa đối chiếu được" in landed["ghiChu"]
    with httpx.Client(base_url=url, timeout=10) as http:
        ready = http.get("/health/ready")
    assert ready.status_code == 200 and ready.json()["components"]["population"]["circuit"] in {
        "closed", "open", "half_open"}


def test_the_service_is_called_once_per_revision_however_often_the_delivery_is_retried(
    checked: Callable[..., str], population: Population, ministry: SandboxHandle
) -> None:
    ministry.faults(fail_next=5, status=503, path_prefixes=[CREATE])
    url, code = checked(), "000.00.12.H56-240115-0209"
    _post(url, _dossier(code))
    wait_until(lambda: _in_state(url, code, "delivered"))
    assert len([r for r in ministry.requests(CREATE) if r["method"] == "POST"]) == 6
    assert len(population.verifications()) == 1


@pytest.fixture
def json_logs() -> Iterator[None]:
    """Restores the logging set-up the test replaces."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_no_personal_value_in_the_logs_of_the_whole_identity_flow(
    json_logs: None, checked: Callable[..., str], province: Province, population: Population,
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("json", "DEBUG")
    url = checked()
    _post(url, _dossier("000.00.12.H56-240115-0210"))
    _post(url, _dossier("000.00.12.H56-240115-0211", NgaySinh="03/03/1941",
                        HoTen=unicodedata.normalize("NFD", "Nguyễn Thị Hoa")))
    wait_until(lambda: _in_state(url, "000.00.12.H56-240115-0210", "delivered"))
    wait_until(lambda: province.callbacks("000.00.12.H56-240115-0211"))
    with _admin(url) as admin:
        assert admin.post("/api/v1/admin/dossiers/000.00.12.H56-240115-0211/release",
                          json={"reason": "kiểm tra tại xã"}).status_code == 200
    wait_until(lambda: _in_state(url, "000.00.12.H56-240115-0211", "delivered"))
    output = capsys.readouterr()
    text = output.err + output.out
    assert '"identity_checked"' in text and '"population_call"' in text  # the capture saw the flow's lines
    for value in (HOA["SoDinhDanh"], HOA["HoTen"], unicodedata.normalize("NFD", HOA["HoTen"]), "Hoa",
                  "02/03/1941", "03/03/1941", "1941-03-02", "1941-03-03", sample_dossier()["ChuHoSo"]["SoDienThoai"]):
        assert value not in text, f"{value!r} leaked into the logs"
