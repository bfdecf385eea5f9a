"""Parse and validate a province dossier (province-api.md §2) into a :class:`~mappings.model.Dossier`.

:func:`parse_dossier` is the entry point. It reports every fault at once, each as a
:class:`~mappings.errors.FieldError` with the field path in the province's spelling, a stable
English code and a Vietnamese message (``data/errors.yaml``). Cross-field rules run whenever
their inputs are individually valid.

A tolerant reader (the national portal's export carries far more than we use): the document is
first brought to one spelling by :func:`normalise_dossier`, driven by the table :data:`SHAPE` of
every member the parser reads, and only then validated. Tolerances (our decisions, the contract is
silent): unknown members are ignored at every level; integer fields (:data:`INTEGER_FIELDS`:
``KenhThucHien``, ``GioiTinh``) may come as strings of ASCII digits, code fields
(:data:`NUMBER_CODE_FIELDS`: ``MaTinh``, ``MaXa``, ``MaDanToc``, ``MaDonViXuLy``,
``TepDinhKemId`` and the timestamps) as JSON integers; booleans are never numbers; every string
is trimmed of surrounding whitespace and NFC-normalised, and an empty or blank string counts as
absent. Names also have inner whitespace collapsed (at validation). A value of any other type is
left as it is, so the validator reports it at its own field path as before.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from datetime import date, datetime
from enum import Enum
from typing import Any

from mappings.admin_units import place_processing_unit, place_residence, translate_unit
from mappings.dates import VN_TZ, parse_birth_date, parse_timestamp, today_vn
from mappings.errors import FieldError
from mappings.model import (
    Address,
    Applicant,
    AttachmentFacts,
    Beneficiary,
    CodeTranslation,
    Document,
    Dossier,
    PartialDate,
)
from mappings.personal_id import check_personal_id
from mappings.tables import (
    BeneficiaryGroup,
    Procedure,
    beneficiary_group,
    beneficiary_groups,
    channel_code,
    component,
    ethnic_group,
    gender_code,
    procedure,
)

# Circular 01/2018/TT-VPCP shape, loosely: <agency code>-<yyMMdd>-<sequence>; no logic on the parts.
# [0-9] rather than \d throughout: \d also matches the digits of other scripts.
_DOSSIER_CODE = re.compile(r"[0-9A-Za-z.]+-[0-9]{6}-[0-9]{4,}")
_PHONE = re.compile(r"(?:0|\+84)(?:[1-9][0-9]{8}|2[0-9]{9})")  # mobile 0+9 digits; landline 02x+8 digits
_PHONE_SEPARATORS = re.compile(r"[\s.\-()]")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_SPACES = re.compile(r"\s+")

# Maximum lengths (characters) of free-text and code fields: ours, the contract gives none.
_MAX = {
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
}
_SHOWN_VALUE = 80  # longest submitted value quoted back in a message


def _show(value: object) -> str:
    text = str(value)
    return text if len(text) <= _SHOWN_VALUE else text[: _SHOWN_VALUE - 1] + "…"


class _Errors:
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
        from mappings.tables import error_message

        message = error_message(template or code, field=field, **params)
        self.items.append(FieldError(field, code, message, choices))


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


class Kind(Enum):
    """How a leaf member of the inbound document is read (see :data:`SHAPE`)."""

    TEXT = "text"  # a string; trimmed, NFC
    CODE = "code"  # a string, or a JSON integer read as its decimal spelling (MaTinh 38 = "38")
    INTEGER = "integer"  # a JSON integer, or a string of ASCII digits ("2" = 2, " 2 " = 2)


# Every member the parser reads, level by level, and how: the ONE list of the fields that take
# numbers. A nested dict is a JSON object with those members, a one-element list a list of such
# objects. Members not listed are ignored (dropped by normalise_dossier, never looked at).
# SoDinhDanh is TEXT on purpose: as a JSON number it would have lost its leading zero.
_ADDRESS: dict[str, Any] = {"MaTinh": Kind.CODE, "MaXa": Kind.CODE, "DiaChiChiTiet": Kind.TEXT}
SHAPE: dict[str, Any] = {
    "MaHoSo": Kind.TEXT,
    "MaTTHC": Kind.TEXT,
    "TenTTHC": Kind.TEXT,
    "KenhThucHien": Kind.INTEGER,
    "NgayTiepNhan": Kind.CODE,
    "NgayHenTra": Kind.CODE,
    "MaDonViXuLy": Kind.CODE,
    "ChuHoSo": {"HoTen": Kind.TEXT, "SoDinhDanh": Kind.TEXT, "SoDienThoai": Kind.TEXT, "Email": Kind.TEXT},
    "DuLieuToKhai": {
        "HoTen": Kind.TEXT,
        "NgaySinh": Kind.TEXT,
        "GioiTinh": Kind.INTEGER,
        "SoDinhDanh": Kind.TEXT,
        "MaDanToc": Kind.CODE,
        "NoiThuongTru": _ADDRESS,
        "NhomDoiTuong": Kind.TEXT,
        "QuanHeVoiChuHoSo": Kind.TEXT,
    },
    "TaiLieuNop": [
        {"TepDinhKemId": Kind.CODE, "TenTepDinhKem": Kind.TEXT, "MaThanhPhanHoSo": Kind.TEXT, "MaBam": Kind.TEXT},
    ],
}

# Longest digit string read as a number: Python's own limit for str -> int (json.loads refuses a longer
# JSON integer too); a longer one is no code of ours anyway and stays a string (invalid_type).
_MAX_DIGITS = 4300


def _fields(shape: Mapping[str, Any], prefix: str = "") -> dict[str, Kind]:
    """Every leaf of ``shape`` by its field path (``TaiLieuNop[].TepDinhKemId`` for list items)."""
    found: dict[str, Kind] = {}
    for key, sub in shape.items():
        path = _join(prefix, key)
        if isinstance(sub, Kind):
            found[path] = sub
        elif isinstance(sub, list):
            found.update(_fields(sub[0], f"{path}[]"))
        else:
            found.update(_fields(sub, path))
    return found


FIELDS: dict[str, Kind] = _fields(SHAPE)
INTEGER_FIELDS: tuple[str, ...] = tuple(path for path, kind in FIELDS.items() if kind is Kind.INTEGER)
NUMBER_CODE_FIELDS: tuple[str, ...] = tuple(path for path, kind in FIELDS.items() if kind is Kind.CODE)


def _leaf(value: Any, kind: Kind) -> Any:
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


def _normalise(value: Any, shape: Any) -> Any:
    if isinstance(shape, Kind):
        return _leaf(value, shape)
    if isinstance(shape, list):
        if not isinstance(value, list):
            return value
        return [_normalise(item, shape[0]) for item in value]
    if not isinstance(value, Mapping):
        return value
    return {key: _normalise(value[key], sub) for key, sub in shape.items() if key in value}


def normalise_dossier(raw: object) -> object:
    """``raw`` in its one spelling, before validation: a new document, ``raw`` is not changed.

    Members not in :data:`SHAPE` are dropped at every level; strings are trimmed and NFC-normalised,
    blank ones become None; :attr:`Kind.INTEGER` digit strings become ints and :attr:`Kind.CODE`
    integers strings. Anything else (a non-digit string for an integer, a bool, a float, an object
    where a string is due, a list item that is no object) is kept as it is for the validator to report.
    """
    return _normalise(raw, SHAPE)


_FILE_SOURCES = ("NoiDungBase64", "DuongDanTaiTepTin")  # read by the intake, not by the parser


def respell_file_references(raw: object) -> object:
    """``raw`` with each ``TaiLieuNop`` item's file id and file source in the parser's spelling.

    The intake matches received files to ``TepDinhKemId`` before validation, so it must read the
    id as :func:`normalise_dossier` will (``1`` = ``"1"``, ``" f1 "`` = ``"f1"``); ``NoiDungBase64``
    and ``DuongDanTaiTepTin`` are trimmed. Other members are kept as they are (the parser drops
    them); ``raw`` itself is not changed.
    """
    if not isinstance(raw, Mapping) or not isinstance(raw.get("TaiLieuNop"), list):
        return raw
    kind = FIELDS["TaiLieuNop[].TepDinhKemId"]
    items = []
    for item in raw["TaiLieuNop"]:
        if isinstance(item, Mapping):
            item = dict(item)
            if "TepDinhKemId" in item:
                item["TepDinhKemId"] = _leaf(item["TepDinhKemId"], kind)
            for key in _FILE_SOURCES:
                if isinstance(item.get(key), str):
                    item[key] = item[key].strip() or None
        items.append(item)
    return {**raw, "TaiLieuNop": items}


def _obj(errs: _Errors, parent: Mapping[str, Any], key: str, path: str) -> Mapping[str, Any] | None:
    """A required JSON object member."""
    field = _join(path, key)
    value = parent.get(key)
    if value is None:
        errs.add(field, "required")
        return None
    if not isinstance(value, Mapping):
        errs.add(field, "invalid_type", expected="đối tượng JSON")
        return None
    return value


def _text(
    errs: _Errors,
    parent: Mapping[str, Any],
    key: str,
    path: str,
    *,
    max_len: int,
    required: bool = True,
    name: bool = False,
) -> str | None:
    """A string member (already normalised); None when absent or invalid (fault recorded)."""
    field = _join(path, key)
    value = parent.get(key)
    if value is not None and not isinstance(value, str):
        errs.add(field, "invalid_type", expected="chuỗi ký tự")
        return None
    text = value or ""
    if name:
        text = _SPACES.sub(" ", text)
    if not text:
        if required:
            errs.add(field, "required")
        return None
    if len(text) > max_len:
        errs.add(field, "too_long", max=max_len)
        return None
    return text


def _integer(errs: _Errors, parent: Mapping[str, Any], key: str, path: str) -> int | None:
    """A required integer member (already normalised: a digit string is an int by now)."""
    field = _join(path, key)
    value = parent.get(key)
    if value is None:
        errs.add(field, "required")
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    errs.add(field, "invalid_type", expected="số nguyên")
    return None


def _timestamp(errs: _Errors, parent: Mapping[str, Any], key: str, *, required: bool) -> datetime | None:
    text = _text(errs, parent, key, "", max_len=_MAX["date"], required=required)
    if text is None:
        return None
    try:
        return parse_timestamp(text)
    except ValueError as exc:
        errs.add(key, str(exc), value=_show(text))
        return None


def _applicant(errs: _Errors, raw: Mapping[str, Any]) -> Applicant | None:
    path = "ChuHoSo"
    obj = _obj(errs, raw, path, "")
    if obj is None:
        return None
    before = len(errs.items)
    full_name = _text(errs, obj, "HoTen", path, max_len=_MAX["name"], name=True)
    pid = _text(errs, obj, "SoDinhDanh", path, max_len=_MAX["personal_id"], required=False)
    if pid is not None:
        for code in check_personal_id(pid, None, None):
            errs.add(f"{path}.SoDinhDanh", code, value=_show(pid[:3]))
    phone = _text(errs, obj, "SoDienThoai", path, max_len=_MAX["phone"], required=False)
    if phone is not None:
        phone = _PHONE_SEPARATORS.sub("", phone)
        if not _PHONE.fullmatch(phone):
            errs.add(f"{path}.SoDienThoai", "invalid_phone", value=_show(phone))
    email = _text(errs, obj, "Email", path, max_len=_MAX["email"], required=False)
    if email is not None and not _EMAIL.fullmatch(email):
        errs.add(f"{path}.Email", "invalid_email", value=_show(email))
    if len(errs.items) > before or full_name is None:
        return None
    return Applicant(full_name=full_name, personal_id=pid, phone=phone, email=email)


def _address(
    errs: _Errors, parent: Mapping[str, Any], base: str, received_on: date | None, unit: str | None
) -> tuple[Address | None, tuple[CodeTranslation, ...]]:
    path = f"{base}.NoiThuongTru"
    obj = _obj(errs, parent, "NoiThuongTru", base)
    if obj is None:
        return None, ()
    before = len(errs.items)
    prov = _text(errs, obj, "MaTinh", path, max_len=_MAX["short_code"])
    comm = _text(errs, obj, "MaXa", path, max_len=_MAX["short_code"])
    detail = _text(errs, obj, "DiaChiChiTiet", path, max_len=_MAX["address"], required=False)
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
                errs.add(fields[error.field], error.code, template=template, value=_show(sent[error.field]),
                         province=unit_read.province_code or prov)
        province_code, commune_code = unit_read.province_code, unit_read.commune_code
        submitted = (unit_read.submitted_province_code, unit_read.submitted_commune_code)
    else:
        placed = place_residence(prov or "", comm or "", received_on=received_on, processing_unit=unit)
        for fault in placed.faults:
            if sent[fault.field] is not None:
                errs.add(fields[fault.field], fault.code, template=fault.template, choices=fault.choices,
                         **{**fault.params, "value": _show(fault.params.get("value", sent[fault.field]))})
        province_code, commune_code = placed.province_code, placed.commune_code
        submitted = (placed.submitted_province_code, placed.submitted_commune_code)
        translations = placed.translations
    if len(errs.items) > before or prov is None or comm is None:
        return None, ()
    assert province_code is not None and commune_code is not None
    address = Address(
        province_code=province_code,
        commune_code=commune_code,
        detail=detail,
        # The normalised spelling: 8 and "08" are the same code and must fingerprint alike.
        submitted_province_code=submitted[0],
        submitted_commune_code=submitted[1],
    )
    return address, translations


def _beneficiary(
    errs: _Errors, raw: Mapping[str, Any], today: date, received_on: date | None, unit: str | None
) -> tuple[Beneficiary | None, BeneficiaryGroup | None, tuple[CodeTranslation, ...]]:
    path = "DuLieuToKhai"
    obj = _obj(errs, raw, path, "")
    if obj is None:
        return None, None, ()
    before = len(errs.items)
    full_name = _text(errs, obj, "HoTen", path, max_len=_MAX["name"], name=True)

    birth: PartialDate | None = None
    birth_text = _text(errs, obj, "NgaySinh", path, max_len=_MAX["date"])
    if birth_text is not None:
        try:
            birth = parse_birth_date(birth_text, today)
        except ValueError as exc:
            errs.add(f"{path}.NgaySinh", str(exc), value=_show(birth_text))

    gender = _integer(errs, obj, "GioiTinh", path)
    if gender is not None and gender_code(gender) is None:
        errs.add(f"{path}.GioiTinh", "unknown_gender", value=gender)
        gender = None

    pid = _text(errs, obj, "SoDinhDanh", path, max_len=_MAX["personal_id"])
    if pid is not None:
        year = str(birth.year) if birth else ""
        for code in check_personal_id(pid, birth, gender):
            errs.add(f"{path}.SoDinhDanh", code, value=_show(pid[:3]), year=year)

    ethnic = _text(errs, obj, "MaDanToc", path, max_len=_MAX["short_code"])
    if ethnic is not None:
        if ethnic.isascii() and ethnic.isdigit() and len(ethnic) == 1:
            ethnic = ethnic.zfill(2)
        if ethnic_group(ethnic) is None:
            errs.add(f"{path}.MaDanToc", "unknown_ethnic_group", value=_show(ethnic))

    residence, translations = _address(errs, obj, path, received_on, unit)

    group: BeneficiaryGroup | None = None
    group_code = _text(errs, obj, "NhomDoiTuong", path, max_len=_MAX["code"])
    if group_code is not None:
        group = beneficiary_group(group_code)
        if group is None:
            errs.add(f"{path}.NhomDoiTuong", "unknown_beneficiary_group", value=_show(group_code))

    relation = _text(errs, obj, "QuanHeVoiChuHoSo", path, max_len=_MAX["relation"], required=False)

    if len(errs.items) > before:
        return None, group, ()
    assert full_name and birth and gender and pid and ethnic and residence and group
    beneficiary = Beneficiary(
        full_name=full_name,
        birth_date=birth,
        gender=gender,
        personal_id=pid,
        ethnic_code=ethnic,
        residence=residence,
        group_code=group.code,
        relation_to_applicant=relation,
    )
    return beneficiary, group, translations


def _documents(
    errs: _Errors, raw: Mapping[str, Any], attachments: Mapping[str, AttachmentFacts]
) -> tuple[list[Document], list[tuple[str, str]]]:
    """The valid documents, and (field path, component code) of every known component seen."""
    documents: list[Document] = []
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
        file_id = _text(errs, item, "TepDinhKemId", path, max_len=_MAX["file_id"])
        file_name = _text(errs, item, "TenTepDinhKem", path, max_len=_MAX["file_name"])
        comp = _text(errs, item, "MaThanhPhanHoSo", path, max_len=_MAX["code"])
        if comp is not None:
            if component(comp) is None:
                errs.add(f"{path}.MaThanhPhanHoSo", "unknown_component", value=_show(comp))
            else:
                components_seen.append((f"{path}.MaThanhPhanHoSo", comp))
        digest = _text(errs, item, "MaBam", path, max_len=_MAX["code"], required=False)
        hash_ok = False
        if digest is not None:
            digest = digest.lower()
            hash_ok = bool(_SHA256.fullmatch(digest))
            if not hash_ok:
                errs.add(f"{path}.MaBam", "invalid_hash", value=_show(digest))
        if file_id is not None:
            if file_id in declared:
                errs.add(f"{path}.TepDinhKemId", "duplicate_file_id", value=_show(file_id))
            else:
                declared.add(file_id)
                facts = attachments.get(file_id)
                if facts is None:
                    errs.add(f"{path}.TepDinhKemId", "attachment_missing", file_id=_show(file_id))
                elif hash_ok and facts.sha256.lower() != digest:
                    errs.add(f"{path}.MaBam", "hash_mismatch", file_id=_show(file_id))
        if len(errs.items) == before and file_id and file_name and comp:
            documents.append(Document(file_id, file_name, comp, digest))

    for file_id in attachments:
        if file_id not in declared:
            errs.add(file_id, "attachment_undeclared", file_id=_show(file_id))
    return documents, components_seen


def _component_rules(
    errs: _Errors,
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


def parse_dossier(
    raw: object, attachments: Mapping[str, AttachmentFacts], *, today: date | None = None
) -> tuple[Dossier | None, list[FieldError]]:
    """Validate a decoded province dossier (province-api.md §2) and build the domain object.

    ``attachments`` maps each received file's ``TepDinhKemId`` to what the gateway measured of
    it. ``today`` (default: today in Vietnam) bounds birth dates. Returns ``(dossier, [])`` when
    valid, else ``(None, faults)`` with every fault found, in field order.
    """
    errs = _Errors()
    raw = normalise_dossier(raw)
    if not isinstance(raw, Mapping):
        errs.add("$", "invalid_type", expected="đối tượng JSON")
        return None, errs.items
    today = today or today_vn()

    code = _text(errs, raw, "MaHoSo", "", max_len=_MAX["code"])
    if code is not None and not _DOSSIER_CODE.fullmatch(code):
        errs.add("MaHoSo", "invalid_dossier_code", value=_show(code))

    proc: Procedure | None = None
    proc_code = _text(errs, raw, "MaTTHC", "", max_len=_MAX["procedure_code"])
    if proc_code is not None:
        proc = procedure(proc_code)
        if proc is None:
            errs.add("MaTTHC", "unknown_procedure", value=_show(proc_code))
    proc_name = _text(errs, raw, "TenTTHC", "", max_len=_MAX["procedure_name"], required=False)

    channel = _integer(errs, raw, "KenhThucHien", "")
    if channel is not None and channel_code(channel) is None:
        errs.add("KenhThucHien", "unknown_channel", value=channel)

    received = _timestamp(errs, raw, "NgayTiepNhan", required=True)
    due = _timestamp(errs, raw, "NgayHenTra", required=False)
    if received is not None and due is not None and due < received:
        errs.add(
            "NgayHenTra",
            "due_before_received",
            value=due.strftime("%d/%m/%Y %H:%M"),
            received=received.strftime("%d/%m/%Y %H:%M"),
        )

    unit = _text(errs, raw, "MaDonViXuLy", "", max_len=_MAX["code"])
    received_on = received.astimezone(VN_TZ).date() if received is not None else None
    applicant = _applicant(errs, raw)
    beneficiary, group, translations = _beneficiary(errs, raw, today, received_on, unit)
    if unit is not None and received_on is not None:
        placed_unit = place_processing_unit(
            unit,
            received_on=received_on,
            residence_commune=beneficiary.residence.commune_code if beneficiary else None,
        )
        if placed_unit.fault is not None:
            errs.add("MaDonViXuLy", placed_unit.fault.code, template=f"{placed_unit.fault.code}_unit",
                     choices=placed_unit.fault.choices, **placed_unit.fault.params)
        elif placed_unit.translation is not None:
            unit = placed_unit.code
            translations = (*translations, placed_unit.translation)
    documents, components_seen = _documents(errs, raw, attachments)
    _component_rules(errs, proc, group, components_seen)

    if errs.items:
        return None, errs.items
    assert code and proc and channel and received and unit and applicant and beneficiary
    dossier = Dossier(
        code=code,
        procedure_code=proc.code,
        procedure_name=proc_name or proc.name,
        channel=channel,
        received_at=received,
        due_at=due,
        processing_unit=unit,
        applicant=applicant,
        beneficiary=beneficiary,
        documents=tuple(documents),
        translations=translations,
    )
    return dossier, []
