"""The 12-digit personal identification number (Decree 137/2015, Circular 59/2021/TT-BCA).

Digits 1-3: ``0`` + the pre-2025 code of the province where the birth was registered;
digit 4: gender and century of birth (table ``data/personal_id_centuries.csv``);
digits 5-6: the last two digits of the birth year; digits 7-12: random.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from mappings._data import read_csv
from mappings.model import PartialDate
from mappings.tables import pre2025_province

_ID = re.compile(r"[0-9]{12}")  # not \d: other scripts' digits are no ID


@dataclass(frozen=True)
class _Century:
    gender: int
    start: int


@cache
def _centuries() -> dict[str, _Century]:
    rows = read_csv("personal_id_centuries.csv")
    return {r["digit"]: _Century(int(r["gender"]), int(r["century_start"])) for r in rows}


def check_personal_id(pid: str, birth: PartialDate | None, gender: int | None) -> list[str]:
    """Stable error codes for ``pid``; empty when it is well formed and consistent.

    Codes: ``id_format`` (not exactly 12 digits; nothing else is checked then),
    ``id_province`` (digits 1-3 are not ``0`` + a pre-2025 province code),
    ``id_gender_mismatch`` (digit 4 contradicts ``gender``, 1 male / 2 female),
    ``id_birth_year_mismatch`` (century digit + digits 5-6 contradict ``birth.year``).
    ``birth`` and ``gender`` are only compared when given (pass None when they are invalid).
    """
    if not isinstance(pid, str) or not _ID.fullmatch(pid):
        return ["id_format"]
    errors: list[str] = []
    if pid[0] != "0" or pre2025_province(pid[1:3]) is None:
        errors.append("id_province")
    century = _centuries().get(pid[3])
    if century is None:  # only if the data file lost a row
        errors.append("id_format")
        return errors
    if gender is not None and gender != century.gender:
        errors.append("id_gender_mismatch")
    if birth is not None and birth.year != century.start + int(pid[4:6]):
        errors.append("id_birth_year_mismatch")
    return errors


def birth_year_of(pid: str) -> int | None:
    """The birth year a well-formed ID encodes, or None."""
    if not isinstance(pid, str) or not _ID.fullmatch(pid):
        return None
    century = _centuries().get(pid[3])
    return century.start + int(pid[4:6]) if century else None


def mask_personal_id(pid: str) -> str:
    """The ID with its middle hidden for logs: ``038141001234`` → ``038*******34``.

    Keeps the first three and last two characters of anything at least 8 long; shorter
    values are fully masked.
    """
    if len(pid) < 8:
        return "*" * len(pid)
    return pid[:3] + "*" * (len(pid) - 5) + pid[-2:]
