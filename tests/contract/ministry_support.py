"""Helpers of the ministry contract tests: a handle on a running sandbox, valid bodies, files."""

from __future__ import annotations

import copy
import hashlib
import itertools
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from adapters.ministry.sandbox.app import sandbox_state
from adapters.ministry.sandbox.state import SandboxState
from adapters.province.samples import sample_pdf_bytes

_codes = itertools.count(1)

PNG_BYTES = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00\x90wS\xde"
    b"\x00\x00\x00\x0cIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa7\x9a\xa0\x8d\x00\x00\x00\x00IEND\xaeB`\x82"
)
JPEG_BYTES = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9"


def sha256_hex(data: bytes) -> str:
    """Lowercase hex SHA-256."""
    return hashlib.sha256(data).hexdigest()


def file_digest(path: Path) -> str:
    """Lowercase hex SHA-256 of a file's bytes."""
    return sha256_hex(path.read_bytes())


def write_file(path: Path, data: bytes) -> Path:
    """Write ``data`` at ``path`` (small test files: blocking is fine)."""
    path.write_bytes(data)
    return path


def pdf_file(path: Path, text: str = "Tờ khai") -> Path:
    """Write a small valid PDF at ``path``."""
    path.write_bytes(sample_pdf_bytes(text))
    return path


def next_code() -> str:
    """A fresh, well-formed maHoSoTinh."""
    return f"000.00.12.H56-240115-{next(_codes):04d}"


def dossier_body(file_ids: list[str], *, code: str | None = None, component: str = "TK_1C") -> dict[str, Any]:
    """A valid ``cho-tiep-nhan`` body (the contract's example) referencing ``file_ids``."""
    return {
        "maHoSoTinh": code or next_code(),
        "maThuTuc": "1.001776",
        "ngayNop": "2024-01-15T08:30:00+07:00",
        "ngayHenTra": "2024-02-05T17:00:00+07:00",
        "kenhNop": "TRUC_TUYEN",
        "maDonViTiepNhan": "26734",
        "nguoiNop": {
            "hoTen": "Trần Văn Nam",
            "soDinhDanh": "038075004321",
            "soDienThoai": "0912345678",
            "quanHeVoiDoiTuong": "CON",
        },
        "doiTuong": {
            "hoTen": "Nguyễn Thị Hoa",
            "ngaySinh": "1941-03-02",
            "gioiTinh": "NU",
            "soDinhDanh": "038141001234",
            "maDanToc": "01",
            "noiThuongTru": {"maTinh": "38", "maXa": "16171", "diaChiChiTiet": "Thôn 3"},
            "nhomDoiTuong": "NCT_80_KHONG_LUONG",
        },
        "thanhPhanHoSo": [
            {"maThanhPhan": component, "tenThanhPhan": "Tờ khai đề nghị trợ giúp xã hội", "tepTinIds": file_ids}
        ],
        "ghiChu": None,
    }


class SandboxHandle:
    """A running sandbox: its base URL, an admin HTTP client, and its state for direct assertions."""

    def __init__(self, app: FastAPI, base_url: str) -> None:
        self.app = app
        self.base_url = base_url
        self.http = httpx.Client(base_url=base_url, timeout=10.0)

    @property
    def state(self) -> SandboxState:
        """The sandbox's in-memory state."""
        return sandbox_state(self.app)

    def close(self) -> None:
        """Close the admin client."""
        self.http.close()

    def reset(self) -> None:
        """``POST /_sandbox/reset``."""
        self.http.post("/_sandbox/reset").raise_for_status()

    def faults(self, **settings: Any) -> dict[str, Any]:
        """``PUT /_sandbox/faults`` with ``settings``; returns the settings in force."""
        response = self.http.put("/_sandbox/faults", json=settings)
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    def expire_tokens(self) -> None:
        """``POST /_sandbox/expire-tokens``."""
        self.http.post("/_sandbox/expire-tokens").raise_for_status()

    def requests(self, path: str | None = None, method: str | None = None) -> list[dict[str, Any]]:
        """The logged requests, optionally filtered by path prefix and method."""
        params = {k: v for k, v in (("path", path), ("method", method)) if v is not None}
        response = self.http.get("/_sandbox/requests", params=params)
        response.raise_for_status()
        entries: list[dict[str, Any]] = response.json()["requests"]
        return entries

    def token_requests(self) -> int:
        """How many token requests the sandbox received."""
        return len(self.requests("/oauth2/token"))

    def pending(self) -> list[dict[str, Any]]:
        """The pending-reception queue."""
        found: list[dict[str, Any]] = self.http.get("/_sandbox/cho-tiep-nhan").json()["hoSo"]
        return found

    def lookup(self) -> list[dict[str, Any]]:
        """The legacy lookup list."""
        found: list[dict[str, Any]] = self.http.get("/_sandbox/tra-cuu").json()["hoSo"]
        return found

    def all_dossiers(self) -> list[dict[str, Any]]:
        """Every pending-reception dossier, whatever its status."""
        found: list[dict[str, Any]] = self.http.get("/_sandbox/ho-so").json()["hoSo"]
        return found

    def beneficiaries(self, personal_id: str | None = None) -> list[dict[str, Any]]:
        """The beneficiaries the sandbox holds (§8), those with ``personal_id`` when given."""
        found: list[dict[str, Any]] = self.http.get("/_sandbox/doi-tuong").json()["doiTuong"]
        return [b for b in found if personal_id is None or b["soDinhDanh"] == personal_id]

    def officer(self, dossier_id: str, status: str, **extras: Any) -> httpx.Response:
        """``POST /_sandbox/ho-so/{id}/hanh-dong``."""
        return self.http.post(f"/_sandbox/ho-so/{dossier_id}/hanh-dong", json={"trangThai": status, **extras})

    def token(self, client_id: str = "sandbox-client", secret: str = "sandbox-secret") -> str:
        """A fresh access token, fetched by hand."""
        response = self.http.post(
            "/oauth2/token",
            data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret,
                  "scope": "tgxh.hoso"},
        )
        response.raise_for_status()
        value: str = response.json()["access_token"]
        return value

    def upload(self, token: str, data: bytes, *, component: str = "TK_1C", content_type: str = "application/pdf",
               name: str = "tep.pdf", key: str | None = None, sha256: str | None = None) -> httpx.Response:
        """A hand-made upload (plain httpx)."""
        headers = {"Authorization": f"Bearer {token}"}
        if key is not None:
            headers["Idempotency-Key"] = key
        fields = {"maThanhPhan": component, "sha256": sha256 if sha256 is not None else sha256_hex(data)}
        return self.http.post("/api/v1/tep-tin", headers=headers, data=fields,
                              files={"tep": (name, data, content_type)})


DELETE = object()


def with_changes(body: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """A deep copy of ``body`` with fields replaced, ``__`` separating levels (``doiTuong__gioiTinh="X"``).

    The value ``DELETE`` removes the field.
    """
    out = copy.deepcopy(body)
    for dotted, value in changes.items():
        target = out
        *parents, leaf = dotted.split("__")
        for key in parents:
            target = target[key]
        if value is DELETE:
            del target[leaf]
        else:
            target[leaf] = value
    return out
