"""The province's side of province-api.md §2: post a dossier to the gateway in either encoding."""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Mapping
from typing import Any, Literal

import httpx

Encoding = Literal["multipart", "json"]


def multipart_files(dossier: Mapping[str, Any], files: Mapping[str, bytes]) -> list[tuple[str, Any]]:
    """httpx ``files=`` parts: ``hoso`` (the dossier JSON) then one part per attachment, named by its id."""
    names = {item["TepDinhKemId"]: item.get("TenTepDinhKem", item["TepDinhKemId"])
             for item in dossier.get("TaiLieuNop", [])}
    parts: list[tuple[str, Any]] = [
        ("hoso", (None, json.dumps(dossier, ensure_ascii=False).encode(), "application/json")),
    ]
    for file_id, data in files.items():
        parts.append((file_id, (names.get(file_id, file_id), data, "application/octet-stream")))
    return parts


def inline_base64(dossier: Mapping[str, Any], files: Mapping[str, bytes]) -> dict[str, Any]:
    """The JSON encoding: each ``TaiLieuNop`` item carries its bytes as ``NoiDungBase64``."""
    document = copy.deepcopy(dict(dossier))
    for item in document.get("TaiLieuNop", []):
        if item.get("TepDinhKemId") in files:
            item["NoiDungBase64"] = base64.b64encode(files[item["TepDinhKemId"]]).decode()
    return document


def post_dossier(
    client: httpx.Client,
    api_key: str,
    dossier: Mapping[str, Any],
    files: Mapping[str, bytes],
    *,
    encoding: Encoding = "multipart",
) -> httpx.Response:
    """POST ``/api/v1/dossiers`` on ``client`` (whose base URL is the gateway) and return the answer."""
    headers = {"Authorization": f"Bearer {api_key}"}
    if encoding == "json":
        return client.post("/api/v1/dossiers", json=inline_base64(dossier, files), headers=headers)
    return client.post("/api/v1/dossiers", files=multipart_files(dossier, files), headers=headers)
