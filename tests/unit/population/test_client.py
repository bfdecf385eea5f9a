"""The population client's single exchanges (respx): what it sends, how it reads each answer, how it
classifies each failure, its token and its rate budget, and that nothing personal reaches a log line."""

from __future__ import annotations

import asyncio
import json
import pickle
import unicodedata
from collections.abc import AsyncIterator
from datetime import date
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
import respx
from structlog.testing import capture_logs

from adapters.common.ratebudget import RateBudget, RateBudgetExceeded
from adapters.population.client import SCOPE, VERIFY_PATH, PopulationClient
from adapters.population.errors import (
    PermanentPopulationError,
    PopulationAuthError,
    PopulationCredentialsError,
    PopulationError,
    TransientPopulationError,
)
from adapters.population.models import IdentityQuery, MatchResult, Verification, normalize_name

BASE = "https://lgsp.test"
HOA = IdentityQuery("038141001234", "Nguyễn Thị Hoa", "1941-03-02", "NU")
KHOP = {"maYeuCau": "YC-1", "ketQua": "KHOP", "truongSaiLech": [], "daMat": False}


def token_answer(value: str = "tok-1", expires_in: Any = 300) -> httpx.Response:
    return httpx.Response(200, json={"access_token": value, "token_type": "Bearer", "expires_in": expires_in})


def error(status: int, code: str = "LOI_HE_THONG", *, headers: dict[str, str] | None = None,
          details: list[dict[str, str]] | None = None) -> httpx.Response:
    return httpx.Response(status, headers=headers,
                          json={"maLoi": code, "thongDiep": "Thông điệp", "chiTiet": details or []})


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def mock() -> AsyncIterator[respx.MockRouter]:
    async with respx.mock(base_url=BASE, assert_all_called=False) as router:
        yield router


@pytest.fixture
async def client(mock: respx.MockRouter, clock: Clock) -> AsyncIterator[PopulationClient]:
    async with PopulationClient(BASE, "sandbox-client", "sandbox-secret", clock=clock, rate_per_second=None) as c:
        yield c


# ---- the query and what is sent ---------------------------------------------------------------------------


def test_the_name_is_sent_nfc_with_whitespace_folded() -> None:
    exported = unicodedata.normalize("NFD", "  Nguyễn \t Thị   Hoa ")
    query = IdentityQuery("038141001234", exported, "1941-03", "NU")
    assert query.body() == {"soDinhDanh": "038141001234", "hoTen": "Nguyễn Thị Hoa", "ngaySinh": "1941-03",
                            "gioiTinh": "NU"}
    assert unicodedata.is_normalized("NFC", query.body()["hoTen"]) and normalize_name(exported) == "Nguyễn Thị Hoa"


@pytest.mark.parametrize("fields", [
    {"personal_id": "03814100123"}, {"personal_id": "０３８１４１００１２３４"}, {"full_name": " \t "},
    {"birth_date": "02/03/1941"}, {"birth_date": "1941-02-30"}, {"birth_date": "1941-3"}, {"birth_date": "১৯৪১"},
    {"gender": "F"}, {"gender": "nu"},
])
def test_a_query_the_contract_would_refuse_is_not_built(fields: dict[str, str]) -> None:
    with pytest.raises(ValueError):
        IdentityQuery(**{"personal_id": "038141001234", "full_name": "Nguyễn Thị Hoa", "birth_date": "1941",
                         "gender": "NU", **fields})


def test_a_query_shows_no_personal_data() -> None:
    assert "038141001234" not in repr(HOA) and "Hoa" not in repr(HOA) and "1941" not in repr(HOA)


async def test_one_verification_sends_the_token_request_and_the_body(mock: respx.MockRouter,
                                                                      client: PopulationClient) -> None:
    token = mock.post("/oauth2/token").mock(return_value=token_answer())
    verify = mock.post(VERIFY_PATH).mock(return_value=httpx.Response(200, json=KHOP))
    result = await client.verify(IdentityQuery("038141001234", unicodedata.normalize("NFD", "Nguyễn  Thị Hoa"),
                                               "1941-03-02", "NU"))
    assert result == Verification("YC-1", MatchResult.KHOP) and result.matches
    form = parse_qs(token.calls.last.request.content.decode())
    assert form == {"grant_type": ["client_credentials"], "client_id": ["sandbox-client"],
                    "client_secret": ["sandbox-secret"], "scope": [SCOPE]}
    sent = verify.calls.last.request
    assert sent.headers["Authorization"] == "Bearer tok-1"
    assert sent.headers["Content-Type"].startswith("application/json")
    assert json.loads(sent.content) == HOA.body()


