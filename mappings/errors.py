"""Field-level validation faults, as reported to the province."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, order=True)
class FieldError:
    """One fault in one field of an inbound document.

    ``field`` is the dotted path in the province's own spelling
    (``DuLieuToKhai.SoDinhDanh``, ``TaiLieuNop[0].MaThanhPhanHoSo``), ``code`` a
    stable English snake_case identifier clients may branch on, ``message`` a
    Vietnamese sentence an officer can read. ``choices`` are the values the sender may pick
    from when the fault is an ambiguity (a split commune's codes in force), as (code, name).
    """

    field: str
    code: str
    message: str
    choices: tuple[tuple[str, str], ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """The JSON shape used in problem+json ``errors`` arrays (``choices`` only when there are some)."""
        shaped: dict[str, Any] = {"field": self.field, "code": self.code, "message": self.message}
        if self.choices:
            shaped["choices"] = [{"code": code, "name": name} for code, name in self.choices]
        return shaped
