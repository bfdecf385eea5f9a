"""Fixtures of the ministry contract tests: one real sandbox server, reset before every test."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI

from adapters.ministry.client import MinistryClient
from adapters.ministry.sandbox.app import create_app
from adapters.ministry.sandbox.config import RateLimitSettings, SandboxConfig
from tests.contract.ministry_support import SandboxHandle, pdf_file
from tests.support.servers import run_server

CLIENT_ID = "sandbox-client"
CLIENT_SECRET = "sandbox-secret"
OTHER_CLIENT_ID = "other-province"
OTHER_CLIENT_SECRET = "other-secret"


def _config() -> SandboxConfig:
    # The shared server does not rate-limit (tests would interfere); test_rate_limit starts its own.
    return SandboxConfig(
        clients={CLIENT_ID: CLIENT_SECRET, OTHER_CLIENT_ID: OTHER_CLIENT_SECRET},
        rate_limit=RateLimitSettings(enabled=False),
    )


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[tuple[FastAPI, str]]:
    """One sandbox under uvicorn for the whole session: (app, base URL)."""
    app = create_app(_config())
    with run_server(app) as base_url:
        yield app, base_url


@pytest.fixture
def sandbox(sandbox_server: tuple[FastAPI, str]) -> Iterator[SandboxHandle]:
    """The shared sandbox, reset (no state, no faults, empty request log) for this test."""
    app, base_url = sandbox_server
    handle = SandboxHandle(app, base_url)
    handle.reset()
    try:
        yield handle
    finally:
        handle.close()


@pytest.fixture
async def ministry(sandbox: SandboxHandle) -> AsyncIterator[MinistryClient]:
    """The gateway's real client, pointed at the sandbox."""
    async with MinistryClient(sandbox.base_url, CLIENT_ID, CLIENT_SECRET, timeout=2.0) as client:
        yield client


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A loopback port nobody listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


@pytest.fixture
def pdf(tmp_path: Path) -> Path:
    """A small valid PDF on disk."""
    return pdf_file(tmp_path / "to-khai.pdf")
