"""What the gateway asks the population service (IdentityQuery) and what it answers (Verification).

Field names are the gateway's; the contract's wire names (population-api §2) are given beside each.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any, Literal, get_args

from mappings.model import Beneficiary
from mappings.tables import gender_code

Gender = Literal["NAM", "NU"]
GENDERS: tuple[str, ...] = get_args(Gender)

_PERSONAL_ID = re.compile(r"[0-9]{12}")
_BIRTH_DATE = re.compile(r"([0-9]{4})(?:-([0-9]{2})(?:-([0-9]{2}))?)?")


class MatchResult(StrEnum):
    """``ketQua``: how the record the service holds compares with what was sent."""

    KHOP = "KHOP"  # every field agrees
    SAI_LECH = "SAI_LECH"  # a record with this soDinhDanh exists, and the fields of truongSaiLech disagree
    KHONG_TIM_THAY = "KHONG_TIM_THAY"  # no record with this soDinhDanh


def normalize_name(name: str) -> str:
    """``hoTen`` as the service compares it: Unicode NFC, whitespace runs folded to one space, trimmed.

    The service does not normalise (a name in NFD, as some systems export, does not match); the
    client does, so an export in another form still verifies.
    """
    return " ".join(unicodedata.normalize("NFC", name).split())


def check_birth_date(value: str) -> str:
    """``value`` if it is ``YYYY-MM-DD``, ``YYYY-MM`` or ``YYYY`` and a real date; ValueError otherwise."""
    match = _BIRTH_DATE.fullmatch(value)
    if match is None:
        raise ValueError("birth_date must be YYYY-MM-DD, YYYY-MM or YYYY")
    year, month, day = (int(part) if part else None for part in match.groups())
    assert year is not None
    try:
        date(year, month or 1, day or 1)
    except ValueError:
        raise ValueError("birth_date is not a real date") from None
    return value


@dataclass(frozen=True, slots=True)
class IdentityQuery:
    """One person to verify. Construction checks the shapes the contract requires (ValueError otherwise);
    ``full_name`` is kept as given and sent normalised (``normalize_name``).

    ``repr`` shows no personal data, so a query in a traceback or a log line leaks nothing.
    """

    personal_id: str  # soDinhDanh: 12 digits
    full_name: str  # hoTen
    birth_date: str  # ngaySinh: YYYY-MM-DD, or YYYY-MM / YYYY when the declaration has only that
    gender: Gender  # gioiTinh: NAM or NU

    def __post_init__(self) -> None:
        if not isinstance(self.personal_id, str) or not _PERSONAL_ID.fullmatch(self.personal_id):
            raise ValueError("personal_id must be 12 digits")
        if not isinstance(self.full_name, str) or not normalize_name(self.full_name):
            raise ValueError("full_name must not be blank")
        if not isinstance(self.birth_date, str):
            raise ValueError("birth_date must be a string")
        check_birth_date(self.birth_date)
        if self.gender not in GENDERS:
            raise ValueError("gender must be NAM or NU")

    def __repr__(self) -> str:
        return "IdentityQuery(personal_id=***, full_name=***, birth_date=***, gender=***)"

    @classmethod
    def from_beneficiary(cls, beneficiary: Beneficiary) -> IdentityQuery:
        """The query for a dossier's beneficiary (its birth date at the precision the declaration has)."""
        code = gender_code(beneficiary.gender)
        if code not in GENDERS:
            raise ValueError("the beneficiary's gender has no population-service code")
        return cls(
            personal_id=beneficiary.personal_id,
            full_name=beneficiary.full_name,
            birth_date=beneficiary.birth_date.iso(),
            gender=code,  # type: ignore[arg-type]  # checked against GENDERS just above
        )

    def body(self) -> dict[str, Any]:
        """The request body of ``POST /api/v1/cong-dan/xac-thuc``."""
        return {
            "soDinhDanh": self.personal_id,
            "hoTen": normalize_name(self.full_name),
            "ngaySinh": self.birth_date,
            "gioiTinh": self.gender,
        }


@dataclass(frozen=True, slots=True)
class Verification:
    """The service's answer (200).

    ``mismatched_fields`` names the contract's fields that disagree (``hoTen``, ``ngaySinh``,
    ``gioiTinh``), empty on KHOP; ``deceased`` is true when the service records the person as dead, and
    ``date_of_death`` is then given (None if the service left it out or wrote it in another form).
    """

    request_id: str  # maYeuCau
    result: MatchResult  # ketQua
    mismatched_fields: tuple[str, ...] = ()  # truongSaiLech
    deceased: bool = False  # daMat
    date_of_death: date | None = None  # ngayMat

    @property
    def matches(self) -> bool:
        """True on KHOP."""
        return self.result is MatchResult.KHOP
