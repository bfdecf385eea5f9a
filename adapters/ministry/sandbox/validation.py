"""Strict validation of the dossier bodies (contract §5), every fault listed in ``chiTiet``.

Strict because the contract says so where it is silent: an unknown field, a number where a string
is shown, a missing field or a ``null`` the contract does not show are all refused. Which fields
may be ``null`` (or absent) is configurable (``SandboxConfig.optional_fields``); the contract
itself shows only ``ghiChu`` as ``null``.

Field paths are written ``doiTuong.noiThuongTru.maXa`` and ``thanhPhanHoSo[0].tepTinIds[1]``.
The checks that need the stored state (files, duplicates) are the store's.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Mapping
from datetime import date, datetime
from functools import cache
from typing import Any

from vietnam_provinces import Province, Ward

from adapters.ministry.sandbox import codes
from adapters.ministry.sandbox.errors import FieldError, invalid

# Limits the contract does not state; generous, so only absurd values are refused.
MAX_NAME = 255
MAX_TEXT = 500
MAX_NOTE = 2000
MAX_CODE = 64
MAX_COMPONENTS = 50
MAX_FILES_PER_COMPONENT = 50

_DOSSIER_CODE = re.compile(r"[0-9A-Za-z.]+-\d{6}-\d+")  # DOMAIN.md: <agency>-<yyMMdd>-<sequence>
_PROCEDURE_CODE = re.compile(r"\d\.\d{6}")
_UNIT_CODE = re.compile(r"[0-9A-Za-z.\-]+")
_PERSONAL_ID = re.compile(r"\d{12}")
_PHONE = re.compile(r"\+?\d{8,15}")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
# ISO 8601 with a numeric offset, as the contract writes it (2024-01-15T08:30:00+07:00).
_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?[+-]\d{2}:\d{2}")
_PROVINCE = re.compile(r"\d{2}")
_COMMUNE = re.compile(r"\d{5}")

DOSSIER_FIELDS = (
    "maHoSoTinh",
    "maThuTuc",
    "ngayNop",
    "ngayHenTra",
    "kenhNop",
    "maDonViTiepNhan",
    "nguoiNop",
    "doiTuong",
    "thanhPhanHoSo",
    "ghiChu",
)
SUBMITTER_FIELDS = ("hoTen", "soDinhDanh", "soDienThoai", "quanHeVoiDoiTuong")
BENEFICIARY_FIELDS = ("hoTen", "ngaySinh", "gioiTinh", "soDinhDanh", "maDanToc", "noiThuongTru", "nhomDoiTuong")
ADDRESS_FIELDS = ("maTinh", "maXa", "diaChiChiTiet")
COMPONENT_FIELDS = ("maThanhPhan", "tenThanhPhan", "tepTinIds")
SUPPLEMENT_FIELDS = ("thanhPhanHoSo", "ghiChu")

REQUIRED = "Trường bắt buộc"
NOT_NULL = "Không được để trống"
UNKNOWN = "Trường không có trong đặc tả"


@cache
def provinces() -> frozenset[str]:
    """Two-digit codes of the provinces in force (post-1 July 2025 list)."""
    return frozenset(f"{int(p.code):02d}" for p in Province.iter_all())


@cache
def communes() -> dict[str, str]:
    """Five-digit commune codes in force -> the two-digit code of their province."""
    return {f"{int(w.code):05d}": f"{int(w.province_code):02d}" for w in Ward.iter_all()}


class _Checker:
    """Collects FieldErrors while walking a body."""

    def __init__(self, optional: Collection[str]) -> None:
        self.errors: list[FieldError] = []
        self.optional = frozenset(optional)

    def add(self, path: str, message: str) -> None:
        self.errors.append(FieldError(path, message))

    def fields(self, obj: Any, path: str, allowed: tuple[str, ...]) -> dict[str, Any] | None:
        """``obj`` if it is an object; reports unknown keys, and missing keys that are not optional."""
        if not isinstance(obj, dict):
            self.add(path or "$", "Phải là đối tượng JSON")
            return None
        for key in obj:
            if key not in allowed:
                self.add(_join(path, key), UNKNOWN)
        for key in allowed:
            if key not in obj and _join(path, key) not in self.optional:
                self.add(_join(path, key), REQUIRED)
        return obj

    def value(self, obj: Mapping[str, Any], key: str, path: str) -> Any:
        """The value at ``key``, or None when absent or null (reported unless optional)."""
        full = _join(path, key)
        value = obj.get(key)
        if value is None and key in obj and full not in self.optional:
            self.add(full, NOT_NULL)
        return value

    def text(
        self,
        obj: Mapping[str, Any],
        key: str,
        path: str,
        *,
        max_len: int,
        pattern: re.Pattern[str] | None = None,
        pattern_message: str = "Sai định dạng",
    ) -> str | None:
        """A non-blank string of at most ``max_len`` characters matching ``pattern``, or None."""
        full = _join(path, key)
        value = self.value(obj, key, path)
        if value is None:
            return None
        if not isinstance(value, str):
            self.add(full, "Phải là chuỗi ký tự")
            return None
        if not value.strip():
            self.add(full, NOT_NULL)
            return None
        if len(value) > max_len:
            self.add(full, f"Dài tối đa {max_len} ký tự")
            return None
        if pattern is not None and not pattern.fullmatch(value):
            self.add(full, pattern_message)
            return None
        return value

    def choice(self, obj: Mapping[str, Any], key: str, path: str, allowed: Collection[str], what: str) -> str | None:
        """A string that is one of ``allowed``, or None."""
        value = self.text(obj, key, path, max_len=MAX_CODE)
        if value is not None and value not in allowed:
            shown = ", ".join(sorted(allowed)) if len(allowed) <= 5 else f"danh mục {what}"
            self.add(_join(path, key), f"Giá trị {value!r} không có trong {shown}")
            return None
        return value

    def timestamp(self, obj: Mapping[str, Any], key: str, path: str) -> datetime | None:
        """An ISO 8601 time with a numeric offset, or None."""
        value = self.text(
            obj, key, path, max_len=40, pattern=_TIMESTAMP,
            pattern_message="Thời điểm phải theo ISO 8601 có múi giờ, ví dụ 2024-01-15T08:30:00+07:00",
        )
        if value is None:
            return None
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            self.add(_join(path, key), "Thời điểm không tồn tại")
            return None

    def day(self, obj: Mapping[str, Any], key: str, path: str) -> date | None:
        """A ``YYYY-MM-DD`` date, or None."""
        value = self.text(obj, key, path, max_len=10, pattern=_DATE,
                          pattern_message="Ngày phải có dạng YYYY-MM-DD")
        if value is None:
            return None
        try:
            return date.fromisoformat(value)
        except ValueError:
            self.add(_join(path, key), "Ngày không tồn tại")
            return None


Checker = _Checker
"""The field checker, for another peer's sandbox on the same platform (the population sandbox)."""


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def parse_json_object(raw: bytes, content_type: str | None) -> dict[str, Any]:
    """The JSON object a request carries; 400 for another media type, bad UTF-8, bad JSON or duplicates."""
    media = (content_type or "").split(";")[0].strip().lower()
    if media != "application/json":
        raise invalid([FieldError("Content-Type", "Nội dung phải là application/json")])
    charset = _charset(content_type or "")
    if charset not in (None, "utf-8", "utf8"):
        raise invalid([FieldError("Content-Type", "Bảng mã phải là UTF-8")])
    try:
        text = raw.decode("utf-8")
        value = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except UnicodeDecodeError:
        raise invalid([FieldError("$", "Nội dung không phải UTF-8")]) from None
    except _DuplicateKeyError as dup:
        raise invalid([FieldError(str(dup), "Trường bị khai hai lần")]) from None
    except ValueError:
        raise invalid([FieldError("$", "Nội dung không phải JSON hợp lệ")]) from None
    if not isinstance(value, dict):
        raise invalid([FieldError("$", "Phải là đối tượng JSON")])
    return value


