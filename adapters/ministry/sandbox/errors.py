"""The contract's error body (§2) and the OAuth error body (§1), as exceptions and responses."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from starlette.responses import Response

JSON_TYPE = "application/json"

MESSAGES: dict[str, str] = {
    "DU_LIEU_KHONG_HOP_LE": "Dữ liệu không hợp lệ",
    "KHONG_TIM_THAY": "Không tìm thấy",
    "HO_SO_DA_TON_TAI": "Hồ sơ đã tồn tại",
    "TEP_QUA_LON": "Tệp vượt quá dung lượng cho phép",
    "DINH_DANG_KHONG_HO_TRO": "Định dạng tệp không được hỗ trợ",
    "SAI_MA_BAM": "Mã băm không khớp với nội dung tệp",
    "KHOA_TRUNG_LAP_KHAC_NOI_DUNG": "Khóa chống trùng lặp đã dùng với nội dung khác",
    "VUOT_GIOI_HAN": "Vượt quá giới hạn số lượng yêu cầu",
    "LOI_HE_THONG": "Lỗi hệ thống, vui lòng thử lại sau",
    "TRANG_THAI_KHONG_PHU_HOP": "Trạng thái hồ sơ không phù hợp",
    "SAI_SO_TIEN": "Số tiền không khớp với dữ liệu chi trả",
    "PHUONG_THUC_KHONG_HO_TRO": "Phương thức không được hỗ trợ",
}


def dumps(value: Any) -> bytes:
    """Compact UTF-8 JSON, the one serialisation every answer uses."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def json_response(status: int, body: Any, headers: Mapping[str, str] | None = None) -> Response:
    """A JSON response from an already-built body."""
    return Response(dumps(body), status_code=status, media_type=JSON_TYPE, headers=headers)


@dataclass
class FieldError:
    """One entry of ``chiTiet``."""

    truong: str
    thongDiep: str


@dataclass
class SandboxError(Exception):
    """An answer in the contract's error shape, raised from anywhere in a handler."""

    status: int
    maLoi: str
    chiTiet: list[FieldError] = field(default_factory=list)
    thongDiep: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        """The JSON body of §2 (plus ``extra``, e.g. the ``id`` of a 409)."""
        out: dict[str, Any] = {
            "maLoi": self.maLoi,
            "thongDiep": self.thongDiep or MESSAGES.get(self.maLoi, self.maLoi),
            "chiTiet": [{"truong": e.truong, "thongDiep": e.thongDiep} for e in self.chiTiet],
        }
        out.update(self.extra)
        return out

    def response(self) -> Response:
        """This error as a response."""
        return json_response(self.status, self.body(), self.headers)


def invalid(errors: list[FieldError]) -> SandboxError:
    """400 DU_LIEU_KHONG_HOP_LE listing every field at fault."""
    return SandboxError(400, "DU_LIEU_KHONG_HOP_LE", errors)


def invalid_one(truong: str, thong_diep: str) -> SandboxError:
    """400 DU_LIEU_KHONG_HOP_LE for a single field."""
    return invalid([FieldError(truong, thong_diep)])


def not_found(what: str = "id") -> SandboxError:
    """404 KHONG_TIM_THAY."""
    return SandboxError(404, "KHONG_TIM_THAY", [FieldError(what, "Không tìm thấy")])


def system_error(status: int = 500, retry_after: int | None = None) -> SandboxError:
    """A transient 5xx, optionally with Retry-After."""
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
    return SandboxError(status, "LOI_HE_THONG", headers=headers)


def rate_limited(retry_after: int) -> SandboxError:
    """429 VUOT_GIOI_HAN with Retry-After in whole seconds (at least 1)."""
    return SandboxError(429, "VUOT_GIOI_HAN", headers={"Retry-After": str(max(1, retry_after))})


class OAuthError(Exception):
    """An answer in the OAuth shape ``{"error": "..."}`` (RFC 6749 §5.2, RFC 6750 §3), nothing more."""

    def __init__(self, status: int, error: str) -> None:
        super().__init__(error)
        self.status = status
        self.error = error

    def response(self) -> Response:
        """This error as a response; a bearer 401 carries the matching WWW-Authenticate header."""
        headers = {"Cache-Control": "no-store"}
        if self.error == "invalid_token":
            headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
        return json_response(self.status, {"error": self.error}, headers)


def wrong_state(status: str, wanted: str) -> SandboxError:
    """409 TRANG_THAI_KHONG_PHU_HOP: the dossier is in ``status``, the call needs ``wanted``."""
    return SandboxError(
        409,
        "TRANG_THAI_KHONG_PHU_HOP",
        [FieldError("trangThai", f"Hồ sơ đang ở trạng thái {status}, cần {wanted}")],
    )
