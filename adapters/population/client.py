"""Async client of the national population database's identity-verification service (population-api.md).

One call, ``PopulationClient.verify(query) -> Verification``; every failure is a PopulationError that
says what to do (``transient``: retry later, not before ``retry_after``; else give up). Retrying is the
caller's (the outbox's) business: the service logs every request, so the gateway calls it once per
revision and again only when an attempt failed. The one repeat done here is the contract's: a call refused
with 401 is repeated once with a fresh token. Requests are paced by a client-side budget (about 10 per
second, the service's limit) and held back while a Retry-After the service gave is running.

Log lines (``population_call``) carry method, path, status, duration, outcome, code and ``maYeuCau``:
never the ID number, name or birth date sent.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

import httpx
import structlog

from adapters.common.errors import json_object_or_empty
from adapters.common.ratebudget import RateBudget, SlotStore
from adapters.common.session import PeerClient, PeerSession, json_parts
from adapters.population.errors import (
    INVALID_RESPONSE,
    KINDS,
    RATE_LIMITED,
    PopulationError,
    TransientPopulationError,
    classify,
)
from adapters.population.models import IdentityQuery, MatchResult, Verification

__all__ = ["DEFAULT_RATE_PER_SECOND", "SCOPE", "VERIFY_PATH", "PopulationClient"]

_log = structlog.get_logger(__name__)

SCOPE = "dancu.xacthuc"
VERIFY_PATH = "/api/v1/cong-dan/xac-thuc"
DEFAULT_RATE_PER_SECOND = 10.0  # population-api §2: about 10 requests per second per client


class PopulationClient(PeerClient):
    """The gateway's client of the population service: OAuth token (scope ``dancu.xacthuc``), ``verify``.

    ``timeout`` (seconds, or an ``httpx.Timeout``) bounds each of connect, read, write and pool wait.
    ``transport`` replaces httpx's own pool (tests: a respx mock, an ASGI app). ``rate_per_second`` and
    ``burst`` (default: half the rate) are the client-side budget (``rate_per_second=None``: none), kept in
    ``slots`` (default: this process; the gateway passes one its processes share); a call that would wait
    for its slot longer than ``max_budget_wait`` fails at once as transient with that wait as ``retry_after``.
    ``clock`` is the monotonic clock of token expiry, the budget and Retry-After. Use as ``async with`` or
    call ``aclose()``.
    """

    def __init__(
        self,
        base_url: str,
        client_id: str,
        client_secret: str,
        *,
        timeout: float | httpx.Timeout = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
        rate_per_second: float | None = DEFAULT_RATE_PER_SECOND,
        burst: int | None = None,
        max_budget_wait: float = 5.0,
        slots: SlotStore | None = None,
        max_connections: int = 8,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not base_url.startswith(("https://", "http://")):
            raise ValueError("base_url must be an http(s) URL")
        limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
        self._http = httpx.AsyncClient(
            base_url=base_url,
            timeout=timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout),
            # No transport-level retries: retrying is the outbox's decision, with its backoff and budget.
            transport=transport or httpx.AsyncHTTPTransport(limits=limits, retries=0),
            follow_redirects=False,
            headers={"Accept": "application/json", "User-Agent": "sa-gateway population-client"},
        )
        self.budget = (
            None
            if rate_per_second is None
            else RateBudget(rate_per_second, burst=burst if burst is not None else _half(rate_per_second),
                            max_wait=max_budget_wait, clock=clock, exceeded=_over_budget, store=slots)
        )
        self._session = PeerSession(
            self._http,
            client_id=client_id,
            client_secret=client_secret,
            scope=SCOPE,
            kinds=KINDS,
            classify=classify,
            clock=clock,
            logger=_log,
            log_event="population_call",
            log_defaults={"request_id": None},
            answer_fields=_answer_fields,
            budget=self.budget,
        )

    async def verify(self, query: IdentityQuery) -> Verification:
        """Ask whether the population database holds this person as described.

        Raises TransientPopulationError (retry later, ``retry_after`` when the service gave one) or
        PermanentPopulationError (give up; a 400 DU_LIEU_KHONG_HOP_LE lists the fields in ``details``).
        """
        response = await self._session.send("POST", VERIFY_PATH, parts=json_parts(query.body()))
        if not response.is_success:
            raise classify(response)
        return _verification(response)


def _half(rate_per_second: float) -> int:
    # Bursts of half the service's: the service's own bucket then has room for the network's jitter (a
    # request sent on time may arrive just after the one sent before it), so a paced client never sees 429.
    return max(1, int(rate_per_second // 2))


def _over_budget(wait: float) -> PopulationError:
    return TransientPopulationError(
        "holding back: the client-side rate budget is spent", code=RATE_LIMITED, retry_after=wait
    )


def _answer_fields(response: httpx.Response) -> dict[str, Any]:
    # maYeuCau only: the answer carries nothing personal beyond the result, and the log line not even that.
    request_id = json_object_or_empty(response).get("maYeuCau") if response.is_success else None
    return {"request_id": request_id if isinstance(request_id, str) else None}


def _invalid(response: httpx.Response, what: str) -> PopulationError:
    return TransientPopulationError(
        f"unreadable answer from the population service: {what}", status=response.status_code, code=INVALID_RESPONSE
    )


def _verification(response: httpx.Response) -> Verification:
    """The typed answer; tolerant of fields the contract does not name, strict on the ones it does."""
    body = json_object_or_empty(response)  # not JSON, or not an object: no maYeuCau either
    request_id = body.get("maYeuCau")
    if not isinstance(request_id, str) or not request_id:
        raise _invalid(response, "maYeuCau missing")
    raw_result = body.get("ketQua")
    try:
        result = MatchResult(raw_result if isinstance(raw_result, str) else "")
    except ValueError:
        raise _invalid(response, "ketQua is not KHOP, SAI_LECH or KHONG_TIM_THAY") from None
    fields = body.get("truongSaiLech", [])
    if fields is None:
        fields = []
    if not isinstance(fields, list) or not all(isinstance(f, str) for f in fields):
        raise _invalid(response, "truongSaiLech is not a list of field names")
    deceased = body.get("daMat", False)
    if not isinstance(deceased, bool):
        raise _invalid(response, "daMat is not true or false")
    return Verification(
        request_id=request_id,
        result=result,
        mismatched_fields=tuple(fields),
        deceased=deceased,
        date_of_death=_optional_date(body, "ngayMat"),
    )


def _optional_date(body: Mapping[str, Any], key: str) -> date | None:
    value = body.get(key)
    if not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None
