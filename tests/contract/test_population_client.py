"""Contract tests: the gateway's real PopulationClient against the population sandbox, over a real socket.

Each test states one rule of docs/contracts/population-api.md (and ministry-api §1–2, which it shares)
from the client's side: what it sends, how many times, and how it classifies every answer or the lack of
one. "Retry" here is what the outbox does: call ``verify`` again once the error says it may.
"""

from __future__ import annotations

import asyncio
import json
import time
import unicodedata
from collections.abc import Iterator
from datetime import date
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from adapters.ministry.sandbox.config import RateLimitSettings
from adapters.population.client import VERIFY_PATH, PopulationClient
from adapters.population.errors import (
    PermanentPopulationError,
    PopulationAuthError,
    PopulationCredentialsError,
    TransientPopulationError,
)
from adapters.population.models import IdentityQuery, MatchResult, Verification
from adapters.population.sandbox.app import create_app
from adapters.population.sandbox.config import PopulationSandboxConfig
from tests.support.servers import run_server

pytestmark = pytest.mark.timeout(30)

CLIENT_ID = "sandbox-client"
CLIENT_SECRET = "sandbox-secret"
HOA = IdentityQuery("038141001234", "Nguyễn Thị Hoa", "1941-03-02", "NU")
THANH = IdentityQuery("038038002468", "Lê Văn Thành", "1938-07-15", "NAM")


