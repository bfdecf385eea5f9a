"""Strict checks of a callback body (province-api.md §4): every fault listed at once, by field.

Refusals (400) are what the contract states; what it only implies (the national status agreeing
with the mapping table, ``DA_CHUYEN_BO`` meaning ``CHO_TIEP_NHAN``) is recorded as a warning on
the accepted callback, so a table change on either side does not wedge the gateway's retries.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from mappings.tables import ministry_status, national_status, national_status_name

DELIVERED = "DA_CHUYEN_BO"
STATUS_CHANGED = "CAP_NHAT_TRANG_THAI"
SYNC_FAILED = "LOI_DONG_BO"
IDENTITY_MISMATCH = "SAI_LECH_DAN_CU"
ALLOWANCE_STOPPED = "DA_THOI_HUONG"
NO_ALLOWANCE = "KHONG_CO_TRO_CAP"
EVENTS = (DELIVERED, STATUS_CHANGED, SYNC_FAILED, IDENTITY_MISMATCH, ALLOWANCE_STOPPED, NO_ALLOWANCE)
# Events about no dossier the ministry holds: TrangThaiHoSo, TrangThaiBo and MaHoSoBo are null (§6).
NOT_AT_MINISTRY = (SYNC_FAILED, IDENTITY_MISMATCH, ALLOWANCE_STOPPED, NO_ALLOWANCE)
# Each event's own members besides FIELDS (province-api.md §6's table).
EVENT_FIELDS: dict[str, tuple[str, ...]] = {IDENTITY_MISMATCH: ("SaiLech",), ALLOWANCE_STOPPED: ("ThoiHuong",)}
_MONTH = re.compile(r"[0-9]{4}-(0[1-9]|1[0-2])")
_FIELD_PATH = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:\[[0-9]+\])?(?:\.[A-Za-z][A-Za-z0-9]*(?:\[[0-9]+\])?)*")

FIELDS = ("EventId", "MaHoSo", "SuKien", "TrangThaiHoSo", "TrangThaiBo", "MaHoSoBo", "ThoiDiem", "NoiDung",
          "QuyetDinh")

_TIMESTAMP = re.compile(r"[0-9]{14}")
_CODE = re.compile(r"[A-Z][A-Z0-9_]*")
_MAX_CODE = 64


@dataclass(frozen=True)
class FieldError:
    """One fault: the field (``$`` for the whole body), a stable English code, a Vietnamese message."""

    field: str
    code: str
    message: str

    def as_dict(self) -> dict[str, str]:
        """The JSON form used in problem answers."""
        return asdict(self)


def parse_timestamp(value: str) -> datetime | None:
    """A ``yyyyMMddHHmmss`` string as a naive datetime (Vietnam wall time), or None if invalid."""
    if not _TIMESTAMP.fullmatch(value):
        return None
    try:
        return datetime.strptime(value, "%Y%m%d%H%M%S")
    except ValueError:
        return None


def validate_callback(body: Any) -> list[FieldError]:
    """Every fault of a decoded callback body; empty when it is exactly as §4 describes."""
    if not isinstance(body, dict):
        return [FieldError("$", "invalid_type", "Nội dung phải là một đối tượng JSON.")]
    own = EVENT_FIELDS.get(str(body.get("SuKien")), ())
    errors = [FieldError(key, "unknown_field", "Trường không có trong đặc tả.")
              for key in body if key not in FIELDS and key not in own]
    errors += [FieldError(key, "required", "Thiếu trường bắt buộc (giá trị rỗng phải gửi là null).")
               for key in (*FIELDS, *own) if key not in body]

    event_id = body.get("EventId")
    if "EventId" in body and not _is_uuid(event_id):
        errors.append(FieldError("EventId", "invalid_uuid", "EventId phải là một UUID."))

    if "MaHoSo" in body and not _is_text(body["MaHoSo"], _MAX_CODE):
        errors.append(FieldError("MaHoSo", "invalid_value", "MaHoSo phải là chuỗi không rỗng, tối đa 64 ký tự."))

    event = body.get("SuKien")
    if "SuKien" in body and event not in EVENTS:
        errors.append(FieldError("SuKien", "invalid_value", "SuKien phải là một trong: " + ", ".join(EVENTS) + "."))
    failed = event in NOT_AT_MINISTRY
    known_event = event in EVENTS
    if event == ALLOWANCE_STOPPED and "ThoiHuong" in body:
        errors += _stopped(body["ThoiHuong"])
    if event == IDENTITY_MISMATCH and "SaiLech" in body:
        paths = body["SaiLech"]
        if not (isinstance(paths, list) and paths and all(isinstance(p, str) and _FIELD_PATH.fullmatch(p)
                                                         for p in paths)):
            errors.append(FieldError("SaiLech", "invalid_value",
                                     "SaiLech phải là danh sách đường dẫn trường (vd. DuLieuToKhai.NgaySinh), "
                                     "không phải giá trị."))

    if "TrangThaiHoSo" in body:
        errors += _national_status(body["TrangThaiHoSo"], failed=failed, known_event=known_event)

    if "TrangThaiBo" in body:
        status = body["TrangThaiBo"]
        if status is None:
            if known_event and not failed:
                errors.append(FieldError("TrangThaiBo", "required", "Sự kiện này phải có trạng thái của Bộ."))
        elif not (isinstance(status, str) and _CODE.fullmatch(status) and len(status) <= _MAX_CODE):
            errors.append(FieldError("TrangThaiBo", "invalid_value", "TrangThaiBo phải là mã chữ in hoa hoặc null."))

    if "MaHoSoBo" in body:
        ministry_id = body["MaHoSoBo"]
        if ministry_id is None:
            if known_event and not failed:
                errors.append(FieldError("MaHoSoBo", "required", "Hồ sơ đã ở phần mềm của Bộ phải có MaHoSoBo."))
        elif not _is_text(ministry_id, _MAX_CODE):
            errors.append(FieldError("MaHoSoBo", "invalid_value", "MaHoSoBo phải là chuỗi không rỗng hoặc null."))

    if "ThoiDiem" in body:
        moment = body["ThoiDiem"]
        if not isinstance(moment, str) or parse_timestamp(moment) is None:
            errors.append(FieldError("ThoiDiem", "invalid_timestamp", "ThoiDiem phải có dạng yyyyMMddHHmmss."))

    if "NoiDung" in body:
        text = body["NoiDung"]
        if text is not None and not isinstance(text, str):
            errors.append(FieldError("NoiDung", "invalid_type", "NoiDung phải là chuỗi hoặc null."))
        elif event == SYNC_FAILED and not (isinstance(text, str) and text.strip()):
            errors.append(FieldError("NoiDung", "required", "LOI_DONG_BO phải nêu lý do trong NoiDung."))

    if "QuyetDinh" in body and body["QuyetDinh"] is not None and not isinstance(body["QuyetDinh"], dict):
        errors.append(FieldError("QuyetDinh", "invalid_type", "QuyetDinh phải là đối tượng JSON hoặc null."))
    return errors


def _stopped(value: Any) -> list[FieldError]:
    """``ThoiHuong``: ``{"ThangThoiHuong": "YYYY-MM", "TruyThu": null | {"SoTien", "SoThang", "ChiTiet"}}``."""
    fault = [FieldError("ThoiHuong", "invalid_value", "ThoiHuong phải có ThangThoiHuong (YYYY-MM) và TruyThu "
                        "(null hoặc {SoTien, SoThang, ChiTiet: [{Thang, SoTien}]}) khớp nhau.")]
    if not isinstance(value, dict) or set(value) != {"ThangThoiHuong", "TruyThu"}:
        return fault
    if not isinstance(value["ThangThoiHuong"], str) or not _MONTH.fullmatch(value["ThangThoiHuong"]):
        return fault
    recovered = value["TruyThu"]
    if recovered is None:
        return []
    if not isinstance(recovered, dict) or set(recovered) != {"SoTien", "SoThang", "ChiTiet"}:
        return fault
    months = recovered["ChiTiet"]
    if not (isinstance(months, list) and months and all(
            isinstance(m, dict) and set(m) == {"Thang", "SoTien"} and isinstance(m["Thang"], str)
            and _MONTH.fullmatch(m["Thang"]) and isinstance(m["SoTien"], int) and m["SoTien"] > 0 for m in months)):
        return fault
    if recovered["SoThang"] != len(months) or recovered["SoTien"] != sum(m["SoTien"] for m in months):
        return fault
    return []


def warnings_for(body: dict[str, Any]) -> list[str]:
    """What a valid callback implies but the contract does not state outright, when it does not hold."""
    found: list[str] = []
    status = body.get("TrangThaiBo")
    if isinstance(status, str) and ministry_status(status) is None:
        found.append(f"TrangThaiBo {status} is not in the ministry status table")
    elif isinstance(status, str) and body.get("SuKien") != SYNC_FAILED:
        expected = national_status(status)
        if expected != body.get("TrangThaiHoSo"):
            found.append(f"TrangThaiHoSo {body.get('TrangThaiHoSo')} but the table maps {status} to {expected}")
    if body.get("SuKien") == DELIVERED and status != "CHO_TIEP_NHAN":
        found.append(f"DA_CHUYEN_BO with TrangThaiBo {status}, not CHO_TIEP_NHAN")
    return found


def _national_status(value: Any, *, failed: bool, known_event: bool) -> list[FieldError]:
    if value is None:
        if known_event and not failed:
            return [FieldError("TrangThaiHoSo", "required", "Sự kiện này phải có trạng thái hồ sơ quốc gia.")]
        return []
    if isinstance(value, bool) or not isinstance(value, int):
        return [FieldError("TrangThaiHoSo", "invalid_type", "TrangThaiHoSo phải là số nguyên hoặc null.")]
    if failed:
        return [FieldError("TrangThaiHoSo", "must_be_null", "Sự kiện này có TrangThaiHoSo là null.")]
    if national_status_name(value) is None:
        return [FieldError("TrangThaiHoSo", "unknown_status", "Không phải mã trạng thái hồ sơ quốc gia.")]
    return []


def _is_uuid(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        # Canonical 8-4-4-4-12 only: the braces and urn: forms uuid.UUID accepts are not "a uuid" on the wire.
        return str(uuid.UUID(value)) == value.lower()
    except ValueError:
        return False


def _is_text(value: Any, max_len: int) -> bool:
    return isinstance(value, str) and bool(value.strip()) and len(value) <= max_len and value.isprintable()
