"""Strict validation of ``POST /api/v1/cong-dan/xac-thuc`` bodies: every fault listed in ``chiTiet``.

Strict because the contracts say so where they are silent: an unknown or missing field, a null, a
number where a string is shown, or a bad format is 400 DU_LIEU_KHONG_HOP_LE. Messages name fields and
say what is expected; they never echo an ID number, a name or a date.
"""

from __future__ import annotations

import re
from typing import Any

from adapters.ministry.sandbox.errors import invalid
from adapters.ministry.sandbox.validation import Checker
from adapters.population.sandbox.matching import parse_partial_date
from adapters.population.sandbox.people import GENDERS

QUERY_FIELDS = ("soDinhDanh", "hoTen", "ngaySinh", "gioiTinh")
MAX_NAME = 255
_PERSONAL_ID = re.compile(r"[0-9]{12}")


def validate_query(body: dict[str, Any]) -> dict[str, str]:
    """The four fields of a valid request, or 400 listing every field at fault."""
    c = Checker(optional=())
    c.fields(body, "", QUERY_FIELDS)
    personal_id = c.text(body, "soDinhDanh", "", max_len=12, pattern=_PERSONAL_ID,
                         pattern_message="Phải gồm 12 chữ số")
    name = c.text(body, "hoTen", "", max_len=MAX_NAME)
    birth = c.text(body, "ngaySinh", "", max_len=10)
    if birth is not None and parse_partial_date(birth) is None:
        c.add("ngaySinh", "Ngày sinh phải là ngày có thật, dạng YYYY-MM-DD, YYYY-MM hoặc YYYY")
    gender = c.choice(body, "gioiTinh", "", GENDERS, "giới tính")
    if c.errors or personal_id is None or name is None or birth is None or gender is None:
        raise invalid(c.errors)
    return {"soDinhDanh": personal_id, "hoTen": name, "ngaySinh": birth, "gioiTinh": gender}
