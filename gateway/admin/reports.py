"""What the admin reports share (identity mismatches, payment adjustments): the commune filter and CSV answers."""

from __future__ import annotations

from fastapi.responses import Response

from mappings.admin_units import normalise_code
from mappings.errors import FieldError


def commune_filter(ma_xa: str | None, faults: list[FieldError]) -> str | None:
    """``maXa`` as five digits (None when not given); a bad one is appended to ``faults``."""
    if not ma_xa or not ma_xa.strip():
        return None
    commune = normalise_code(ma_xa, 5)
    if commune is None:
        faults.append(FieldError("maXa", "invalid_commune_code", "Mã xã gồm tối đa 5 chữ số."))
    return commune


def csv_response(text: str, filename: str) -> Response:
    """A CSV download (UTF-8), as the communes' spreadsheets open it."""
    return Response(text, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})
