"""The domain model of one social-assistance dossier, independent of any peer's wire format.

Province JSON is parsed into these by :mod:`mappings.province` (a dossier) and
:mod:`mappings.death_notice` (a death notice); the ministry body is built from them by
:mod:`mappings.ministry`. Everything here is immutable and JSON-friendly
through :func:`dataclasses.asdict`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime


@dataclass(frozen=True)
class PartialDate:
    """A date that paper records may know only to the month or the year."""

    year: int
    month: int | None = None
    day: int | None = None

    def iso(self) -> str:
        """``YYYY-MM-DD``, ``YYYY-MM`` or ``YYYY`` depending on what is known."""
        if self.month is None:
            return f"{self.year:04d}"
        if self.day is None:
            return f"{self.year:04d}-{self.month:02d}"
        return f"{self.year:04d}-{self.month:02d}-{self.day:02d}"

    @property
    def is_complete(self) -> bool:
        """True when day, month and year are all known."""
        return self.month is not None and self.day is not None


@dataclass(frozen=True)
class CodeTranslation:
    """A pre-2025 administrative code read on a dossier received before 1 July 2025, and its code in force.

    Recorded even when the code stays the same: 16171 was Xã Nga Trường and is now Xã Ba Đình.
    """

    field: str  # province | commune | processing_unit
    received: str  # the code as received (zero-padded)
    received_name: str  # its pre-2025 name (with the district, for a commune)
    code: str  # the code in force sent to the ministry
    name: str
    rule: str  # mappings.admin_units.Rule


@dataclass(frozen=True)
class Address:
    """A permanent-residence address, codes already translated to the list in force."""

    province_code: str  # 2 digits, post-2025 list
    commune_code: str  # 5 digits, post-2025 list
    detail: str | None
    submitted_province_code: str  # as the province sent it (may be a pre-2025 code)
    submitted_commune_code: str


@dataclass(frozen=True)
class Applicant:
    """The person who filed the dossier (``ChuHoSo``)."""

    full_name: str
    personal_id: str | None
    phone: str | None
    email: str | None


@dataclass(frozen=True)
class Beneficiary:
    """The person the assistance is for (``DuLieuToKhai``)."""

    full_name: str
    birth_date: PartialDate
    gender: int  # 1 male, 2 female (national code)
    personal_id: str
    ethnic_code: str  # "01".."54"
    residence: Address
    group_code: str  # beneficiary-group code (mappings/data), e.g. NCT_80_KHONG_LUONG
    relation_to_applicant: str | None


@dataclass(frozen=True)
class Document:
    """One attached file (``TaiLieuNop[i]``): a dossier component."""

    file_id: str  # TepDinhKemId, also the multipart field name
    file_name: str  # as declared; metadata only, never a path
    component_code: str  # MaThanhPhanHoSo
    declared_sha256: str | None  # MaBam, lowercase hex


@dataclass(frozen=True)
class Dossier:
    """A validated province dossier."""

    code: str  # MaHoSo
    procedure_code: str  # MaTTHC
    procedure_name: str | None  # TenTTHC as sent, else the table's name
    channel: int  # KenhThucHien 1 in person, 2 online, 3 by post
    received_at: datetime  # aware, Asia/Ho_Chi_Minh (+07:00)
    due_at: datetime | None  # NgayHenTra, aware; None when the province did not send one
    processing_unit: str  # MaDonViXuLy, in force (translated when it was a pre-2025 commune code)
    applicant: Applicant
    beneficiary: Beneficiary
    documents: tuple[Document, ...]
    translations: tuple[CodeTranslation, ...] = ()  # pre-2025 codes read, and what they became


@dataclass(frozen=True)
class AttachmentFacts:
    """What the gateway measured of one received file (the bytes are in the blob store)."""

    sha256: str  # lowercase hex
    size: int
    content_type: str | None  # sniffed from the bytes: application/pdf, image/jpeg, image/png; None if other


@dataclass(frozen=True)
class Deceased:
    """The person whose death a notice reports (``NguoiMat``): a :class:`Beneficiary` without the dossier's
    relation, and whose group is known only when the notice declares it."""

    full_name: str
    personal_id: str
    birth_date: PartialDate
    gender: int  # 1 male, 2 female (national code)
    ethnic_code: str  # "01".."54"
    residence: Address
    group_code: str | None  # NhomDoiTuong when declared; else the ministry's record supplies it


@dataclass(frozen=True)
class DeathRegistration:
    """The death registration (``KhaiTu``): the extract's number, its day and the registering authority."""

    number: str  # SoTrichLuc
    registered_on: date  # NgayDangKy
    authority: str  # CoQuanDangKy


@dataclass(frozen=True)
class FuneralRecipient:
    """Who receives the funeral support (``NguoiNhanMaiTang``): the funeral dossier's applicant."""

    full_name: str
    personal_id: str | None
    phone: str | None
    relation: str | None  # QuanHeVoiNguoiMat, as sent


@dataclass(frozen=True)
class DeathNotice:
    """A validated death notice of the linked procedure (province-api.md §5)."""

    code: str  # MaHoSoLienThong
    received_at: datetime  # NgayTiepNhan, aware, +07:00
    processing_unit: str  # MaDonViXuLy, in force (translated when it was a pre-2025 commune code)
    deceased: Deceased
    died_on: date  # NguoiMat.NgayMat
    registration: DeathRegistration
    recipient: FuneralRecipient
    documents: tuple[Document, ...]
    translations: tuple[CodeTranslation, ...] = ()  # pre-2025 codes read, and what they became
