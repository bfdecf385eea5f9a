"""The province's side of province-api.md §2 and §5: post a dossier or a death notice to the gateway in either
encoding."""

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
    return _post(client, "/api/v1/dossiers", api_key, dossier, files, encoding)


def post_death_notice(
    client: httpx.Client,
    api_key: str,
    notice: Mapping[str, Any],
    files: Mapping[str, bytes],
    *,
    encoding: Encoding = "multipart",
) -> httpx.Response:
    """POST ``/api/v1/death-notices`` (province-api.md §5) in either encoding of §2 and return the answer."""
    return _post(client, "/api/v1/death-notices", api_key, notice, files, encoding)


def _post(
    client: httpx.Client,
    path: str,
    api_key: str,
    document: Mapping[str, Any],
    files: Mapping[str, bytes],
    encoding: Encoding,
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {api_key}"}
    if encoding == "json":
        return client.post(path, json=inline_base64(document, files), headers=headers)
    return client.post(path, files=multipart_files(document, files), headers=headers)
