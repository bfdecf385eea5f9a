"""The officer's side: what an action on a dossier must carry (§6 extra fields), with demo defaults."""

from __future__ import annotations

import re
from datetime import date
from itertools import count
from typing import Any

from adapters.ministry.sandbox import codes
from adapters.ministry.sandbox.clock import Clock
from adapters.ministry.sandbox.errors import FieldError, invalid

ACTION_FIELDS = ("trangThai", "lyDo", "canBo", "quyetDinh", "thangChiTraDauTien")
# §9: an approval may also say which monthly list first carries the person; the change then carries it and the
# beneficiary's id (``doiTuongId``) next to ``quyetDinh``. Absent: no beneficiary record, no extra fields.
FIRST_LIST = "thangChiTraDauTien"
DECISION_FIELDS = ("so", "ngay", "mucHuongThang", "thangBatDauHuong")

# Decree 76/2024: base level 500,000 VND/month from 1 July 2024 (coefficient 1.0 in the demo).
DEMO_MONTHLY_AMOUNT = 500_000

_MONTH = re.compile(r"\d{4}-(0[1-9]|1[0-2])")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_REASON_STATUSES = frozenset({codes.TU_CHOI_TIEP_NHAN, codes.YEU_CAU_BO_SUNG, codes.KHONG_PHE_DUYET})
_DEFAULT_REASONS = {
    codes.TU_CHOI_TIEP_NHAN: "Hồ sơ không thuộc thẩm quyền tiếp nhận (sandbox)",
    codes.YEU_CAU_BO_SUNG: "Đề nghị bổ sung giấy tờ còn thiếu (sandbox)",
    codes.KHONG_PHE_DUYET: "Không đủ điều kiện hưởng (sandbox)",
}
_decision_numbers = count(1)


def action_extras(action: dict[str, Any], clock: Clock) -> tuple[str, dict[str, Any]]:
    """``(trangThai, extra fields)`` of an officer action; 400 for an unknown status or misplaced field.

    The §6 extra field of the target status is filled with a plausible default when missing
    (the demo's buttons need not ask for everything); a field that does not belong to the target
    status is refused. ``thangChiTraDauTien`` (``YYYY-MM``, not before the decision's ``thangBatDauHuong``) only
    goes with DA_PHE_DUYET; it is passed on in the extras, and the caller makes the beneficiary record.
    """
    errors = [FieldError(k, "Trường không có trong đặc tả") for k in action if k not in ACTION_FIELDS]
    status = action.get("trangThai")
    if not isinstance(status, str) or status not in codes.STATUSES or status == codes.CHO_TIEP_NHAN:
        errors.append(FieldError("trangThai", "Trạng thái đích không hợp lệ"))
        raise invalid(errors)
    wanted = codes.STATUS_EXTRA_FIELD.get(status)
    for key in ("lyDo", "canBo", "quyetDinh"):
        if action.get(key) is not None and key != wanted:
            errors.append(FieldError(key, f"Trạng thái {status} không mang trường {key}"))
    extras: dict[str, Any] = {}
    if wanted == "canBo":
        extras["canBo"] = _text(action.get("canBo"), "canBo", errors) or codes.DEFAULT_OFFICER
    elif status in _REASON_STATUSES:
        extras["lyDo"] = _text(action.get("lyDo"), "lyDo", errors) or _DEFAULT_REASONS[status]
    elif wanted == "quyetDinh":
        extras["quyetDinh"] = _decision(action.get("quyetDinh"), clock, errors)
    first_list = action.get(FIRST_LIST)
    if first_list is not None and status != codes.DA_PHE_DUYET:
        errors.append(FieldError(FIRST_LIST, f"Chỉ khi phê duyệt ({codes.DA_PHE_DUYET})"))
    elif first_list is not None:
        start = extras["quyetDinh"]["thangBatDauHuong"]
        if not isinstance(first_list, str) or not _MONTH.fullmatch(first_list):
            errors.append(FieldError(FIRST_LIST, "Tháng chi trả đầu tiên có dạng YYYY-MM"))
        elif isinstance(start, str) and first_list < start:
            errors.append(FieldError(FIRST_LIST, f"Không được trước tháng bắt đầu hưởng {start}"))
        else:
            extras[FIRST_LIST] = first_list
    if errors:
        raise invalid(errors)
    return status, extras


def _text(value: Any, path: str, errors: list[FieldError]) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > 500:
        errors.append(FieldError(path, "Phải là chuỗi ký tự, tối đa 500 ký tự"))
        return None
    return value.strip() or None


def _decision(value: Any, clock: Clock, errors: list[FieldError]) -> dict[str, Any]:
    today = clock.now().date()
    default = {
        "so": f"{next(_decision_numbers)}/QĐ-UBND",
        "ngay": today.isoformat(),
        "mucHuongThang": DEMO_MONTHLY_AMOUNT,
        "thangBatDauHuong": f"{today.year:04d}-{today.month:02d}",
    }
    if value is None:
        return default
    if not isinstance(value, dict):
        errors.append(FieldError("quyetDinh", "Phải là đối tượng JSON"))
        return default
    errors.extend(FieldError(f"quyetDinh.{k}", "Trường không có trong đặc tả") for k in value
                  if k not in DECISION_FIELDS)
    out = {**default, **{k: v for k, v in value.items() if k in DECISION_FIELDS and v is not None}}
    if not isinstance(out["so"], str) or not out["so"].strip():
        errors.append(FieldError("quyetDinh.so", "Số quyết định phải là chuỗi ký tự"))
    if not _is_date(out["ngay"]):
        errors.append(FieldError("quyetDinh.ngay", "Ngày phải có dạng YYYY-MM-DD"))
    amount = out["mucHuongThang"]
    if isinstance(amount, bool) or not isinstance(amount, int) or amount < 0:
        errors.append(FieldError("quyetDinh.mucHuongThang", "Mức hưởng là số nguyên VND không âm"))
    month = out["thangBatDauHuong"]
    if not isinstance(month, str) or not _MONTH.fullmatch(month):
        errors.append(FieldError("quyetDinh.thangBatDauHuong", "Tháng bắt đầu hưởng có dạng YYYY-MM"))
    return out


def _is_date(value: Any) -> bool:
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True
