"""The tolerant reader and the field checks shared by the province's inbound documents.

:mod:`mappings.province` (the dossier, province-api.md §2) and :mod:`mappings.death_notice` (the death
notice, §5) read the same kinds of members the same way: this module holds that one way. Each
document module keeps its own shape table (``SHAPE``, ``NOTICE_SHAPE``) and entry point; everything
here is driven by them or takes the field path it checks, so every fault carries the path in the
province's spelling, a stable English code and a Vietnamese message (``data/errors.yaml``).

The reading rules (our decisions, the contract is silent) are described in :mod:`mappings.province`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from enum import Enum
from typing import Any

from mappings.admin_units import place_processing_unit, place_residence, translate_unit
from mappings.dates import parse_birth_date, parse_timestamp
from mappings.errors import FieldError
from mappings.model import Address, AttachmentFacts, CodeTranslation, Document, PartialDate
from mappings.personal_id import check_personal_id
from mappings.tables import (
    BeneficiaryGroup,
    Procedure,
    beneficiary_group,
    beneficiary_groups,
    component,
    error_message,
    ethnic_group,
    gender_code,
)

# Circular 01/2018/TT-VPCP shape, loosely: <agency code>-<yyMMdd>-<sequence>; no logic on the parts.
# [0-9] rather than \d throughout: \d also matches the digits of other scripts.
DOSSIER_CODE = re.compile(r"[0-9A-Za-z.]+-[0-9]{6}-[0-9]{4,}")
_PHONE = re.compile(r"(?:0|\+84)(?:[1-9][0-9]{8}|2[0-9]{9})")  # mobile 0+9 digits; landline 02x+8 digits
_PHONE_SEPARATORS = re.compile(r"[\s.\-()]")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_SPACES = re.compile(r"\s+")

# Maximum lengths (characters) of free-text and code fields: ours, the contract gives none.
MAX = {
    "code": 64,
    "procedure_code": 20,
    "procedure_name": 500,
    "name": 100,
    "personal_id": 20,
    "phone": 20,
    "email": 254,
    "short_code": 10,
    "address": 500,
    "relation": 50,
    "file_id": 100,
    "file_name": 255,
    "date": 20,
    "authority": 255,
}
_SHOWN_VALUE = 80  # longest submitted value quoted back in a message


def show(value: object) -> str:
    """``value`` as quoted back in a message: cut to a readable length."""
    text = str(value)
    return text if len(text) <= _SHOWN_VALUE else text[: _SHOWN_VALUE - 1] + "…"


class Errors:
    """Collects faults in the order the fields are checked."""

    def __init__(self) -> None:
        self.items: list[FieldError] = []

    def add(
        self,
        field: str,
        code: str,
        *,
        template: str | None = None,
        choices: tuple[tuple[str, str], ...] = (),
        **params: Any,
    ) -> None:
        """Record a fault; ``template`` picks another message (errors.yaml key) for the same code."""
        message = error_message(template or code, field=field, **params)
        self.items.append(FieldError(field, code, message, choices))


def join(path: str, key: str) -> str:
    """The field path of member ``key`` of the object at ``path`` (``""``: the document itself)."""
    return f"{path}.{key}" if path else key


# --- the tolerant reader: one spelling before validation ----------------------------------------


class Kind(Enum):
    """How a leaf member of an inbound document is read (see ``mappings.province.SHAPE``)."""

    TEXT = "text"  # a string; trimmed, NFC
    CODE = "code"  # a string, or a JSON integer read as its decimal spelling (MaTinh 38 = "38")
    INTEGER = "integer"  # a JSON integer, or a string of ASCII digits ("2" = 2, " 2 " = 2)


# The members of a permanent-residence address and of one TaiLieuNop item: the same in every document.
ADDRESS_SHAPE: dict[str, Any] = {"MaTinh": Kind.CODE, "MaXa": Kind.CODE, "DiaChiChiTiet": Kind.TEXT}
DOCUMENTS_SHAPE: list[dict[str, Any]] = [
    {"TepDinhKemId": Kind.CODE, "TenTepDinhKem": Kind.TEXT, "MaThanhPhanHoSo": Kind.TEXT, "MaBam": Kind.TEXT},
]

# Longest digit string read as a number: Python's own limit for str -> int (json.loads refuses a longer
# JSON integer too); a longer one is no code of ours anyway and stays a string (invalid_type).
_MAX_DIGITS = 4300


def fields_of(shape: Mapping[str, Any], prefix: str = "") -> dict[str, Kind]:
    """Every leaf of ``shape`` by its field path (``TaiLieuNop[].TepDinhKemId`` for list items)."""
    found: dict[str, Kind] = {}
    for key, sub in shape.items():
        path = join(prefix, key)
        if isinstance(sub, Kind):
            found[path] = sub
        elif isinstance(sub, list):
            found.update(fields_of(sub[0], f"{path}[]"))
        else:
            found.update(fields_of(sub, path))
    return found


def leaf(value: Any, kind: Kind) -> Any:
    """One member in its one spelling; a value of a type the kind does not take is returned as is."""
    if isinstance(value, bool):  # a bool is an int to Python, but never a number here: True is not 1
        return value
    if kind is Kind.CODE and isinstance(value, int):
        value = str(value)
    if not isinstance(value, str):
        return value
    text = unicodedata.normalize("NFC", value).strip()
    if not text:
        return None  # blank counts as absent
    if kind is Kind.INTEGER and text.isascii() and text.isdigit():
        digits = text.lstrip("0") or "0"
        if len(digits) <= _MAX_DIGITS:
            return int(digits)
    return text


def normalise(value: Any, shape: Any) -> Any:
    """``value`` read by ``shape`` (a :class:`Kind`, an object's table, or a one-item list of one)."""
    if isinstance(shape, Kind):
        return leaf(value, shape)
    if isinstance(shape, list):
        if not isinstance(value, list):
            return value
        return [normalise(item, shape[0]) for item in value]
    if not isinstance(value, Mapping):
        return value
    return {key: normalise(value[key], sub) for key, sub in shape.items() if key in value}


# --- members, each checked at its field path ------------------------------------------------------


def obj(errs: Errors, parent: Mapping[str, Any], key: str, path: str) -> Mapping[str, Any] | None:
    """A required JSON object member."""
    field = join(path, key)
    value = parent.get(key)
    if value is None:
        errs.add(field, "required")
        return None
    if not isinstance(value, Mapping):
        errs.add(field, "invalid_type", expected="đối tượng JSON")
        return None
    return value


def text(
    errs: Errors,
    parent: Mapping[str, Any],
    key: str,
    path: str,
    *,
    max_len: int,
    required: bool = True,
    name: bool = False,
) -> str | None:
    """A string member (already normalised); None when absent or invalid (fault recorded)."""
    field = join(path, key)
    value = parent.get(key)
    if value is not None and not isinstance(value, str):
        errs.add(field, "invalid_type", expected="chuỗi ký tự")
        return None
    found = value or ""
    if name:
        found = _SPACES.sub(" ", found)
    if not found:
        if required:
            errs.add(field, "required")
        return None
    if len(found) > max_len:
        errs.add(field, "too_long", max=max_len)
        return None
    return found


def integer(errs: Errors, parent: Mapping[str, Any], key: str, path: str) -> int | None:
    """A required integer member (already normalised: a digit string is an int by now)."""
    field = join(path, key)
    value = parent.get(key)
    if value is None:
        errs.add(field, "required")
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    errs.add(field, "invalid_type", expected="số nguyên")
    return None


def timestamp(errs: Errors, parent: Mapping[str, Any], key: str, *, required: bool) -> datetime | None:
    """A top-level ``yyyyMMddHHmmss`` member (Vietnam time)."""
    found = text(errs, parent, key, "", max_len=MAX["date"], required=required)
    if found is None:
        return None
    try:
        return parse_timestamp(found)
    except ValueError as exc:
        errs.add(key, str(exc), value=show(found))
        return None


def dossier_code(errs: Errors, parent: Mapping[str, Any], key: str) -> str | None:
    """A top-level dossier code (``MaHoSo``, ``MaHoSoLienThong``): Circular 01/2018's shape."""
    code = text(errs, parent, key, "", max_len=MAX["code"])
    if code is not None and not DOSSIER_CODE.fullmatch(code):
        errs.add(key, "invalid_dossier_code", value=show(code))
    return code


def contact_id(errs: Errors, parent: Mapping[str, Any], path: str) -> str | None:
    """An optional ``SoDinhDanh`` of a person who files or receives: format and province only.

    No birth date or gender is declared for that person, so nothing else can be compared (our reading).
    """
    pid = text(errs, parent, "SoDinhDanh", path, max_len=MAX["personal_id"], required=False)
    if pid is not None:
        for code in check_personal_id(pid, None, None):
            errs.add(f"{path}.SoDinhDanh", code, value=show(pid[:3]))
    return pid


def phone(errs: Errors, parent: Mapping[str, Any], path: str) -> str | None:
    """An optional ``SoDienThoai``, separators dropped."""
    found = text(errs, parent, "SoDienThoai", path, max_len=MAX["phone"], required=False)
    if found is not None:
        found = _PHONE_SEPARATORS.sub("", found)
        if not _PHONE.fullmatch(found):
            errs.add(f"{path}.SoDienThoai", "invalid_phone", value=show(found))
    return found


# --- the person the assistance is about -----------------------------------------------------------


@dataclass(frozen=True)
class Person:
    """What :func:`person` read of a declared person: each member None when absent or at fault."""

    full_name: str | None
    birth_date: PartialDate | None
    gender: int | None
    personal_id: str | None
    ethnic_code: str | None
    residence: Address | None
    translations: tuple[CodeTranslation, ...]

    def values(self) -> dict[str, Any]:
        """The members a :class:`~mappings.model.Beneficiary` or :class:`~mappings.model.Deceased` takes from
        the person, by name; only for a person read without fault (AssertionError otherwise)."""
        found = {"full_name": self.full_name, "birth_date": self.birth_date, "gender": self.gender,
                 "personal_id": self.personal_id, "ethnic_code": self.ethnic_code, "residence": self.residence}
        assert all(value is not None for value in found.values()), "a person read with faults"
        return found


def person(
    errs: Errors, parent: Mapping[str, Any], path: str, today: date, received_on: date | None, unit: str | None
) -> Person:
    """``HoTen``, ``NgaySinh``, ``GioiTinh``, ``SoDinhDanh`` (checked against both), ``MaDanToc`` and
    ``NoiThuongTru`` (placed by ``received_on``) of the object at ``path``, in that order."""
    full_name = text(errs, parent, "HoTen", path, max_len=MAX["name"], name=True)

    birth: PartialDate | None = None
    birth_text = text(errs, parent, "NgaySinh", path, max_len=MAX["date"])
    if birth_text is not None:
        try:
            birth = parse_birth_date(birth_text, today)
        except ValueError as exc:
            errs.add(f"{path}.NgaySinh", str(exc), value=show(birth_text))

    gender = integer(errs, parent, "GioiTinh", path)
    if gender is not None and gender_code(gender) is None:
        errs.add(f"{path}.GioiTinh", "unknown_gender", value=gender)
        gender = None

    pid = text(errs, parent, "SoDinhDanh", path, max_len=MAX["personal_id"])
    if pid is not None:
        year = str(birth.year) if birth else ""
        for code in check_personal_id(pid, birth, gender):
            errs.add(f"{path}.SoDinhDanh", code, value=show(pid[:3]), year=year)

    ethnic = text(errs, parent, "MaDanToc", path, max_len=MAX["short_code"])
    if ethnic is not None:
        if ethnic.isascii() and ethnic.isdigit() and len(ethnic) == 1:
            ethnic = ethnic.zfill(2)
        if ethnic_group(ethnic) is None:
            errs.add(f"{path}.MaDanToc", "unknown_ethnic_group", value=show(ethnic))
            ethnic = None

    residence, translations = address(errs, parent, path, received_on, unit)
    return Person(full_name, birth, gender, pid, ethnic, residence, translations)


def group(errs: Errors, parent: Mapping[str, Any], path: str, *, required: bool) -> BeneficiaryGroup | None:
    """``NhomDoiTuong``: a beneficiary group of the table."""
    code = text(errs, parent, "NhomDoiTuong", path, max_len=MAX["code"], required=required)
    if code is None:
        return None
    found = beneficiary_group(code)
    if found is None:
        errs.add(f"{path}.NhomDoiTuong", "unknown_beneficiary_group", value=show(code))
    return found


def address(
    errs: Errors, parent: Mapping[str, Any], base: str, received_on: date | None, unit: str | None
) -> tuple[Address | None, tuple[CodeTranslation, ...]]:
    """``<base>.NoiThuongTru``, its codes placed in the list in force by the document's date."""
    path = f"{base}.NoiThuongTru"
    found = obj(errs, parent, "NoiThuongTru", base)
    if found is None:
        return None, ()
    before = len(errs.items)
    prov = text(errs, found, "MaTinh", path, max_len=MAX["short_code"])
    comm = text(errs, found, "MaXa", path, max_len=MAX["short_code"])
    detail = text(errs, found, "DiaChiChiTiet", path, max_len=MAX["address"], required=False)
    if prov is None and comm is None:
        return None, ()
    fields = {"province": f"{path}.MaTinh", "commune": f"{path}.MaXa"}
    sent = {"province": prov, "commune": comm}
    translations: tuple[CodeTranslation, ...] = ()
    if received_on is None:
        # No valid NgayTiepNhan to say which list the codes are from (that fault is reported):
        # check them against both lists, so that a code in neither is reported too.
        unit_read = translate_unit(prov or "", comm or "")
        for error in unit_read.errors:
            if sent[error.field] is not None:
                template = f"{error.code}_undated" if error.code == "commune_split_ambiguous" else None
                errs.add(fields[error.field], error.code, template=template, value=show(sent[error.field]),
                         province=unit_read.province_code or prov)
        province_code, commune_code = unit_read.province_code, unit_read.commune_code
        submitted = (unit_read.submitted_province_code, unit_read.submitted_commune_code)
    else:
        placed = place_residence(prov or "", comm or "", received_on=received_on, processing_unit=unit)
        for fault in placed.faults:
            if sent[fault.field] is not None:
                errs.add(fields[fault.field], fault.code, template=fault.template, choices=fault.choices,
                         **{**fault.params, "value": show(fault.params.get("value", sent[fault.field]))})
        province_code, commune_code = placed.province_code, placed.commune_code
        submitted = (placed.submitted_province_code, placed.submitted_commune_code)
        translations = placed.translations
    if len(errs.items) > before or prov is None or comm is None:
        return None, ()
    assert province_code is not None and commune_code is not None
    residence = Address(
        province_code=province_code,
        commune_code=commune_code,
        detail=detail,
        # The normalised spelling: 8 and "08" are the same code and must fingerprint alike.
        submitted_province_code=submitted[0],
        submitted_commune_code=submitted[1],
    )
    return residence, translations


def processing_unit(
    errs: Errors, unit: str, received_on: date, residence_commune: str | None
) -> tuple[str, CodeTranslation | None]:
    """The top-level ``MaDonViXuLy`` in force by the document's date, and the translation made if any."""
    placed = place_processing_unit(unit, received_on=received_on, residence_commune=residence_commune)
    if placed.fault is not None:
        errs.add("MaDonViXuLy", placed.fault.code, template=f"{placed.fault.code}_unit",
                 choices=placed.fault.choices, **placed.fault.params)
        return unit, None
    if placed.translation is not None:
        assert placed.code is not None
        return placed.code, placed.translation
    return unit, None


# --- the attached files -------------------------------------------------------------------------


def documents(
    errs: Errors, raw: Mapping[str, Any], attachments: Mapping[str, AttachmentFacts]
) -> tuple[list[Document], list[tuple[str, str]]]:
    """The valid documents, and (field path, component code) of every known component seen."""
    found: list[Document] = []
    components_seen: list[tuple[str, str]] = []
    declared: set[str] = set()
    items = raw.get("TaiLieuNop")
    if items is None:
        errs.add("TaiLieuNop", "required")
        items = []
    elif not isinstance(items, list):
        errs.add("TaiLieuNop", "invalid_type", expected="danh sách")
        items = []
    elif not items:
        errs.add("TaiLieuNop", "empty_list")

    for i, item in enumerate(items):
        path = f"TaiLieuNop[{i}]"
        if not isinstance(item, Mapping):
            errs.add(path, "invalid_type", expected="đối tượng JSON")
            continue
        before = len(errs.items)
        file_id = text(errs, item, "TepDinhKemId", path, max_len=MAX["file_id"])
        file_name = text(errs, item, "TenTepDinhKem", path, max_len=MAX["file_name"])
        comp = text(errs, item, "MaThanhPhanHoSo", path, max_len=MAX["code"])
        if comp is not None:
            if component(comp) is None:
                errs.add(f"{path}.MaThanhPhanHoSo", "unknown_component", value=show(comp))
            else:
                components_seen.append((f"{path}.MaThanhPhanHoSo", comp))
        digest = text(errs, item, "MaBam", path, max_len=MAX["code"], required=False)
        hash_ok = False
        if digest is not None:
            digest = digest.lower()
            hash_ok = bool(_SHA256.fullmatch(digest))
            if not hash_ok:
                errs.add(f"{path}.MaBam", "invalid_hash", value=show(digest))
        if file_id is not None:
            if file_id in declared:
                errs.add(f"{path}.TepDinhKemId", "duplicate_file_id", value=show(file_id))
            else:
                declared.add(file_id)
                facts = attachments.get(file_id)
                if facts is None:
                    errs.add(f"{path}.TepDinhKemId", "attachment_missing", file_id=show(file_id))
                elif hash_ok and facts.sha256.lower() != digest:
                    errs.add(f"{path}.MaBam", "hash_mismatch", file_id=show(file_id))
        if len(errs.items) == before and file_id and file_name and comp:
            found.append(Document(file_id, file_name, comp, digest))

    for file_id in attachments:
        if file_id not in declared:
            # The part's name is the only place the file appears; a blank one is named by the list it missed.
            named = bool(file_id.strip())
            errs.add(file_id if named else "TaiLieuNop", "attachment_undeclared",
                     file_id=show(file_id) if named else f'"{file_id}"')
    return found, components_seen


def component_rules(
    errs: Errors,
    proc: Procedure | None,
    group: BeneficiaryGroup | None,
    components_seen: list[tuple[str, str]],
) -> None:
    """Required components, the one declaration form, and components that require others."""
    present = {code for _, code in components_seen}
    reported: set[str] = set()

    def missing(code: str, name: str | None = None) -> None:
        if code in reported:
            return
        reported.add(code)
        found = component(code)
        errs.add("TaiLieuNop", "component_missing", component=code, name=name or (found.name if found else code))

    declarations: dict[str, str] = {}  # code -> field path of its first document, first-seen order
    for field, code in components_seen:
        found = component(code)
        if found is not None and found.is_declaration:
            declarations.setdefault(code, field)

    if proc is not None:
        for code in sorted(proc.required_components - present):
            missing(code)
        if proc.declaration_by_group:
            if len(declarations) > 1:
                errs.add("TaiLieuNop", "declaration_multiple", components=", ".join(declarations))
            elif not declarations:
                if group is not None:
                    missing(group.declaration_component)
                else:
                    forms = sorted({g.declaration_component for g in beneficiary_groups()})
                    missing("/".join(forms), name="Tờ khai đề nghị trợ giúp xã hội")
            elif group is not None:
                ((code, field),) = declarations.items()
                if code != group.declaration_component:
                    errs.add(
                        field,
                        "declaration_mismatch",
                        component=code,
                        group=group.code,
                        expected=group.declaration_component,
                    )
            if group is not None:
                # The group fixes the form, so the form's companions (TK_1D → GXN_KHUYET_TAT) are due
                # even when the form itself is missing or wrong: every fault is reported at once.
                expected_form = component(group.declaration_component)
                for needed in sorted(expected_form.requires if expected_form else ()):
                    if needed not in present:
                        missing(needed)
        else:
            allowed = sorted(c for c in proc.required_components if (f := component(c)) and f.is_declaration)
            for code, field in declarations.items():
                if code not in proc.required_components:
                    errs.add(
                        field,
                        "declaration_mismatch",
                        template="declaration_mismatch_procedure",
                        component=code,
                        procedure=proc.code,
                        expected="/".join(allowed),
                    )

    for _, code in components_seen:
        found = component(code)
        for needed in sorted(found.requires if found else ()):
            if needed not in present:
                missing(needed)

