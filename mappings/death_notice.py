"""Parse and validate a death notice of the linked procedure (province-api.md §5) into a
:class:`~mappings.model.DeathNotice`, and build the funeral-support dossier it gives rise to.

:func:`parse_death_notice` is the entry point, in the style of :func:`mappings.province.parse_dossier`
and with its reader (:mod:`mappings.reader`): the document is first brought to one spelling by
:func:`normalise_notice` (driven by :data:`NOTICE_SHAPE`, the same tolerances as a dossier's), then
every fault is reported at once, each with its field path, a stable English code and a Vietnamese
message (``data/errors.yaml``). The fields the notice shares with a dossier are checked as there:
the deceased (``NguoiMat``) as ``DuLieuToKhai`` (ID against birth date and gender, partial birth
dates, ethnic group, residence placed by ``NgayTiepNhan`` with translations recorded), the recipient
(``NguoiNhanMaiTang``) as ``ChuHoSo``, ``TaiLieuNop`` as a funeral-support dossier's (procedure
``1.001731``: ``TK_MAI_TANG`` and ``TRICH_LUC_KHAI_TU`` required, ``component_missing`` otherwise).

The notice's own rules: ``NgayMat`` and ``KhaiTu.NgayDangKy`` are whole, real ``dd/MM/yyyy`` dates not
after today; ``NgaySinh`` ≤ ``NgayMat`` ≤ ``KhaiTu.NgayDangKy`` ≤ ``NgayTiepNhan`` (its day in Vietnam)
and ``NgayMat`` ≤ ``NgayTiepNhan``, each pair violated its own fault at the field that should be the
later one (``death_before_birth`` at ``NguoiMat.NgayMat``, ``death_after_registration`` at
``KhaiTu.NgayDangKy``, ``death_after_received`` and ``registration_after_received`` at ``NgayTiepNhan``).
A partial birth date counts from its first day (a death in 1941 is not before a birth "1941").

Decisions of ours (the contract's example lacks these members or is silent):

- ``NguoiMat.MaDanToc`` is REQUIRED: the ministry refuses a dossier without ``maDanToc`` (ministry-api.md
  §5) and the death registration form records the ethnic group, so the province has it.
- ``NguoiMat.NhomDoiTuong`` is optional: when the deceased is a beneficiary, the ministry's record
  supplies the group; when given, it must be a group of the table.
- ``KhaiTu``'s three members are required (``CoQuanDangKy`` too: every extract names its authority);
  ``SoTrichLuc`` is read as a code (a JSON number is its decimal spelling).
- ``NguoiNhanMaiTang.SoDinhDanh`` (format and province only) and ``.SoDienThoai`` are optional and
  checked as ``ChuHoSo``'s; ``.QuanHeVoiNguoiMat`` is optional free text.
- :func:`funeral_dossier` files the funeral dossier on channel 2 (online): the linked procedure is
  filed on the portal.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, fields
from datetime import date, datetime
from typing import Any

from mappings.canonical import content_fingerprint
from mappings.dates import VN_TZ, earliest_day, format_birth_date, parse_date, today_vn
from mappings.errors import FieldError
from mappings.model import (
    Address,
    Applicant,
    AttachmentFacts,
    Beneficiary,
    CodeTranslation,
    DeathNotice,
    DeathRegistration,
    Deceased,
    Document,
    Dossier,
    FuneralRecipient,
    PartialDate,
)
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
    normalise,
    obj,
    person,
    phone,
    processing_unit,
    show,
    text,
    timestamp,
)
from mappings.tables import beneficiary_group, procedure

FUNERAL_PROCEDURE = "1.001731"  # Hỗ trợ chi phí mai táng (DOMAIN.md)
FUNERAL_CHANNEL = 2  # online: the linked procedure is filed on the portal (our reading)

# Every member the parser reads, as mappings.province.SHAPE for a dossier.
NOTICE_SHAPE: dict[str, Any] = {
    "MaHoSoLienThong": Kind.TEXT,
    "NgayTiepNhan": Kind.CODE,
    "MaDonViXuLy": Kind.CODE,
    "NguoiMat": {
        "HoTen": Kind.TEXT,
        "SoDinhDanh": Kind.TEXT,
        "NgaySinh": Kind.TEXT,
        "GioiTinh": Kind.INTEGER,
        "NgayMat": Kind.TEXT,
        "MaDanToc": Kind.CODE,
        "NoiThuongTru": ADDRESS_SHAPE,
        "NhomDoiTuong": Kind.TEXT,
    },
    "KhaiTu": {"SoTrichLuc": Kind.CODE, "NgayDangKy": Kind.TEXT, "CoQuanDangKy": Kind.TEXT},
    "NguoiNhanMaiTang": {
        "HoTen": Kind.TEXT,
        "SoDinhDanh": Kind.TEXT,
        "SoDienThoai": Kind.TEXT,
        "QuanHeVoiNguoiMat": Kind.TEXT,
    },
    "TaiLieuNop": DOCUMENTS_SHAPE,
}
NOTICE_FIELDS: dict[str, Kind] = fields_of(NOTICE_SHAPE)


def normalise_notice(raw: object) -> object:
    """``raw`` in its one spelling, as :func:`mappings.province.normalise_dossier` (by :data:`NOTICE_SHAPE`)."""
    return normalise(raw, NOTICE_SHAPE)


def _day(errs: Errors, parent: Mapping[str, Any], key: str, path: str, today: date) -> date | None:
    """A required whole date ``dd/MM/yyyy``."""
    found = text(errs, parent, key, path, max_len=MAX["date"])
    if found is None:
        return None
    try:
        return parse_date(found, today)
    except ValueError as exc:
        errs.add(f"{path}.{key}", str(exc), template=f"{exc}_day", value=show(found))
        return None


def _deceased(
    errs: Errors, raw: Mapping[str, Any], today: date, received_on: date | None, unit: str | None
) -> tuple[Deceased | None, date | None, tuple[CodeTranslation, ...]]:
    """The deceased, the death day read (None when at fault) and the translations made."""
    path = "NguoiMat"
    found = obj(errs, raw, path, "")
    if found is None:
        return None, None, ()
    before = len(errs.items)
    read = person(errs, found, path, today, received_on, unit)
    died_on = _day(errs, found, "NgayMat", path, today)
    if read.birth_date is not None and died_on is not None and died_on < earliest_day(read.birth_date):
        errs.add(f"{path}.NgayMat", "death_before_birth", value=_dmy(died_on), birth=format_birth_date(read.birth_date))
    declared_group = group(errs, found, path, required=False)
    if len(errs.items) > before:
        return None, died_on, ()
    assert died_on is not None
    deceased = Deceased(**read.values(), group_code=declared_group.code if declared_group else None)
    return deceased, died_on, read.translations


def _registration(
    errs: Errors, raw: Mapping[str, Any], today: date, died_on: date | None
) -> tuple[DeathRegistration | None, date | None]:
    path = "KhaiTu"
    found = obj(errs, raw, path, "")
    if found is None:
        return None, None
    before = len(errs.items)
    number = text(errs, found, "SoTrichLuc", path, max_len=MAX["code"])
    registered_on = _day(errs, found, "NgayDangKy", path, today)
    if registered_on is not None and died_on is not None and registered_on < died_on:
        errs.add(f"{path}.NgayDangKy", "death_after_registration", value=_dmy(registered_on), died=_dmy(died_on))
    authority = text(errs, found, "CoQuanDangKy", path, max_len=MAX["authority"])
    if len(errs.items) > before:
        return None, registered_on
    assert number and registered_on and authority
    return DeathRegistration(number=number, registered_on=registered_on, authority=authority), registered_on


def _recipient(errs: Errors, raw: Mapping[str, Any]) -> FuneralRecipient | None:
    path = "NguoiNhanMaiTang"
    found = obj(errs, raw, path, "")
    if found is None:
        return None
    before = len(errs.items)
    full_name = text(errs, found, "HoTen", path, max_len=MAX["name"], name=True)
    pid = contact_id(errs, found, path)
    number = phone(errs, found, path)
    relation = text(errs, found, "QuanHeVoiNguoiMat", path, max_len=MAX["relation"], required=False)
    if len(errs.items) > before or full_name is None:
        return None
    return FuneralRecipient(full_name=full_name, personal_id=pid, phone=number, relation=relation)


def _dmy(day: date) -> str:
    return day.strftime("%d/%m/%Y")


def parse_death_notice(
    raw: object, attachments: Mapping[str, AttachmentFacts], *, today: date | None = None
) -> tuple[DeathNotice | None, list[FieldError]]:
    """Validate a decoded death notice (province-api.md §5) and build the domain object.

    ``attachments`` maps each received file's ``TepDinhKemId`` to what the gateway measured of it.
    ``today`` (default: today in Vietnam) bounds the birth, death and registration dates. Returns
    ``(notice, [])`` when valid, else ``(None, faults)`` with every fault found, in field order
    (the orders against ``NgayTiepNhan`` after ``KhaiTu``, where both of their dates are known).
    """
    errs = Errors()
    raw = normalise_notice(raw)
    if not isinstance(raw, Mapping):
        errs.add("$", "invalid_type", expected="đối tượng JSON")
        return None, errs.items
    today = today or today_vn()

    code = dossier_code(errs, raw, "MaHoSoLienThong")
    received = timestamp(errs, raw, "NgayTiepNhan", required=True)
    unit = text(errs, raw, "MaDonViXuLy", "", max_len=MAX["code"])
    received_on = received.astimezone(VN_TZ).date() if received is not None else None

    deceased, died_on, translations = _deceased(errs, raw, today, received_on, unit)
    registration, registered_on = _registration(errs, raw, today, died_on)
    if received_on is not None and died_on is not None and received_on < died_on:
        errs.add("NgayTiepNhan", "death_after_received", value=_dmy(received_on), died=_dmy(died_on))
    if received_on is not None and registered_on is not None and received_on < registered_on:
        errs.add("NgayTiepNhan", "registration_after_received", value=_dmy(received_on),
                 registered=_dmy(registered_on))
    recipient = _recipient(errs, raw)

    if unit is not None and received_on is not None:
        unit, unit_translation = processing_unit(
            errs, unit, received_on, deceased.residence.commune_code if deceased else None)
        if unit_translation is not None:
            translations = (*translations, unit_translation)
    found_documents, components_seen = documents(errs, raw, attachments)
    component_rules(errs, procedure(FUNERAL_PROCEDURE), None, components_seen)

    if errs.items:
        return None, errs.items
    assert code and received and unit and deceased and died_on and registration and recipient
    notice = DeathNotice(
        code=code,
        received_at=received,
        processing_unit=unit,
        deceased=deceased,
        died_on=died_on,
        registration=registration,
        recipient=recipient,
        documents=tuple(found_documents),
        translations=translations,
    )
    return notice, []


# --- the canonical JSON form and the fingerprint (as mappings.canonical for a dossier) -------------


def notice_to_json(notice: DeathNotice) -> dict[str, Any]:
    """A JSON-compatible dict of the notice (datetimes ISO 8601 with offset, dates ``YYYY-MM-DD``)."""
    data = asdict(notice)
    data["received_at"] = notice.received_at.isoformat()
    data["died_on"] = notice.died_on.isoformat()
    data["registration"]["registered_on"] = notice.registration.registered_on.isoformat()
    data["documents"] = [asdict(d) for d in notice.documents]
    data["translations"] = [asdict(t) for t in notice.translations]
    return data


def notice_from_json(data: Mapping[str, Any]) -> DeathNotice:
    """The inverse of :func:`notice_to_json`."""
    dec = data["deceased"]
    reg = data["registration"]
    return DeathNotice(
        code=data["code"],
        received_at=datetime.fromisoformat(data["received_at"]),
        processing_unit=data["processing_unit"],
        deceased=Deceased(
            full_name=dec["full_name"],
            personal_id=dec["personal_id"],
            birth_date=PartialDate(**dec["birth_date"]),
            gender=int(dec["gender"]),
            ethnic_code=dec["ethnic_code"],
            residence=Address(**dec["residence"]),
            group_code=dec.get("group_code"),
        ),
        died_on=date.fromisoformat(data["died_on"]),
        registration=DeathRegistration(reg["number"], date.fromisoformat(reg["registered_on"]), reg["authority"]),
        recipient=FuneralRecipient(**data["recipient"]),
        documents=tuple(Document(**d) for d in data["documents"]),
        translations=tuple(CodeTranslation(**t) for t in data.get("translations") or ()),
    )


def notice_fingerprint(notice: DeathNotice, attachments: Mapping[str, AttachmentFacts]) -> str:
    """SHA-256 hex over the canonical notice and each attachment's SHA-256: equal for the same content
    whatever its spelling or encoding (§5: 200 for the same notice again, 409 for other content).

    As for a dossier, ``MaBam`` and the translations (derived from the codes received) are left out.
    """
    content = notice_to_json(notice)
    content.pop("translations")
    return content_fingerprint("death_notice", content, attachments)


# --- the funeral-support dossier ----------------------------------------------------------------------


def funeral_dossier(notice: DeathNotice, *, group_code: str) -> Dossier:
    """The funeral-support dossier (procedure ``1.001731``) the notice gives rise to (§5 step 3).

    ``code`` is ``MaHoSoLienThong`` (the ministry's ``maHoSoTinh``); reception time, unit, translations
    and documents are the notice's; the applicant is the recipient, the beneficiary the deceased in
    ``group_code`` (the ministry record's group, or the notice's ``NhomDoiTuong``), related to the
    applicant as ``QuanHeVoiNguoiMat``; channel 2 (online, our reading); no promised date (the gateway
    computes it from the procedure's working days). Raises :class:`ValueError` for a group not in the table.
    """
    found = beneficiary_group(group_code)
    if found is None:
        raise ValueError(f"unknown beneficiary group {group_code!r}")
    proc = procedure(FUNERAL_PROCEDURE)
    assert proc is not None
    rec = notice.recipient
    # The deceased's members by name (a Beneficiary has them all), the group the one given.
    deceased = {f.name: getattr(notice.deceased, f.name) for f in fields(Deceased)} | {"group_code": found.code}
    return Dossier(
        code=notice.code,
        procedure_code=proc.code,
        procedure_name=proc.name,
        channel=FUNERAL_CHANNEL,
        received_at=notice.received_at,
        due_at=None,
        processing_unit=notice.processing_unit,
        applicant=Applicant(full_name=rec.full_name, personal_id=rec.personal_id, phone=rec.phone, email=None),
        beneficiary=Beneficiary(**deceased, relation_to_applicant=rec.relation),
        documents=notice.documents,
        translations=notice.translations,
    )