# ---- answers ----------------------------------------------------------------------------------------------


async def test_a_mismatch_and_a_death_are_read(mock: respx.MockRouter, client: PopulationClient) -> None:
    mock.post("/oauth2/token").mock(return_value=token_answer())
    mock.post(VERIFY_PATH).mock(return_value=httpx.Response(200, json={
        "maYeuCau": "YC-2", "ketQua": "SAI_LECH", "truongSaiLech": ["ngaySinh", "gioiTinh"], "daMat": True,
        "ngayMat": "2024-09-28", "somethingNew": {"x": 1}}))
    result = await client.verify(HOA)
    assert result == Verification("YC-2", MatchResult.SAI_LECH, ("ngaySinh", "gioiTinh"), True, date(2024, 9, 28))
    assert not result.matches


@pytest.mark.parametrize("body", [
    {"ketQua": "KHOP", "truongSaiLech": [], "daMat": False},
    {**KHOP, "ketQua": "MAYBE"},
    {**KHOP, "ketQua": None},
    {**KHOP, "truongSaiLech": "hoTen"},
    {**KHOP, "daMat": "false"},
    ["KHOP"],
])
async def test_an_unreadable_answer_is_transient(mock: respx.MockRouter, client: PopulationClient,
                                                 body: Any) -> None:
    mock.post("/oauth2/token").mock(return_value=token_answer())
    mock.post(VERIFY_PATH).mock(return_value=httpx.Response(200, json=body))
    with pytest.raises(TransientPopulationError) as caught:
        await client.verify(HOA)
    assert caught.value.code == "INVALID_RESPONSE" and caught.value.status == 200


async def test_absent_optional_fields_take_their_defaults(mock: respx.MockRouter, client: PopulationClient) -> None:
    mock.post("/oauth2/token").mock(return_value=token_answer())
    mock.post(VERIFY_PATH).mock(return_value=httpx.Response(200, json={"maYeuCau": "YC-3", "ketQua": "KHONG_TIM_THAY",
                                                                        "ngayMat": "not a date"}))
    assert await client.verify(HOA) == Verification("YC-3", MatchResult.KHONG_TIM_THAY)


# ---- failures ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("status", "headers", "retry_after"), [
    (500, None, None), (502, None, None), (504, None, None), (503, {"Retry-After": "7"}, 7.0),
    (429, {"Retry-After": "2"}, 2.0),
])
async def test_server_errors_and_rate_limits_are_transient(mock: respx.MockRouter, client: PopulationClient,
                                                           clock: Clock, status: int,
                                                           headers: dict[str, str] | None,
                                                           retry_after: float | None) -> None:
    mock.post("/oauth2/token").mock(return_value=token_answer())
    route = mock.post(VERIFY_PATH).mock(side_effect=[error(status, headers=headers),
                                                     httpx.Response(200, json=KHOP)])
    with pytest.raises(TransientPopulationError) as caught:
        await client.verify(HOA)
    assert (caught.value.status, caught.value.retry_after) == (status, retry_after)
    if retry_after is not None:  # within the service's Retry-After nothing goes out: it fails fast
        with pytest.raises(TransientPopulationError) as held:
            await client.verify(HOA)
        assert held.value.status is None and held.value.retry_after == pytest.approx(retry_after)
        assert route.call_count == 1
        clock.now += retry_after
    assert (await client.verify(HOA)).matches and route.call_count == 2


