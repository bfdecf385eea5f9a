"""The API description documents every refusal as problem+json with its real shape, so a province's
integrator can generate a client that reads the fields at fault."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gateway.app import create_app
from gateway.settings import Settings


@pytest.fixture
def openapi(tmp_path: Path) -> dict[str, Any]:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'gateway.db'}", blob_dir=tmp_path / "blobs",
                        embedded_worker=False, session_secret="s")  # type: ignore[arg-type]
    return create_app(settings).openapi()


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


@pytest.mark.parametrize(("method", "path", "status"), [
    ("post", "/api/v1/dossiers", "422"), ("post", "/api/v1/dossiers", "409"), ("post", "/api/v1/dossiers", "413"),
    ("get", "/api/v1/dossiers", "401"), ("get", "/api/v1/dossiers/{ma_ho_so}", "404"),
    ("get", "/api/v1/admin/messages", "422"), ("post", "/api/v1/admin/messages/{message_id}/replay", "409"),
])
def test_a_refusal_is_documented_as_a_problem_document(openapi: dict[str, Any], method: str, path: str,
                                                       status: str) -> None:
    content = openapi["paths"][path][method]["responses"][status]["content"]
    assert set(content) == {"application/problem+json"}
    schema = _resolve(openapi, content["application/problem+json"]["schema"])
    assert {"type", "title", "status", "code", "detail", "errors"} <= set(schema["properties"])
    assert {"type", "title", "status", "code"} <= set(schema["required"])
    errors = _resolve(openapi, schema["properties"]["errors"]["items"])
    assert set(errors["properties"]) == {"field", "code", "message", "choices"}
    assert set(errors["required"]) == {"field", "code", "message"}


def test_the_receipt_and_the_dossier_are_documented_in_the_contract_spelling(openapi: dict[str, Any]) -> None:
    receipt = _resolve(openapi, openapi["paths"]["/api/v1/dossiers"]["post"]["responses"]["202"]["content"]
                       ["application/json"]["schema"])
    assert {"id", "MaHoSo", "revision", "state", "links"} <= set(receipt["properties"])
    detail = _resolve(openapi, openapi["paths"]["/api/v1/dossiers/{ma_ho_so}"]["get"]["responses"]["200"]
                      ["content"]["application/json"]["schema"])
    assert {"dueAt", "createdAt", "history", "attachments", "decision"} <= set(detail["properties"])
