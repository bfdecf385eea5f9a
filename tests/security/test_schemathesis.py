"""Schema-based fuzzing: every operation of the gateway's own OpenAPI, in-process over ASGI, with auth.

Bounded (few examples per operation, no deadline) so the module runs in well under a minute. Each answer
must not be a 5xx and must conform to the schema (status code documented, content type and body as
declared). The operations are listed from the app's OpenAPI at collection, so a new route is fuzzed too.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance

from gateway.app import create_app
from gateway.settings import Settings
from tests.conftest import ADMIN_KEY, PROVINCE_KEY

EXAMPLES = 15
_SPEC = create_app(Settings(database_url="sqlite:///:memory:", embedded_worker=False)).openapi()
OPERATIONS = [(method.upper(), path) for path, item in _SPEC["paths"].items() for method in item]


def key_for(path: str) -> str:
    """The key holding the operation's scope: admin for /api/v1/admin, the province otherwise."""
    return ADMIN_KEY if path.startswith("/api/v1/admin") else PROVINCE_KEY


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_operation_never_fails_and_answers_as_documented(method: str, path: str, mode: GenerationMode,
                                                         sqlite_settings: Settings) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(sqlite_settings))
    operation = schema[path][method]
    headers = {"Authorization": f"Bearer {key_for(path)}"}

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=EXAMPLES, deadline=None, database=None, phases=[Phase.explicit, Phase.generate],
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
    def fuzz(case: Any) -> None:
        response = case.call(headers=headers)
        assert response.status_code < 500, (method, path, response.status_code, response.text[:500])
        # Left out: "schema-valid request rejected" (the schemas describe the shape; the dossier's and the
        # replay filter's rules reject more, with a 422 problem) and "schema-violating request accepted"
        # (pydantic's lax parsing takes e.g. "3 " as the integer 3). Answers are all checked.
        case.validate_response(response, excluded_checks=[positive_data_acceptance, negative_data_rejection])

    try:
        fuzz()
    except Unsatisfiable:
        # Nothing of this operation can be made invalid (no parameters, or unconstrained strings only).
        assert mode is GenerationMode.NEGATIVE, (method, path)


def test_every_api_route_is_in_the_schema() -> None:
    assert {p for _, p in OPERATIONS if p.startswith("/api/")} >= {"/api/v1/dossiers", "/api/v1/admin/stats"}