def _charset(content_type: str) -> str | None:
    for param in content_type.split(";")[1:]:
        name, _, val = param.partition("=")
        if name.strip().lower() == "charset":
            return val.strip().strip('"').lower()
    return None


class _DuplicateKeyError(ValueError):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKeyError(key)
        out[key] = value
    return out


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def validate_dossier(body: dict[str, Any], *, optional: Collection[str]) -> dict[str, Any]:
    """``body`` if it is a valid ``cho-tiep-nhan`` (or ``tra-cuu``) body, else 400 listing every fault."""
    c = _Checker(optional)
    top = c.fields(body, "", DOSSIER_FIELDS)
    assert top is not None
    c.text(top, "maHoSoTinh", "", max_len=MAX_CODE, pattern=_DOSSIER_CODE,
           pattern_message="Mã hồ sơ phải có dạng <mã cơ quan>-<yyMMdd>-<số thứ tự>")
    c.text(top, "maThuTuc", "", max_len=MAX_CODE, pattern=_PROCEDURE_CODE,
           pattern_message="Mã thủ tục phải có dạng n.nnnnnn")
    submitted = c.timestamp(top, "ngayNop", "")
    due = c.timestamp(top, "ngayHenTra", "")
    if submitted is not None and due is not None and due < submitted:
        c.add("ngayHenTra", "Ngày hẹn trả không được trước ngày nộp")
    c.choice(top, "kenhNop", "", codes.SUBMISSION_CHANNELS, "kênh nộp")
    c.text(top, "maDonViTiepNhan", "", max_len=MAX_CODE, pattern=_UNIT_CODE,
           pattern_message="Mã đơn vị chỉ gồm chữ, số, dấu chấm và gạch ngang")
    _submitter(c, top)
    _beneficiary(c, top)
    _components(c, top, "thanhPhanHoSo")
    c.text(top, "ghiChu", "", max_len=MAX_NOTE)
    if c.errors:
        raise invalid(c.errors)
    return body


