"""The service's comparison rules (population-api §2), pure functions over what was sent and what is held.

- ``hoTen`` is compared as Unicode NFC, case and runs of spaces ignored: the name *as sent* is only
  case-folded and space-folded, never normalised, so a name in NFD (as some systems export) does not
  match its NFC record.
- ``ngaySinh`` may be sent as ``YYYY-MM`` or ``YYYY`` when the declaration has only that; the record
  may itself be known only to the month or the year. The two agree when they agree at the coarser of
  their two precisions (``1941-03`` agrees with ``1941-03-02``; ``1941-04`` does not; ``1930-05-06``
  agrees with a record of ``1930``).
- ``gioiTinh`` is compared exactly.
An unknown ``soDinhDanh`` is KHONG_TIM_THAY; otherwise KHOP, or SAI_LECH listing each field that
disagrees in the contract's order (hoTen, ngaySinh, gioiTinh).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from datetime import date

KHOP = "KHOP"
SAI_LECH = "SAI_LECH"
KHONG_TIM_THAY = "KHONG_TIM_THAY"

PartialDay = tuple[int, ...]  # (year,), (year, month) or (year, month, day)

_PARTIAL_DATE = re.compile(r"([0-9]{4})(?:-([0-9]{2})(?:-([0-9]{2}))?)?")


def parse_partial_date(value: str) -> PartialDay | None:
    """``YYYY-MM-DD``, ``YYYY-MM`` or ``YYYY`` as a tuple of its known parts; None if not a real one."""
    match = _PARTIAL_DATE.fullmatch(value)
    if match is None:
        return None
    parts = tuple(int(p) for p in match.groups() if p is not None)
    try:
        date(parts[0], parts[1] if len(parts) > 1 else 1, parts[2] if len(parts) > 2 else 1)
    except ValueError:
        return None
    return parts


def name_key(name: str) -> str:
    """What two names are compared by: case and runs of whitespace ignored, the normalization form kept."""
    return " ".join(name.split()).casefold()


def recorded_name(name: str) -> str:
    """A name as the database records it: NFC, single spaces, trimmed."""
    return " ".join(unicodedata.normalize("NFC", name).split())


def dates_agree(sent: str, recorded: str) -> bool:
    """True when the two (partial) dates agree at the coarser of their precisions."""
    a, b = parse_partial_date(sent), parse_partial_date(recorded)
    if a is None or b is None:
        return False
    shared = min(len(a), len(b))
    return a[:shared] == b[:shared]


def compare(sent: Mapping[str, str], record: Mapping[str, str] | None) -> tuple[str, list[str]]:
    """``(ketQua, truongSaiLech)`` for a validated request body against the record of its soDinhDanh."""
    if record is None:
        return KHONG_TIM_THAY, []
    mismatched = []
    if name_key(sent["hoTen"]) != name_key(recorded_name(record["hoTen"])):
        mismatched.append("hoTen")
    if not dates_agree(sent["ngaySinh"], record["ngaySinh"]):
        mismatched.append("ngaySinh")
    if sent["gioiTinh"] != record["gioiTinh"]:
        mismatched.append("gioiTinh")
    return (SAI_LECH if mismatched else KHOP), mismatched