async def test_invalid_data_is_permanent_with_the_fields(mock: respx.MockRouter, client: PopulationClient) -> None:
    mock.post("/oauth2/token").mock(return_value=token_answer())
    mock.post(VERIFY_PATH).mock(return_value=error(400, "DU_LIEU_KHONG_HOP_LE",
                                                   details=[{"truong": "hoTen", "thongDiep": "Dài tối đa 255 ký tự"}]))
    with pytest.raises(PermanentPopulationError) as caught:
        await client.verify(HOA)
    assert (caught.value.status, caught.value.code, caught.value.transient) == (400, "DU_LIEU_KHONG_HOP_LE", False)
    assert [(d.field, d.message) for d in caught.value.details] == [("hoTen", "Dài tối đa 255 ký tự")]
    assert "038141001234" not in str(caught.value) and "Hoa" not in str(caught.value)


@pytest.mark.parametrize("status", [403, 404, 405, 413, 422])
async def test_other_refusals_are_permanent(mock: respx.MockRouter, client: PopulationClient, status: int) -> None:
    mock.post("/oauth2/token").mock(return_value=token_answer())
    mock.post(VERIFY_PATH).mock(return_value=httpx.Response(status, text="<html>proxy</html>"))
    with pytest.raises(PermanentPopulationError) as caught:
        await client.verify(HOA)
    assert caught.value.status == status


@pytest.mark.parametrize(("exc", "code"), [
    (httpx.ReadTimeout("slow"), "TIMEOUT"), (httpx.ConnectTimeout("slow"), "TIMEOUT"),
    (httpx.ConnectError("refused"), "CONNECTION"), (httpx.ReadError("reset"), "CONNECTION"),
    (httpx.RemoteProtocolError("cut"), "PROTOCOL"),
])
async def test_no_answer_is_transient(mock: respx.MockRouter, client: PopulationClient, exc: Exception,
                                      code: str) -> None:
    mock.post("/oauth2/token").mock(return_value=token_answer())
    mock.post(VERIFY_PATH).mock(side_effect=exc)
    with pytest.raises(TransientPopulationError) as caught:
        await client.verify(HOA)
    assert (caught.value.code, caught.value.status) == (code, None)


def test_errors_survive_pickling() -> None:
    error_ = TransientPopulationError("m", status=503, code="LOI_HE_THONG", retry_after=3.0)
    again = pickle.loads(pickle.dumps(error_))
    assert type(again) is TransientPopulationError and repr(again) == repr(error_)
    assert isinstance(again, PopulationError)


# ---- the token -------------------------------------------------------------------------------------------------


async def test_the_token_is_reused_until_shortly_before_it_expires(mock: respx.MockRouter, client: PopulationClient,
                                                                   clock: Clock) -> None:
    token = mock.post("/oauth2/token").mock(side_effect=[token_answer("tok-1", 100), token_answer("tok-2", 100)])
    verify = mock.post(VERIFY_PATH).mock(return_value=httpx.Response(200, json=KHOP))
    await asyncio.gather(*(client.verify(HOA) for _ in range(5)))
    clock.now += 89
    await client.verify(HOA)
    assert token.call_count == 1
    clock.now += 2  # 91 s of 100: inside the 10 % margin
    await client.verify(HOA)
    assert token.call_count == 2 and verify.calls.last.request.headers["Authorization"] == "Bearer tok-2"


async def test_a_refused_token_is_renewed_once_and_the_call_repeated_once(mock: respx.MockRouter,
                                                                          client: PopulationClient) -> None:
    mock.post("/oauth2/token").mock(side_effect=[token_answer("tok-1"), token_answer("tok-2")])
    refused = httpx.Response(401, json={"error": "invalid_token"})
    verify = mock.post(VERIFY_PATH).mock(side_effect=[refused, httpx.Response(200, json=KHOP)])
    assert (await client.verify(HOA)).matches
    assert [c.request.headers["Authorization"] for c in verify.calls] == ["Bearer tok-1", "Bearer tok-2"]


async def test_a_token_refused_twice_is_a_transient_auth_error(mock: respx.MockRouter,
                                                               client: PopulationClient) -> None:
    token = mock.post("/oauth2/token").mock(side_effect=[token_answer("tok-1"), token_answer("tok-2")])
    mock.post(VERIFY_PATH).mock(return_value=httpx.Response(401, json={"error": "invalid_token"}))
    with pytest.raises(PopulationAuthError) as caught:
        await client.verify(HOA)
    assert caught.value.transient and caught.value.code == "invalid_token" and token.call_count == 2


