"""Results of the ministry calls, reduced to what the gateway records."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


@dataclass(frozen=True, slots=True)
class UploadedFile:
    """A file stored by the ministry (``POST /api/v1/tep-tin`` answer)."""

    id: str  # "TT-…", to list in the dossier's tepTinIds
    sha256: str
    size: int
    name: str
    content_type: str


@dataclass(frozen=True, slots=True)
class CreatedDossier:
    """A dossier in the ministry's pending-reception queue.

    ``already_existed``: the ministry answered 409 HO_SO_DA_TON_TAI, i.e. an earlier attempt (or
    another sender) delivered it; ``id`` is then the existing dossier's. ``replayed``: the answer is
    the ministry's stored first answer to this idempotency key.
    """

    id: str  # "HS-…"
    ma_ho_so: str | None
    status: str | None
    created_at: datetime | None
    already_existed: bool = False
    replayed: bool = False


@dataclass(frozen=True, slots=True)
class StoredDossier:
    """A dossier as the ministry holds it (``GET /api/v1/ho-so/{id}``), read for a comparison with what was sent.

    ``fields``: the answer as given (the submitted fields among the ministry's own: ``trangThai``, ``lichSu``…),
    left out of ``repr`` as it holds personal data; ``files``: (``maThanhPhan``, file id) of every file of every
    component, those added by supplements included.
    """

    id: str  # "HS-…"
    ma_ho_so: str | None  # maHoSoTinh
    status: str | None  # trangThai
    created_at: datetime | None  # ngayTao
    fields: dict[str, Any] = field(repr=False)
    files: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class ChangePage:
    """One page of the change feed. Store ``cursor`` only after ``changes`` are recorded."""

    changes: list[dict[str, Any]]
    cursor: str
    more: bool


class AllowanceStatus(StrEnum):
    """``trangThaiHuong`` of a beneficiary (ministry-api §8)."""

    DANG_HUONG = "DANG_HUONG"  # being paid
    TAM_DUNG = "TAM_DUNG"  # suspended
    DA_THOI_HUONG = "DA_THOI_HUONG"  # stopped


@dataclass(frozen=True, slots=True)
class BeneficiaryRecord:
    """One person the ministry pays (an entry of ``GET /api/v1/doi-tuong``'s ``ketQua``).

    The ID number, the name and the birth date are left out of ``repr``: a record may end up in a log
    line or an assertion message, and those must carry nothing personal.
    """

    id: str  # "DT-…"
    personal_id: str = field(repr=False)  # soDinhDanh
    full_name: str = field(repr=False)  # hoTen
    birth_date: str = field(repr=False)  # ngaySinh: YYYY-MM-DD, or YYYY-MM / YYYY when known only so far
    gender: str  # gioiTinh: NAM, NU
    group_code: str  # nhomDoiTuong
    commune_code: str  # maXa
    status: AllowanceStatus  # trangThaiHuong
    monthly_amount: int  # mucHuongThang, whole VND
    start_month: str  # thangBatDauHuong, YYYY-MM
    paid_through: str | None  # daChiTraDenThang: the last month a payment list carried the person; None: never
    dossier_id: str | None  # hoSoId, "HS-…"


@dataclass(frozen=True, slots=True)
class StopResult:
    """The ministry's answer to ``POST /api/v1/doi-tuong/{id}/thoi-huong``.

    ``recovery`` is the ``truyThu`` the ministry recorded (``{"soTien", "chiTiet": [{"thang", "soTien"}]}``),
    None when no month was overpaid. ``replayed``: the ministry's stored first answer to this key.
    """

    id: str  # "DT-…"
    status: str  # trangThaiHuong, DA_THOI_HUONG
    stop_month: str  # thangThoiHuong, YYYY-MM: the first month not owed
    recovery: dict[str, Any] | None
    replayed: bool = False


@dataclass(frozen=True, slots=True)
class BackPaymentResult:
    """The ministry's answer to ``POST /api/v1/chi-tra/truy-linh`` (§9): the back-payment recorded.

    ``list_month`` (``thangChiTra``, ``YYYY-MM``) is the monthly payment list that will carry it.
    ``replayed``: the ministry's stored first answer to this key.
    """

    id: str  # "TL-…"
    list_month: str  # thangChiTra
    replayed: bool = False
