"""The population sandbox's own routes and start-up: seeding people, the masked request log, its rate
limit, faults in the ministry sandbox's shape, configuration from the environment, and the default seed
that makes the gateway's own sample dossiers verify KHOP."""

from __future__ import annotations

import json
import unicodedata
from datetime import date
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from adapters.ministry.sandbox.clock import Clock
from adapters.ministry.sandbox.config import RateLimitSettings
from adapters.population.client import PopulationClient
from adapters.population.models import IdentityQuery, MatchResult
from adapters.population.sandbox import DEFAULT_PEOPLE, default_people
from adapters.population.sandbox.app import create_app
from adapters.population.sandbox.config import PopulationSandboxConfig
from adapters.province.samples import sample_dossier, sample_funeral_dossier, sample_pdf_bytes
from mappings.model import AttachmentFacts
from mappings.province import parse_dossier
from tests.unit.population.conftest import CLIENT_ID, CLIENT_SECRET, VERIFY, Sandbox, token_of


def query(person: dict[str, Any]) -> dict[str, Any]:
    """The request body for a seeded record: its four compared fields."""
    return {k: person[k] for k in ("soDinhDanh", "hoTen", "ngaySinh", "gioiTinh")}


NEW = {"soDinhDanh": "001090012345", "hoTen": "Đỗ Minh Quân", "ngaySinh": "1990-12", "gioiTinh": "NAM"}


def test_people_are_seeded_listed_and_removed(sandbox: Sandbox) -> None:
    http = sandbox.http
    assert sandbox.verify(NEW)[1]["ketQua"] == "KHONG_TIM_THAY"
    created = http.post("/_sandbox/people", json={**NEW, "hoTen": unicodedata.normalize("NFD", "  Đỗ  Minh Quân")})
    assert created.status_code == 201
    assert created.json()["people"] == [{**NEW, "daMat": False, "ngayMat": None}]  # stored as NFC, one space
    assert sandbox.verify({**NEW, "ngaySinh": "1990-12-31"})[1]["ketQua"] == "KHOP"
    assert http.get(f"/_sandbox/people/{NEW['soDinhDanh']}").json()["hoTen"] == "Đỗ Minh Quân"
    assert http.get("/_sandbox/people").json()["count"] == len(DEFAULT_PEOPLE) + 1

    assert http.delete(f"/_sandbox/people/{NEW['soDinhDanh']}").status_code == 200
    assert http.delete(f"/_sandbox/people/{NEW['soDinhDanh']}").status_code == 404
    assert http.delete("/_sandbox/people").json() == {"removed": len(DEFAULT_PEOPLE)}
    assert sandbox.verify(query(default_people()[0]))[1]["ketQua"] == "KHONG_TIM_THAY"
    http.post("/_sandbox/reset").raise_for_status()  # the start-up seed comes back
    assert [p["soDinhDanh"] for p in http.get("/_sandbox/people").json()["people"]] == sorted(
        p.soDinhDanh for p in DEFAULT_PEOPLE)


def test_a_list_of_people_is_seeded_all_or_nothing(sandbox: Sandbox) -> None:
    dead = {"soDinhDanh": "001050000001", "hoTen": "Vũ Văn Bình", "ngaySinh": "1950", "gioiTinh": "NAM",
            "daMat": True, "ngayMat": "2025-01-02"}
    bad = [NEW, {**NEW, "soDinhDanh": "12", "gioiTinh": "X", "extra": 1}, {"hoTen": "A"}]
    refused = sandbox.http.post("/_sandbox/people", json=bad)
    assert refused.status_code == 400 and refused.json()["maLoi"] == "DU_LIEU_KHONG_HOP_LE"
    assert {d["truong"] for d in refused.json()["chiTiet"]} == {
        "[1].soDinhDanh", "[1].gioiTinh", "[1].extra", "[2].soDinhDanh", "[2].ngaySinh", "[2].gioiTinh"}
    assert sandbox.verify(NEW)[1]["ketQua"] == "KHONG_TIM_THAY"  # nothing was stored
    assert sandbox.http.post("/_sandbox/people", json={"people": [NEW, dead]}).json()["count"] == 2
    answer = sandbox.verify(query(dead))[1]
    assert (answer["ketQua"], answer["daMat"], answer["ngayMat"]) == ("KHOP", True, "2025-01-02")


@pytest.mark.parametrize("record", [
    {**NEW, "ngayMat": "2020-01-01"},  # a death date without daMat
    {**NEW, "daMat": True, "ngayMat": "2020-01"},
    {**NEW, "daMat": "yes"},
    {**NEW, "ngaySinh": "1990-02-30"},
])
def test_a_bad_record_is_refused(sandbox: Sandbox, record: dict[str, Any]) -> None:
    assert sandbox.http.post("/_sandbox/people", json=record).status_code == 400


