"""An idle gateway is quiet: reading an empty ministry change feed logs nothing at INFO or above."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import structlog

from adapters.ministry.client import MinistryClient
from adapters.ministry.sandbox.app import create_app
from adapters.ministry.sandbox.config import RateLimitSettings, SandboxConfig
from gateway.db import Database
from gateway.logging import configure_logging
from gateway.reconcile.reconciler import Reconciler
from tests.support.logs import logging_restored

CLIENT_ID, CLIENT_SECRET = "sandbox-client", "sandbox-secret"


class CountingTransport(httpx.ASGITransport):
    """The sandbox in process, counting the requests that reached it."""

    requests = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        return await super().handle_async_request(request)


@pytest.fixture(autouse=True)
def _restore() -> Iterator[None]:
    with logging_restored():
        yield


@pytest.fixture
def transport() -> CountingTransport:
    """An empty ministry sandbox (nothing delivered, so an empty change feed)."""
    app = create_app(SandboxConfig(clients={CLIENT_ID: CLIENT_SECRET}, rate_limit=RateLimitSettings(enabled=False)))
    return CountingTransport(app=app)


@pytest.fixture
async def ministry(transport: CountingTransport) -> AsyncIterator[MinistryClient]:
    """The real client over that sandbox (httpx logs each request, as over a socket)."""
    async with MinistryClient("http://ministry.test", CLIENT_ID, CLIENT_SECRET, transport=transport) as client:
        yield client


def _configure(caplog: pytest.LogCaptureFixture, level: str) -> None:
    """The gateway's logging set-up, with pytest's capture handler put back on the root logger it replaced."""
    configure_logging("json", level)
    caplog.set_level(level)
    logging.getLogger().addHandler(caplog.handler)


def _records(caplog: pytest.LogCaptureFixture, level: int) -> list[tuple[str, int, str]]:
    return [(r.name, r.levelno, str(r.msg)[:200]) for r in caplog.records if r.levelno >= level]


async def test_an_empty_feed_poll_logs_nothing_at_info(
    db: Database, ministry: MinistryClient, transport: CountingTransport, caplog: pytest.LogCaptureFixture
) -> None:
    _configure(caplog, "INFO")
    reconciler = Reconciler(db, ministry, interval_s=2.0)
    assert await reconciler.run_once() == 0  # the first poll also fetches the token
    assert await reconciler.run_once() == 0
    assert transport.requests == 3  # token, then one feed read per poll: it did talk to the ministry
    assert _records(caplog, logging.INFO) == []
    structlog.get_logger("gateway.reconcile.reconciler").info("control_line")  # the capture does work
    assert [name for name, _level, _msg in _records(caplog, logging.INFO)] == ["gateway.reconcile.reconciler"]


async def test_an_empty_feed_poll_is_visible_at_debug(
    db: Database, ministry: MinistryClient, caplog: pytest.LogCaptureFixture
) -> None:
    _configure(caplog, "DEBUG")
    assert await Reconciler(db, ministry, interval_s=2.0).run_once() == 0
    names = {name for name, _level, _msg in _records(caplog, logging.DEBUG)}
    assert {"httpx", "adapters.ministry.client", "gateway.reconcile.reconciler"} <= names
