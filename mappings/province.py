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

The reader and the field checks themselves are :mod:`mappings.reader`, shared with the death notice
(:mod:`mappings.death_notice`); this module holds the dossier's shape and its own rules.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from typing import Any

from mappings.dates import VN_TZ, today_vn
from mappings.errors import FieldError
from mappings.model import Applicant, AttachmentFacts, Beneficiary, CodeTranslation, Dossier
from mappings.reader import (
    ADDRESS_SHAPE,
    DOCUMENTS_SHAPE,
    MAX,
    Errors,
    Kind,
    component_rules,
    contact_id,
    documents,
    dossier_code,
    fields_of,
    group,
    integer,
    leaf,
    normalise,
    obj,
    person,
    phone,
    processing_unit,
    show,
    text,
    timestamp,
)
from mappings.tables import BeneficiaryGroup, Procedure, channel_code, procedure

__all__ = ["FIELDS", "INTEGER_FIELDS", "NUMBER_CODE_FIELDS", "SHAPE", "Kind", "normalise_dossier", "parse_dossier",
           "respell_file_references"]

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")

# Every member the parser reads, level by level, and how: the ONE list of the fields that take
# numbers. A nested dict is a JSON object with those members, a one-element list a list of such
# objects. Members not listed are ignored (dropped by normalise_dossier, never looked at).
# SoDinhDanh is TEXT on purpose: as a JSON number it would have lost its leading zero.
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
        "NoiThuongTru": ADDRESS_SHAPE,
        "NhomDoiTuong": Kind.TEXT,
        "QuanHeVoiChuHoSo": Kind.TEXT,
    },
    "TaiLieuNop": DOCUMENTS_SHAPE,
}

FIELDS: dict[str, Kind] = fields_of(SHAPE)
INTEGER_FIELDS: tuple[str, ...] = tuple(path for path, kind in FIELDS.items() if kind is Kind.INTEGER)
NUMBER_CODE_FIELDS: tuple[str, ...] = tuple(path for path, kind in FIELDS.items() if kind is Kind.CODE)


def normalise_dossier(raw: object) -> object:
    """``raw`` in its one spelling, before validation: a new document, ``raw`` is not changed.

    Members not in :data:`SHAPE` are dropped at every level; strings are trimmed and NFC-normalised,
    blank ones become None; :attr:`Kind.INTEGER` digit strings become ints and :attr:`Kind.CODE`
    integers strings. Anything else (a non-digit string for an integer, a bool, a float, an object
    where a string is due, a list item that is no object) is kept as it is for the validator to report.
    """
    return normalise(raw, SHAPE)


_FILE_SOURCES = ("NoiDungBase64", "DuongDanTaiTepTin")  # read by the intake, not by the parser


def respell_file_references(raw: object) -> object:
    """``raw`` with each ``TaiLieuNop`` item's file id and file source in the parser's spelling.

    The intake matches received files to ``TepDinhKemId`` before validation, so it must read the
    id as :func:`normalise_dossier` will (``1`` = ``"1"``, ``" f1 "`` = ``"f1"``); ``NoiDungBase64``
    and ``DuongDanTaiTepTin`` are trimmed. Other members are kept as they are (the parser drops
    them); ``raw`` itself is not changed. The death notice's ``TaiLieuNop`` has the same shape.
    """
    if not isinstance(raw, Mapping) or not isinstance(raw.get("TaiLieuNop"), list):
        return raw
    kind = FIELDS["TaiLieuNop[].TepDinhKemId"]
    items = []
    for item in raw["TaiLieuNop"]:
        if isinstance(item, Mapping):
            item = dict(item)
            if "TepDinhKemId" in item:
                item["TepDinhKemId"] = leaf(item["TepDinhKemId"], kind)
            for key in _FILE_SOURCES:
                if isinstance(item.get(key), str):
                    item[key] = item[key].strip() or None
        items.append(item)
    return {**raw, "TaiLieuNop": items}


