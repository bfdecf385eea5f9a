"""One authorised exchange with a peer under OAuth client credentials, and its log line.

``PeerSession`` holds the httpx client, the token cache and the peer's last "wait" (Retry-After), and
makes the two layers every client is built on:

- ``exchange``: one HTTP request; a transport failure becomes the peer's transient error; one log line
  (method, path, status, duration, attempt, outcome, code and the caller's own non-personal fields);
- ``send``: an authorised call; held back at once while a Retry-After runs; a 401 is repeated once with a
  fresh token (the contracts' rule), a second 401 raises.

Retrying anything else is the caller's (the outbox's) business.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable, Collection, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from types import TracebackType
from typing import Any, Protocol, Self

import httpx

from adapters.common.errors import RATE_LIMITED, ErrorKinds, PeerError, classify_exception, parse_retry_after
from adapters.common.oauth import TOKEN_PATH, TokenCache, parse_token_response, token_form

RequestParts = Callable[[], AbstractAsyncContextManager[dict[str, Any]]]
"""Opens the keyword arguments of one ``httpx.AsyncClient.request`` (per attempt: a repeat sends again)."""

Classifier = Callable[[httpx.Response], PeerError]
Outcome = Callable[[str, httpx.Response], "tuple[str, str | None]"]


class Logger(Protocol):
    """The two methods of a structlog logger the session uses."""

    def info(self, event: str, **fields: Any) -> Any: ...

    def warning(self, event: str, **fields: Any) -> Any: ...


class Budget(Protocol):
    """A client-side pace (``adapters.common.ratebudget.RateBudget``): ``acquire()`` returns when one more
    request may go out; ``hold(seconds)`` is the peer's Retry-After, for every caller sharing the budget."""

    async def acquire(self) -> None: ...

    async def hold(self, seconds: float) -> None: ...


def static_parts(**kwargs: Any) -> RequestParts:
    """Request arguments that are the same on every attempt."""

    @asynccontextmanager
    async def parts() -> AsyncIterator[dict[str, Any]]:
        yield dict(kwargs)

    return parts


def json_parts(body: Mapping[str, Any]) -> RequestParts:
    """A JSON body as canonical UTF-8 bytes.

    Sorted keys: a retry after a redeploy must send the same bytes, or an idempotent peer would see
    "same key, different body" where nothing changed but dict order.
    """
    content = json.dumps(body, ensure_ascii=False, separators=(",", ":"), sort_keys=True, allow_nan=False)
    return static_parts(
        content=content.encode("utf-8"), headers={"Content-Type": "application/json; charset=utf-8"}
    )


def default_outcome(classify: Classifier) -> Outcome:
    """The outcome word of a log line: ok, credentials_rejected, token_rejected, transient or permanent."""

    def outcome(path: str, response: httpx.Response) -> tuple[str, str | None]:
        if response.is_success:
            return "ok", None
        error = classify(response)
        if path == TOKEN_PATH and response.status_code in (400, 401):
            return "credentials_rejected", error.code
        if response.status_code == 401:
            return "token_rejected", error.code
        return ("transient" if error.transient else "permanent"), error.code

    return outcome