def validate_supplement(body: dict[str, Any], *, optional: Collection[str]) -> dict[str, Any]:
    """``body`` if it is a valid ``bo-sung`` body, else 400 listing every fault."""
    c = _Checker(optional)
    top = c.fields(body, "", SUPPLEMENT_FIELDS)
    assert top is not None
    _components(c, top, "thanhPhanHoSo")
    c.text(top, "ghiChu", "", max_len=MAX_NOTE)
    if c.errors:
        raise invalid(c.errors)
    return body


def _submitter(c: _Checker, top: Mapping[str, Any]) -> None:
    raw = c.value(top, "nguoiNop", "")
    if raw is None:
        return
    obj = c.fields(raw, "nguoiNop", SUBMITTER_FIELDS)
    if obj is None:
        return
    c.text(obj, "hoTen", "nguoiNop", max_len=MAX_NAME)
    c.text(obj, "soDinhDanh", "nguoiNop", max_len=12, pattern=_PERSONAL_ID,
           pattern_message="Số định danh gồm đúng 12 chữ số")
    c.text(obj, "soDienThoai", "nguoiNop", max_len=16, pattern=_PHONE,
           pattern_message="Số điện thoại gồm 8–15 chữ số, có thể bắt đầu bằng +")
    c.text(obj, "quanHeVoiDoiTuong", "nguoiNop", max_len=50)


