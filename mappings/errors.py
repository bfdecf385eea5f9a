"""Field-level validation faults, as reported to the province."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class FieldError:
    """One fault in one field of an inbound document.

    ``field`` is the dotted path in the province's own spelling
    (``DuLieuToKhai.SoDinhDanh``, ``TaiLieuNop[0].MaThanhPhanHoSo``), ``code`` a
    stable English snake_case identifier clients may branch on, ``message`` a
    Vietnamese sentence an officer can read.
    """

    field: str
    code: str
    message: str

    def as_dict(self) -> dict[str, str]:
        """The JSON shape used in problem+json ``errors`` arrays."""
        return {"field": self.field, "code": self.code, "message": self.message}
