"""Helpers to post dossiers to the gateway in both encodings."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
from typing import Any

import httpx
from starlette.testclient import TestClient

from adapters.province.samples import sample_dossier, sample_pdf_bytes

Client = TestClient | httpx.Client


def auth(key: str) -> dict[str, str]:
    """The Authorization header for an API key."""
    return {"Authorization": f"Bearer {key}"}


def with_base64(dossier: dict[str, Any], files: dict[str, bytes]) -> dict[str, Any]:
    """The JSON encoding: each TaiLieuNop item carries its file as NoiDungBase64."""
    document = copy.deepcopy(dossier)
    for item in document.get("TaiLieuNop", []):
        if item.get("TepDinhKemId") in files:
            item["NoiDungBase64"] = base64.b64encode(files[item["TepDinhKemId"]]).decode()
    return document


def post_json(client: Client, key: str, dossier: dict[str, Any], files: dict[str, bytes]) -> httpx.Response:
    """POST the JSON encoding."""
    return client.post("/api/v1/dossiers", json=with_base64(dossier, files), headers=auth(key))


def multipart_body(dossier: dict[str, Any], files: dict[str, bytes], boundary: str = "gw-test-boundary") -> bytes:
    """A multipart/form-data body: part ``hoso`` then one file part per attachment."""
    chunks = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="hoso"\r\n'
        "Content-Type: application/json\r\n\r\n".encode(),
        json.dumps(dossier, ensure_ascii=False).encode(),
        b"\r\n",
    ]
    for file_id, data in files.items():
        chunks += [
            f'--{boundary}\r\nContent-Disposition: form-data; name="{file_id}"; filename="{file_id}.pdf"\r\n'
            "Content-Type: application/pdf\r\n\r\n".encode(),
            data,
            b"\r\n",
        ]
    chunks.append(f"--{boundary}--\r\n".encode())
    return b"".join(chunks)


def post_multipart(client: Client, key: str, dossier: dict[str, Any], files: dict[str, bytes],
                   body: bytes | None = None) -> httpx.Response:
    """POST the multipart encoding (or a hand-made ``body`` with the same boundary)."""
    boundary = "gw-test-boundary"
    return client.post(
        "/api/v1/dossiers",
        content=body if body is not None else multipart_body(dossier, files, boundary),
        headers={**auth(key), "Content-Type": f"multipart/form-data; boundary={boundary}"},
    )


def sample_files(dossier: dict[str, Any]) -> dict[str, bytes]:
    """A distinct small PDF for each attachment the dossier declares."""
    return {item["TepDinhKemId"]: sample_pdf_bytes(f"{dossier['MaHoSo']} {item['TepDinhKemId']}")
            for item in dossier["TaiLieuNop"]}


def sha256_hex(data: bytes) -> str:
    """Lowercase hex SHA-256."""
    return hashlib.sha256(data).hexdigest()


__all__ = ["auth", "multipart_body", "post_json", "post_multipart", "sample_dossier", "sample_files", "sha256_hex",
           "with_base64"]