def _beneficiary(c: _Checker, top: Mapping[str, Any]) -> None:
    raw = c.value(top, "doiTuong", "")
    if raw is None:
        return
    path = "doiTuong"
    obj = c.fields(raw, path, BENEFICIARY_FIELDS)
    if obj is None:
        return
    c.text(obj, "hoTen", path, max_len=MAX_NAME)
    born = c.day(obj, "ngaySinh", path)
    if born is not None and not date(1850, 1, 1) <= born <= date.today():
        c.add(f"{path}.ngaySinh", "Ngày sinh không hợp lý")
    c.choice(obj, "gioiTinh", path, codes.GENDERS, "giới tính")
    c.text(obj, "soDinhDanh", path, max_len=12, pattern=_PERSONAL_ID,
           pattern_message="Số định danh gồm đúng 12 chữ số")
    ethnic = c.text(obj, "maDanToc", path, max_len=2, pattern=re.compile(r"\d{2}"),
                    pattern_message="Mã dân tộc gồm hai chữ số 01–54")
    if ethnic is not None and ethnic not in codes.ETHNIC_CODES:
        c.add(f"{path}.maDanToc", "Mã dân tộc gồm hai chữ số 01–54")
    _address(c, obj, path)
    c.choice(obj, "nhomDoiTuong", path, codes.BENEFICIARY_GROUPS, "nhóm đối tượng")


def _address(c: _Checker, parent: Mapping[str, Any], base: str) -> None:
    raw = c.value(parent, "noiThuongTru", base)
    if raw is None:
        return
    path = f"{base}.noiThuongTru"
    obj = c.fields(raw, path, ADDRESS_FIELDS)
    if obj is None:
        return
    province = c.text(obj, "maTinh", path, max_len=2, pattern=_PROVINCE,
                      pattern_message="Mã tỉnh gồm hai chữ số (danh mục từ 01/7/2025)")
    if province is not None and province not in provinces():
        c.add(f"{path}.maTinh", f"Mã tỉnh {province} không có trong danh mục đơn vị hành chính hiện hành")
        province = None
    commune = c.text(obj, "maXa", path, max_len=5, pattern=_COMMUNE,
                     pattern_message="Mã xã gồm năm chữ số (danh mục từ 01/7/2025)")
    if commune is not None:
        owner = communes().get(commune)
        if owner is None:
            c.add(f"{path}.maXa", f"Mã xã {commune} không có trong danh mục đơn vị hành chính hiện hành")
        elif province is not None and owner != province:
            c.add(f"{path}.maXa", f"Xã {commune} không thuộc tỉnh {province}")
    c.text(obj, "diaChiChiTiet", path, max_len=MAX_TEXT)


def _components(c: _Checker, top: Mapping[str, Any], key: str) -> None:
    raw = c.value(top, key, "")
    if raw is None:
        return
    if not isinstance(raw, list):
        c.add(key, "Phải là danh sách")
        return
    if not raw:
        c.add(key, "Phải có ít nhất một thành phần hồ sơ")
        return
    if len(raw) > MAX_COMPONENTS:
        c.add(key, f"Tối đa {MAX_COMPONENTS} thành phần")
        return
    seen: set[str] = set()
    for i, item in enumerate(raw):
        path = f"{key}[{i}]"
        obj = c.fields(item, path, COMPONENT_FIELDS)
        if obj is None:
            continue
        code = c.choice(obj, "maThanhPhan", path, codes.COMPONENT_CODES, "thành phần hồ sơ")
        if code is not None:
            if code in seen:
                c.add(f"{path}.maThanhPhan", f"Thành phần {code} bị khai nhiều lần (gộp tệp vào một mục)")
            seen.add(code)
        c.text(obj, "tenThanhPhan", path, max_len=MAX_TEXT)
        _file_ids(c, obj, path)


def _file_ids(c: _Checker, obj: Mapping[str, Any], path: str) -> None:
    full = f"{path}.tepTinIds"
    ids = c.value(obj, "tepTinIds", path)
    if ids is None:
        return
    if not isinstance(ids, list):
        c.add(full, "Phải là danh sách")
        return
    if not ids:
        c.add(full, "Phải có ít nhất một tệp")
        return
    if len(ids) > MAX_FILES_PER_COMPONENT:
        c.add(full, f"Tối đa {MAX_FILES_PER_COMPONENT} tệp")
        return
    for j, file_id in enumerate(ids):
        if not isinstance(file_id, str) or not file_id.strip() or len(file_id) > MAX_CODE:
            c.add(f"{full}[{j}]", "Mã tệp phải là chuỗi ký tự không rỗng")