def _applicant(errs: Errors, raw: Mapping[str, Any]) -> Applicant | None:
    path = "ChuHoSo"
    found = obj(errs, raw, path, "")
    if found is None:
        return None
    before = len(errs.items)
    full_name = text(errs, found, "HoTen", path, max_len=MAX["name"], name=True)
    pid = contact_id(errs, found, path)
    number = phone(errs, found, path)
    email = text(errs, found, "Email", path, max_len=MAX["email"], required=False)
    if email is not None and not _EMAIL.fullmatch(email):
        errs.add(f"{path}.Email", "invalid_email", value=show(email))
    if len(errs.items) > before or full_name is None:
        return None
    return Applicant(full_name=full_name, personal_id=pid, phone=number, email=email)


def _beneficiary(
    errs: Errors, raw: Mapping[str, Any], today: date, received_on: date | None, unit: str | None
) -> tuple[Beneficiary | None, BeneficiaryGroup | None, tuple[CodeTranslation, ...]]:
    path = "DuLieuToKhai"
    found = obj(errs, raw, path, "")
    if found is None:
        return None, None, ()
    before = len(errs.items)
    read = person(errs, found, path, today, received_on, unit)
    declared_group = group(errs, found, path, required=True)
    relation = text(errs, found, "QuanHeVoiChuHoSo", path, max_len=MAX["relation"], required=False)

    if len(errs.items) > before:
        return None, declared_group, ()
    assert declared_group is not None
    beneficiary = Beneficiary(**read.values(), group_code=declared_group.code, relation_to_applicant=relation)
    return beneficiary, declared_group, read.translations


def parse_dossier(
    raw: object, attachments: Mapping[str, AttachmentFacts], *, today: date | None = None
) -> tuple[Dossier | None, list[FieldError]]:
    """Validate a decoded province dossier (province-api.md §2) and build the domain object.

    ``attachments`` maps each received file's ``TepDinhKemId`` to what the gateway measured of
    it. ``today`` (default: today in Vietnam) bounds birth dates. Returns ``(dossier, [])`` when
    valid, else ``(None, faults)`` with every fault found, in field order.
    """
    errs = Errors()
    raw = normalise_dossier(raw)
    if not isinstance(raw, Mapping):
        errs.add("$", "invalid_type", expected="đối tượng JSON")
        return None, errs.items
    today = today or today_vn()

    code = dossier_code(errs, raw, "MaHoSo")

    proc: Procedure | None = None
    proc_code = text(errs, raw, "MaTTHC", "", max_len=MAX["procedure_code"])
    if proc_code is not None:
        proc = procedure(proc_code)
        if proc is None:
            errs.add("MaTTHC", "unknown_procedure", value=show(proc_code))
    proc_name = text(errs, raw, "TenTTHC", "", max_len=MAX["procedure_name"], required=False)

    channel = integer(errs, raw, "KenhThucHien", "")
    if channel is not None and channel_code(channel) is None:
        errs.add("KenhThucHien", "unknown_channel", value=channel)

    received = timestamp(errs, raw, "NgayTiepNhan", required=True)
    due = timestamp(errs, raw, "NgayHenTra", required=False)
    if received is not None and due is not None and due < received:
        errs.add(
            "NgayHenTra",
            "due_before_received",
            value=due.strftime("%d/%m/%Y %H:%M"),
            received=received.strftime("%d/%m/%Y %H:%M"),
        )

    unit = text(errs, raw, "MaDonViXuLy", "", max_len=MAX["code"])
    received_on = received.astimezone(VN_TZ).date() if received is not None else None
    applicant = _applicant(errs, raw)
    beneficiary, declared_group, translations = _beneficiary(errs, raw, today, received_on, unit)
    if unit is not None and received_on is not None:
        unit, unit_translation = processing_unit(
            errs, unit, received_on, beneficiary.residence.commune_code if beneficiary else None)
        if unit_translation is not None:
            translations = (*translations, unit_translation)
    found_documents, components_seen = documents(errs, raw, attachments)
    component_rules(errs, proc, declared_group, components_seen)

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
        documents=tuple(found_documents),
        translations=translations,
    )
    return dossier, []
