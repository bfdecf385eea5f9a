"""Quiet by default: the per-exchange loggers (httpx and friends) say nothing at INFO, everything at DEBUG."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from gateway.logging import configure_logging
from tests.support.logs import logging_restored


@pytest.fixture(autouse=True)
def _restore() -> Iterator[None]:
    with logging_restored():
        yield


@pytest.mark.parametrize("name", ["httpx", "httpcore", "aiohttp", "adapters.ministry.client"])
def test_http_request_loggers_are_above_info_at_info(name: str) -> None:
    configure_logging("json", "INFO")
    assert not logging.getLogger(name).isEnabledFor(logging.INFO)
    assert logging.getLogger(name).isEnabledFor(logging.WARNING)


@pytest.mark.parametrize("name", ["httpx", "httpcore", "aiohttp", "adapters.ministry.client"])
def test_http_request_loggers_speak_at_debug(name: str) -> None:
    configure_logging("json", "DEBUG")
    assert logging.getLogger(name).isEnabledFor(logging.DEBUG)


def test_the_gateway_own_lines_stay_at_info() -> None:
    configure_logging("console", "INFO")
    assert logging.getLogger("gateway.reconcile.reconciler").isEnabledFor(logging.INFO)
    assert logging.getLogger("gateway.callbacks.handler").isEnabledFor(logging.INFO)
    assert logging.getLogger("outbox.dispatcher").isEnabledFor(logging.INFO)
