"""The population sandbox as a FastAPI app: the contract, strictly, with faults on demand.

``create_app(config)`` builds one independent instance (its own in-memory state), so tests can run
several side by side; ``adapters.population.sandbox.server.serve`` runs one under uvicorn.
"""

from __future__ import annotations

from fastapi import FastAPI

from adapters.ministry.sandbox.app import platform_app
from adapters.ministry.sandbox.clock import Clock
from adapters.population.sandbox import admin, api
from adapters.population.sandbox.config import PopulationSandboxConfig
from adapters.population.sandbox.state import PopulationSandboxState


def create_app(config: PopulationSandboxConfig | None = None, *, clock: Clock | None = None) -> FastAPI:
    """A new sandbox with its own state; ``config`` defaults to ``PopulationSandboxConfig.from_env()``;
    ``clock`` replaces the real clocks (tests)."""
    state = PopulationSandboxState(config or PopulationSandboxConfig.from_env(), clock or Clock())
    return platform_app(state, "National population database: identity verification — sandbox",
                        api.router, admin.router)


def sandbox_state(app: FastAPI) -> PopulationSandboxState:
    """The state of a sandbox app (for tests that look inside)."""
    state: PopulationSandboxState = app.state.sandbox
    return state