class PeerClient:
    """A client owning ``_http`` (its connection pool): use as ``async with`` or call ``aclose()``."""

    _http: httpx.AsyncClient

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool (and the transport)."""
        await self._http.aclose()


class PeerSession:
    """A peer's HTTP client with its bearer token, its Retry-After hold-back and its log line.

    ``log_event`` names the line (``ministry_call``); ``log_defaults`` are fields every line carries
    (overridden per call); ``answer_fields`` adds fields read from an answer; ``outcome`` words a
    line's result, and lines with an outcome in ``quiet_outcomes`` are INFO, the others WARNING.
    ``check_path`` may refuse a path before anything is sent. ``budget`` paces the authorised calls and
    holds them all back for a Retry-After.
    Nothing personal may go in a log field: callers pass only keys, ids and codes.
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        client_id: str,
        client_secret: str,
        scope: str,
        kinds: ErrorKinds,
        classify: Classifier,
        clock: Callable[[], float],
        logger: Logger,
        log_event: str,
        log_defaults: Mapping[str, Any] | None = None,
        answer_fields: Callable[[httpx.Response], dict[str, Any]] | None = None,
        outcome: Outcome | None = None,
        quiet_outcomes: Collection[str] = ("ok",),
        check_path: Callable[[str], None] | None = None,
        budget: Budget | None = None,
    ) -> None:
        self.http = http
        self.kinds = kinds
        self.classify = classify
        self.tokens = TokenCache(self._fetch_token, clock=clock)
        self._form = token_form(client_id, client_secret, scope)
        self._clock = clock
        self._logger = logger
        self._log_event = log_event
        self._log_defaults = dict(log_defaults or {})
        self._answer_fields = answer_fields
        self._outcome = outcome or default_outcome(classify)
        self._quiet = frozenset(quiet_outcomes)
        self._check_path = check_path
        self._budget = budget
        # When the peer last asked us to wait (429, or 503 with Retry-After): no call of this session
        # goes out before then, not even the next step of a piece of work already under way.
        self.not_before = 0.0

    async def send(
        self,
        method: str,
        path: str,
        *,
        parts: RequestParts | None = None,
        headers: Mapping[str, str] | None = None,
        log_fields: Mapping[str, Any] | None = None,
    ) -> httpx.Response:
        """One authorised call; a 401 is repeated once with a fresh token, a second 401 raises.

        While a Retry-After the peer gave is running, the call is not sent: without a budget it fails at
        once as transient with the remaining wait, so the caller reschedules it after the window; with
        one, the budget waits for the window's end (or refuses when that is further than it may wait).
        """
        if self._budget is None:
            self._hold_back()
        token = await self.tokens.get()
        response = await self._paced(method, path, parts, token, 1, headers, log_fields)
        if response.status_code != 401:
            return response
        fresh = await self.tokens.get(reject=token)
        response = await self._paced(method, path, parts, fresh, 2, headers, log_fields)
        if response.status_code == 401:
            self.tokens.invalidate(fresh)
            raise self.classify(response)
        return response

    async def exchange(
        self,
        method: str,
        path: str,
        parts: RequestParts | None = None,
        *,
        token: str | None = None,
        attempt: int = 1,
        headers: Mapping[str, str] | None = None,
        log_fields: Mapping[str, Any] | None = None,
    ) -> httpx.Response:
        """One HTTP request and its log line; transport failures become the peer's transient errors."""
        if self._check_path is not None:
            self._check_path(path)
        sent: dict[str, str] = {}
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        sent.update(headers or {})
        fields = {**self._log_defaults, **(log_fields or {})}
        started = time.perf_counter()
        try:
            async with (parts or static_parts())() as kwargs:
                extra_headers = kwargs.pop("headers", {})
                response = await self.http.request(method, path, headers={**sent, **extra_headers}, **kwargs)
        except httpx.RequestError as exc:
            error = classify_exception(exc, self.kinds)
            self._log(method, path, attempt, started, None, "transient", error.code, fields)
            raise error from exc
        if response.status_code in (429, 503):
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            if retry_after:
                self.not_before = max(self.not_before, self._clock() + retry_after)
                if self._budget is not None and response.status_code == 429:
                    # The rate limit speaks for every process sharing the budget. A 503's Retry-After is this
                    # call's: its retry waits that long (the error carries it), the other calls go on.
                    await self._budget.hold(retry_after)
        outcome, code = self._outcome(path, response)
        if self._answer_fields is not None:
            fields.update(self._answer_fields(response))
        self._log(method, path, attempt, started, response.status_code, outcome, code, fields)
        return response

    def _hold_back(self) -> None:
        wait = self.not_before - self._clock()
        if wait > 0:
            raise self.kinds.transient(
                f"holding back: {self.kinds.peer} asked us to wait", status=None, code=RATE_LIMITED, retry_after=wait
            )

    async def _paced(
        self,
        method: str,
        path: str,
        parts: RequestParts | None,
        token: str,
        attempt: int,
        headers: Mapping[str, str] | None,
        log_fields: Mapping[str, Any] | None,
    ) -> httpx.Response:
        if self._budget is not None:
            await self._budget.acquire()  # after any Retry-After, for this process and those sharing the budget
        return await self.exchange(
            method, path, parts, token=token, attempt=attempt, headers=headers, log_fields=log_fields
        )

    async def _fetch_token(self) -> tuple[str, float]:
        response = await self.exchange("POST", TOKEN_PATH, static_parts(data=self._form))
        return parse_token_response(response, self.kinds, self.classify)

    def _log(
        self,
        method: str,
        path: str,
        attempt: int,
        started: float,
        status: int | None,
        outcome: str,
        code: str | None,
        fields: Mapping[str, Any],
    ) -> None:
        level = self._logger.info if outcome in self._quiet else self._logger.warning
        line: dict[str, Any] = {
            "method": method,
            "path": path,
            "status": status,
            "duration_ms": round((time.perf_counter() - started) * 1000, 1),
            "attempt": attempt,
            "outcome": outcome,
            "code": code,
        }
        level(self._log_event, **{**line, **fields})