@pytest.mark.parametrize(("answer", "kind"), [
    (httpx.Response(401, json={"error": "invalid_client"}), PopulationCredentialsError),
    (httpx.Response(400, json={"error": "invalid_scope"}), PopulationCredentialsError),
    (httpx.Response(503, text="down"), TransientPopulationError),
    (httpx.Response(200, json={"token_type": "Bearer"}), TransientPopulationError),
])
async def test_token_endpoint_failures(mock: respx.MockRouter, client: PopulationClient, answer: httpx.Response,
                                       kind: type[PopulationError]) -> None:
    mock.post("/oauth2/token").mock(return_value=answer)
    verify = mock.post(VERIFY_PATH)
    with pytest.raises(kind) as caught:
        await client.verify(HOA)
    assert type(caught.value) is kind and not verify.called


# ---- rate budget -----------------------------------------------------------------------------------------------


async def test_the_rate_budget_paces_requests() -> None:
    now = [0.0]
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(round(seconds, 3))
        now[0] += seconds

    budget = RateBudget(10.0, burst=2, clock=lambda: now[0], sleep=sleep, max_wait=0.35)
    for _ in range(4):
        await budget.acquire()
    assert slept == [0.1, 0.1]  # two at once, then one per tenth of a second

    async def sleep_still(seconds: float) -> None:  # the clock stands: every caller asks at the same instant
        slept.append(round(seconds, 3))

    slept.clear()
    crowd = RateBudget(10.0, burst=2, clock=lambda: now[0], sleep=sleep_still, max_wait=0.35)
    done = await asyncio.gather(*(crowd.acquire() for _ in range(6)), return_exceptions=True)
    assert slept == [0.1, 0.2, 0.3]  # two at once, three paced, the sixth 0.4 s away: too far
    refused = [d for d in done if isinstance(d, RateBudgetExceeded)]
    assert len(refused) == 1 and refused[0].wait == pytest.approx(0.4)


async def test_a_spent_budget_is_a_transient_error_with_the_wait(mock: respx.MockRouter, clock: Clock) -> None:
    mock.post("/oauth2/token").mock(return_value=token_answer())
    verify = mock.post(VERIFY_PATH).mock(return_value=httpx.Response(200, json=KHOP))
    async with PopulationClient(BASE, "c", "s", clock=clock, rate_per_second=1.0, burst=1,
                                max_budget_wait=0.5) as client:
        await client.verify(HOA)
        with pytest.raises(TransientPopulationError) as caught:
            await client.verify(HOA)
    assert caught.value.code == "VUOT_GIOI_HAN" and caught.value.retry_after == pytest.approx(1.0)
    assert verify.call_count == 1


async def test_the_default_budget_is_about_ten_a_second(mock: respx.MockRouter) -> None:
    mock.post("/oauth2/token").mock(return_value=token_answer())
    mock.post(VERIFY_PATH).mock(return_value=httpx.Response(200, json=KHOP))
    async with PopulationClient(BASE, "c", "s") as client:
        assert client.budget is not None and (client.budget.rate, client.budget.burst) == (10.0, 5.0)


# ---- logs ----------------------------------------------------------------------------------------------------


async def test_log_lines_carry_no_personal_data(mock: respx.MockRouter, client: PopulationClient) -> None:
    mock.post("/oauth2/token").mock(return_value=token_answer())
    mock.post(VERIFY_PATH).mock(side_effect=[httpx.Response(200, json=KHOP), error(400, "DU_LIEU_KHONG_HOP_LE"),
                                             httpx.ReadTimeout("slow")])
    with capture_logs() as lines:
        await client.verify(HOA)
        for _ in range(2):
            with pytest.raises(PopulationError):
                await client.verify(HOA)
    assert [(line["event"], line["outcome"]) for line in lines] == [
        ("population_call", "ok"), ("population_call", "ok"), ("population_call", "permanent"),
        ("population_call", "transient")]
    assert lines[1]["request_id"] == "YC-1"
    text = json.dumps(lines, ensure_ascii=False, default=str)
    for personal in ("038141001234", "Nguyễn", "Hoa", "1941", "sandbox-secret", "tok-1"):
        assert personal not in text