class Population:
    """A running population sandbox: its base URL and an admin HTTP client."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.http = httpx.Client(base_url=base_url, timeout=10.0)

    def faults(self, **settings: Any) -> None:
        self.http.put("/_sandbox/faults", json=settings).raise_for_status()

    def requests(self, path: str | None = None) -> list[dict[str, Any]]:
        params = {"path": path} if path else {}
        entries: list[dict[str, Any]] = self.http.get("/_sandbox/requests", params=params).json()["requests"]
        return entries

    def verifications(self) -> list[dict[str, Any]]:
        return self.requests(VERIFY_PATH)

    def token_requests(self) -> int:
        return len(self.requests("/oauth2/token"))

    def client(self, **options: Any) -> PopulationClient:
        return PopulationClient(self.base_url, options.pop("client_id", CLIENT_ID),
                                options.pop("client_secret", CLIENT_SECRET), **{"timeout": 2.0, **options})


@pytest.fixture(scope="module")
def population_server() -> Iterator[tuple[FastAPI, str]]:
    """One sandbox under uvicorn for the module; its rate limit off (test_rate_limit starts its own)."""
    app = create_app(PopulationSandboxConfig(rate_limit=RateLimitSettings(enabled=False)))
    with run_server(app) as base_url:
        yield app, base_url


@pytest.fixture
def population(population_server: tuple[FastAPI, str]) -> Iterator[Population]:
    """The shared sandbox, reset (start-up people, no faults, empty request log) for this test."""
    handle = Population(population_server[1])
    handle.http.post("/_sandbox/reset").raise_for_status()
    try:
        yield handle
    finally:
        handle.http.close()


async def retry(call: Any, *, attempts: int = 3, max_wait: float = 2.0) -> Verification:
    """What the outbox does, fast: repeat a transient failure, not before its ``retry_after``."""
    for attempt in range(attempts):
        try:
            result: Verification = await call()
            return result
        except TransientPopulationError as error:
            if attempt == attempts - 1:
                raise
            await asyncio.sleep(min(error.retry_after or 0.0, max_wait))
    raise AssertionError("unreachable")


# ---- the answers -------------------------------------------------------------------------------------------


async def test_the_samples_beneficiary_exported_in_nfd_verifies(population: Population) -> None:
    exported = IdentityQuery("038141001234", unicodedata.normalize("NFD", " Nguyễn  Thị Hoa"), "1941-03", "NU")
    async with population.client() as client:
        result = await client.verify(exported)
    assert (result.result, result.mismatched_fields, result.deceased, result.date_of_death) == (
        MatchResult.KHOP, (), False, None)
    assert result.request_id == population.verifications()[0]["request_id"]


async def test_a_mismatch_a_death_and_an_unknown_person(population: Population) -> None:
    async with population.client() as client:
        wrong = await client.verify(IdentityQuery(HOA.personal_id, HOA.full_name, "1941-03-03", "NAM"))
        dead = await client.verify(THANH)
        unknown = await client.verify(IdentityQuery("038141009999", HOA.full_name, HOA.birth_date, "NU"))
    assert (wrong.result, wrong.mismatched_fields) == (MatchResult.SAI_LECH, ("ngaySinh", "gioiTinh"))
    assert (dead.result, dead.deceased, dead.date_of_death) == (MatchResult.KHOP, True, date(2024, 9, 28))
    assert (unknown.result, unknown.mismatched_fields, unknown.deceased) == (MatchResult.KHONG_TIM_THAY, (), False)
    log = json.dumps(population.requests(), ensure_ascii=False)
    assert "038141001234" not in log and "Hoa" not in log and "1941" not in log  # masked, or not there at all


async def test_invalid_data_is_permanent_and_names_the_field(population: Population) -> None:
    too_long = IdentityQuery(HOA.personal_id, "Nguyễn " * 50, HOA.birth_date, HOA.gender)  # the client cannot tell
    async with population.client() as client:
        with pytest.raises(PermanentPopulationError) as caught:
            await client.verify(too_long)
    error = caught.value
    assert (error.status, error.code, error.transient) == (400, "DU_LIEU_KHONG_HOP_LE", False)
    assert [d.field for d in error.details] == ["hoTen"] and "Nguyễn" not in str(error)


# ---- §1 the token ---------------------------------------------------------------------------------------------


async def test_one_token_serves_many_calls(population: Population) -> None:
    async with population.client() as client:
        await asyncio.gather(*(client.verify(HOA) for _ in range(6)))
        await client.verify(THANH)
    assert population.token_requests() == 1 and len(population.verifications()) == 7


async def test_a_short_lived_token_is_renewed_before_it_expires() -> None:
    config = PopulationSandboxConfig(token_lifetime_seconds=1, rate_limit=RateLimitSettings(enabled=False))
    with run_server(create_app(config)) as base_url:
        sandbox = Population(base_url)
        async with sandbox.client() as client:
            await client.verify(HOA)
            await client.verify(HOA)
            await asyncio.sleep(0.95)  # past 90 % of expires_in=1: the client renews on its own
            await client.verify(HOA)
        trail = [(r["path"], r["status"]) for r in sandbox.requests()]
        sandbox.http.close()
    assert trail == [("/oauth2/token", 200), (VERIFY_PATH, 200), (VERIFY_PATH, 200),
                     ("/oauth2/token", 200), (VERIFY_PATH, 200)]  # no 401: renewed before it died


async def test_a_token_expired_early_is_renewed_once_and_the_call_repeated(population: Population) -> None:
    async with population.client() as client:
        await client.verify(HOA)
        population.http.post("/_sandbox/expire-tokens").raise_for_status()
        assert (await client.verify(HOA)).result is MatchResult.KHOP
    assert [(r["path"], r["status"]) for r in population.requests()] == [
        ("/oauth2/token", 200), (VERIFY_PATH, 200), (VERIFY_PATH, 401), ("/oauth2/token", 200), (VERIFY_PATH, 200)]


async def test_a_token_refused_twice_is_transient(population: Population) -> None:
    population.faults(token_max_age_seconds=0.000001)
    async with population.client() as client:
        with pytest.raises(PopulationAuthError) as caught:
            await client.verify(HOA)
    assert caught.value.transient and caught.value.status == 401 and population.token_requests() == 2


async def test_a_wrong_secret_is_permanent(population: Population) -> None:
    async with population.client(client_secret="wrong") as client:
        with pytest.raises(PopulationCredentialsError) as caught:
            await client.verify(HOA)
    assert not caught.value.transient and caught.value.code == "invalid_client"
    assert [r["path"] for r in population.requests()] == ["/oauth2/token"]


# ---- §2 faults ----------------------------------------------------------------------------------------------


async def test_a_503_is_transient_and_the_retry_succeeds(population: Population) -> None:
    population.faults(fail_next=1, status=503, error_503_retry_after=None)
    async with population.client() as client:
        with pytest.raises(TransientPopulationError) as caught:
            await client.verify(HOA)
        assert (caught.value.status, caught.value.code, caught.value.retry_after) == (503, "LOI_HE_THONG", None)
        assert (await retry(lambda: client.verify(HOA))).result is MatchResult.KHOP
    assert [(r["status"], r["fault"]) for r in population.verifications()] == [(503, "error_503"), (200, None)]


async def test_a_429_retry_after_is_honoured(population: Population) -> None:
    population.faults(fail_next=1, status=429, rate_limited_retry_after=1)
    async with population.client() as client:
        with pytest.raises(TransientPopulationError) as caught:
            await client.verify(HOA)
        assert (caught.value.status, caught.value.retry_after) == (429, 1.0)
        started = time.monotonic()
        result = await client.verify(HOA)  # within Retry-After nothing is sent: the call waits for its end
        assert time.monotonic() - started >= 0.9
    assert result.result is MatchResult.KHOP
    assert [r["status"] for r in population.verifications()] == [429, 200]


async def test_a_retry_after_longer_than_the_budget_may_wait_fails_the_call_at_once(population: Population) -> None:
    population.faults(fail_next=1, status=429, rate_limited_retry_after=3)
    async with population.client(max_budget_wait=0.5) as client:
        with pytest.raises(TransientPopulationError):
            await client.verify(HOA)
        started = time.monotonic()
        with pytest.raises(TransientPopulationError) as held:
            await client.verify(HOA)
        assert time.monotonic() - started < 0.5
        assert held.value.status is None and held.value.code == "VUOT_GIOI_HAN"
        assert 2.0 < (held.value.retry_after or 0) <= 3.0
    assert len(population.verifications()) == 1


async def test_a_hung_answer_times_out_as_transient_and_the_retry_gives_the_result(population: Population) -> None:
    population.faults(sequence=["hang"], hang_seconds=1.0)
    async with population.client(timeout=0.3) as client:
        with pytest.raises(TransientPopulationError) as caught:
            await client.verify(HOA)
        assert (caught.value.code, caught.value.status) == ("TIMEOUT", None)
        result = await client.verify(HOA)
    assert result.result is MatchResult.KHOP
    assert [(r["status"], r["fault"]) for r in population.verifications()] == [(200, "hang"), (200, None)]


async def test_an_answer_lost_after_the_service_processed_it_is_transient_and_the_retry_answers(
    population: Population,
) -> None:
    population.faults(sequence=["lost_answer"])
    async with population.client() as client:
        with pytest.raises(TransientPopulationError) as caught:
            await client.verify(THANH)
        assert caught.value.status is None
        result = await client.verify(THANH)
    assert (result.result, result.deceased) == (MatchResult.KHOP, True)
    calls = population.verifications()
    assert [(r["status"], r["answered"], r["result"]) for r in calls] == [(200, False, "KHOP"), (200, True, "KHOP")]
    assert calls[1]["request_id"] == result.request_id != calls[0]["request_id"]  # the service logged both


async def test_connection_refused_is_transient(closed_port: int) -> None:
    async with PopulationClient(f"http://127.0.0.1:{closed_port}", CLIENT_ID, CLIENT_SECRET) as client:
        with pytest.raises(TransientPopulationError) as caught:
            await client.verify(HOA)
    assert (caught.value.code, caught.value.status) == ("CONNECTION", None)


# ---- the rate limit: ~10 per second per client ---------------------------------------------------------------


async def test_past_ten_a_second_the_service_answers_429_and_the_clients_budget_stays_under_it() -> None:
    with run_server(create_app(PopulationSandboxConfig())) as base_url:
        sandbox = Population(base_url)
        async with sandbox.client(rate_per_second=None) as unpaced:
            results = await asyncio.gather(*(unpaced.verify(HOA) for _ in range(12)), return_exceptions=True)
        limited = [r for r in results if isinstance(r, TransientPopulationError)]
        assert limited and all(e.status == 429 and (e.retry_after or 0) >= 1 for e in limited)

        sandbox.http.post("/_sandbox/reset").raise_for_status()
        async with sandbox.client() as paced:  # the default budget: 10 a second, bursts of 5
            started = time.monotonic()
            answers = await asyncio.gather(*(paced.verify(HOA) for _ in range(12)))
            took = time.monotonic() - started
        statuses = [r["status"] for r in sandbox.verifications()]
        sandbox.http.close()
    assert all(a.result is MatchResult.KHOP for a in answers) and statuses == [200] * 12
    assert took >= 0.6  # five at once, then one every tenth of a second
