"""Fixtures of the population unit tests: a sandbox app in process (no socket) and a token for it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from adapters.ministry.sandbox.config import RateLimitSettings
from adapters.population.sandbox.app import create_app
from adapters.population.sandbox.config import PopulationSandboxConfig

CLIENT_ID = "sandbox-client"
CLIENT_SECRET = "sandbox-secret"
SCOPE = "dancu.xacthuc"
VERIFY = "/api/v1/cong-dan/xac-thuc"


def token_of(http: TestClient, scope: str = SCOPE) -> str:
    """A fresh token fetched by hand."""
    response = http.post("/oauth2/token", data={"grant_type": "client_credentials", "client_id": CLIENT_ID,
                                                "client_secret": CLIENT_SECRET, "scope": scope})
    assert response.status_code == 200, response.text
    value: str = response.json()["access_token"]
    return value


class Sandbox:
    """A TestClient on a fresh sandbox, with a bearer token, and ``verify(body)`` as a shortcut."""

    def __init__(self, http: TestClient) -> None:
        self.http = http
        self.headers = {"Authorization": f"Bearer {token_of(http)}"}

    def verify(self, body: object) -> tuple[int, dict[str, Any]]:
        response = self.http.post(VERIFY, json=body, headers=self.headers)
        return response.status_code, response.json()


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    """A fresh sandbox (default seed, no rate limit) and a token."""
    config = PopulationSandboxConfig(rate_limit=RateLimitSettings(enabled=False))
    with TestClient(create_app(config)) as http:
        yield Sandbox(http)