def test_the_request_log_counts_calls_and_holds_only_masked_values(sandbox: Sandbox) -> None:
    dead = next(p for p in default_people() if p["daMat"])
    sandbox.verify(query(dead))
    sandbox.verify({**NEW, "soDinhDanh": "12"})
    entries = sandbox.http.get("/_sandbox/requests", params={"path": VERIFY}).json()["requests"]
    assert [(e["status"], e["result"], e["mismatched"], e["person"]) for e in entries] == [
        (200, "KHOP", [], "038*******68"), (400, None, None, None)]
    text = json.dumps(sandbox.http.get("/_sandbox/requests").json(), ensure_ascii=False)
    for person in default_people():
        assert person["soDinhDanh"] not in text and person["hoTen"] not in text
    assert "1938" not in text and "Quân" not in text


def test_faults_have_the_ministry_sandboxs_shape(sandbox: Sandbox) -> None:
    faults = sandbox.http.put("/_sandbox/faults", json={"fail_next": 2, "status": 503}).json()
    assert faults["fail_next"] == 2 and faults["path_prefixes"] == ["/api/v1/"]
    first = sandbox.http.post(VERIFY, json=NEW, headers=sandbox.headers)
    assert first.status_code == 503 and first.json()["maLoi"] == "LOI_HE_THONG"
    assert first.headers["Retry-After"] == "1"
    assert sandbox.http.patch("/_sandbox/faults", json={"fail_next": 0}).json()["fail_next"] == 0
    assert sandbox.verify(NEW)[0] == 200
    assert sandbox.http.put("/_sandbox/faults", json={"nonsense": 1}).status_code == 400
    log = sandbox.http.get("/_sandbox/requests", params={"path": VERIFY}).json()["requests"]
    assert [(e["status"], e["fault"]) for e in log] == [(503, "error_503"), (200, None)]


def test_past_about_ten_requests_a_second_it_is_429_with_retry_after() -> None:
    now = [100.0]
    app = create_app(PopulationSandboxConfig(), clock=Clock(monotonic=lambda: now[0]))
    with TestClient(app) as http:
        headers = {"Authorization": f"Bearer {token_of(http)}"}
        statuses = [http.post(VERIFY, json=NEW, headers=headers).status_code for _ in range(11)]
        assert statuses == [200] * 10 + [429]
        limited = http.post(VERIFY, json=NEW, headers=headers)
        assert limited.json()["maLoi"] == "VUOT_GIOI_HAN" and int(limited.headers["Retry-After"]) >= 1
        now[0] += 0.5  # five more slots refilled
        assert [http.post(VERIFY, json=NEW, headers=headers).status_code for _ in range(6)] == [200] * 5 + [429]


def test_configuration_from_the_environment() -> None:
    config = PopulationSandboxConfig.from_env({
        "POPULATION_SANDBOX_CLIENT_ID": "lgsp-38", "POPULATION_SANDBOX_CLIENT_SECRET": "s3cret",
        "POPULATION_SANDBOX_TOKEN_LIFETIME_S": "2", "POPULATION_SANDBOX_RATE_PER_SECOND": "4",
        "POPULATION_SANDBOX_FAULTS": '{"error_503_rate": 0.25}', "POPULATION_SANDBOX_SEED": "none"})
    assert config.clients == {"lgsp-38": "s3cret"} and config.token_lifetime_seconds == 2
    assert (config.rate_limit.rate_per_second, config.rate_limit.burst) == (4.0, 4)
    assert config.faults.error_503_rate == 0.25 and not config.seed_default_people
    default = PopulationSandboxConfig.from_env({})
    assert default.clients == {"sandbox-client": "sandbox-secret"}
    assert (default.rate_limit.enabled, default.rate_limit.rate_per_second) == (True, 10.0)
    assert default.token_lifetime_seconds == 300 and default.seed_default_people
    assert not PopulationSandboxConfig.from_env({"POPULATION_SANDBOX_RATE_LIMIT": "off"}).rate_limit.enabled
    with TestClient(create_app(config)) as http:
        assert http.get("/_sandbox/people").json()["count"] == 0


# ---- the default seed and the gateway's own samples ---------------------------------------------------


@pytest.mark.parametrize("sample", [sample_dossier, sample_funeral_dossier])
async def test_the_samples_beneficiary_verifies_khop_through_the_real_client(sample: Any) -> None:
    pdf = sample_pdf_bytes()
    facts = {doc["TepDinhKemId"]: AttachmentFacts("0" * 64, len(pdf), "application/pdf")
             for doc in sample()["TaiLieuNop"]}
    dossier, faults = parse_dossier(sample(), facts, today=date(2025, 1, 1))
    assert dossier is not None, faults
    query = IdentityQuery.from_beneficiary(dossier.beneficiary)
    app = create_app(PopulationSandboxConfig(rate_limit=RateLimitSettings(enabled=False)))
    async with PopulationClient("http://population.test", CLIENT_ID, CLIENT_SECRET,
                                transport=httpx.ASGITransport(app=app)) as client:
        result = await client.verify(query)
    assert (result.result, result.mismatched_fields, result.deceased) == (MatchResult.KHOP, (), False)


def test_the_seed_holds_a_person_recorded_dead() -> None:
    dead = [p for p in DEFAULT_PEOPLE if p.daMat]
    assert dead and all(p.ngayMat for p in dead)
