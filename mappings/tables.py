"""Code tables of the social-assistance domain, loaded once from ``mappings/data/``.

Every lookup returns ``None`` for an unknown code instead of raising, so validators can
turn the miss into a :class:`~mappings.errors.FieldError`. Adding a procedure, a group or a
status is a data change, not a code change.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from typing import Any

from mappings._data import as_bool, read_csv, read_yaml

PROCEDURE_KINDS = frozenset({"monthly_allowance", "funeral_support", "residence_change"})


@dataclass(frozen=True)
class Procedure:
    """An administrative procedure (mã TTHC) the gateway accepts."""

    code: str
    name: str
    kind: str  # monthly_allowance | funeral_support | residence_change
    required_components: frozenset[str]
    declaration_by_group: bool  # the declaration form is the beneficiary group's
    processing_days: int  # legal processing time, working days


@dataclass(frozen=True)
class BeneficiaryGroup:
    """A beneficiary group (``NhomDoiTuong``) with its coefficient and declaration form."""

    code: str
    name: str
    coefficient: Decimal
    declaration_component: str


@dataclass(frozen=True)
class Component:
    """A dossier component (``MaThanhPhanHoSo``)."""

    code: str
    name: str
    is_declaration: bool
    requires: frozenset[str]  # components that must accompany this one


@dataclass(frozen=True)
class MinistryStatus:
    """A ministry dossier status (``trangThai``) and the national status it maps to."""

    code: str
    name: str
    national_status: int
    is_final: bool


@dataclass(frozen=True)
class Pre2025Province:
    """A province of the pre-1 July 2025 list and the post-2025 province it became part of."""

    code: str
    name: str
    new_code: str


# --- loaders (one file read per table per process) -------------------------------------------


@cache
def _procedures() -> dict[str, Procedure]:
    doc: Any = read_yaml("procedures.yaml")
    out: dict[str, Procedure] = {}
    for item in doc["procedures"]:
        proc = Procedure(
            code=str(item["code"]),
            name=str(item["name"]),
            kind=str(item["kind"]),
            required_components=frozenset(str(c) for c in item.get("required_components") or ()),
            declaration_by_group=bool(item["declaration_by_group"]),
            processing_days=int(item["processing_days"]),
        )
        if proc.kind not in PROCEDURE_KINDS:
            raise ValueError(f"procedures.yaml: unknown kind {proc.kind!r} for {proc.code}")
        out[proc.code] = proc
    return out


@cache
def _groups() -> dict[str, BeneficiaryGroup]:
    return {
        r["code"]: BeneficiaryGroup(r["code"], r["name"], Decimal(r["coefficient"]), r["declaration_component"])
        for r in read_csv("beneficiary_groups.csv")
    }


@cache
def _components() -> dict[str, Component]:
    return {
        r["code"]: Component(r["code"], r["name"], as_bool(r["is_declaration"]), frozenset(r["requires"].split()))
        for r in read_csv("components.csv")
    }


@cache
def _ethnic_groups() -> dict[str, str]:
    return {r["code"]: r["name"] for r in read_csv("ethnic_groups.csv")}


@cache
def _national_to_code(name: str) -> dict[int, str]:
    return {int(r["national"]): r["code"] for r in read_csv(name)}


@cache
def _national_statuses() -> dict[int, str]:
    return {int(r["code"]): r["name"] for r in read_csv("national_statuses.csv")}


@cache
def _ministry_statuses() -> dict[str, MinistryStatus]:
    return {
        r["code"]: MinistryStatus(r["code"], r["name"], int(r["national_status"]), as_bool(r["is_final"]))
        for r in read_csv("ministry_statuses.csv")
    }


@cache
def _pre2025_provinces() -> dict[str, Pre2025Province]:
    return {r["code"]: Pre2025Province(r["code"], r["name"], r["new_code"]) for r in read_csv("provinces_pre2025.csv")}


@cache
def _error_templates() -> dict[str, str]:
    doc: Any = read_yaml("errors.yaml")
    return {str(k): str(v) for k, v in doc.items()}


@cache
def _note_templates() -> dict[str, str]:
    doc: Any = read_yaml("notes.yaml")
    return {str(k): str(v) for k, v in doc.items()}


# --- public lookups ---------------------------------------------------------------------------


def procedure(code: str) -> Procedure | None:
    """The procedure with national code ``code`` (e.g. ``1.001776``), or None if not accepted."""
    return _procedures().get(code)


def procedures() -> tuple[Procedure, ...]:
    """All accepted procedures, in data-file order."""
    return tuple(_procedures().values())


def beneficiary_group(code: str) -> BeneficiaryGroup | None:
    """The beneficiary group with this code (e.g. ``NCT_80_KHONG_LUONG``), or None."""
    return _groups().get(code)


def beneficiary_groups() -> tuple[BeneficiaryGroup, ...]:
    """All beneficiary groups, in data-file order."""
    return tuple(_groups().values())


def component(code: str) -> Component | None:
    """The dossier component with this code (e.g. ``TK_1C``), or None."""
    return _components().get(code)


def components() -> tuple[Component, ...]:
    """All dossier components, in data-file order."""
    return tuple(_components().values())


def ethnic_group(code: str) -> str | None:
    """The name of the ethnic group with 2-digit code ``code`` (``01`` Kinh … ``54`` Rơ-măm), or None."""
    return _ethnic_groups().get(code)


def gender_code(national: int) -> str | None:
    """The ministry gender code for the national one: 1 → ``NAM``, 2 → ``NU``; None otherwise."""
    return _national_to_code("genders.csv").get(national)


def channel_code(national: int) -> str | None:
    """The ministry channel code for ``KenhThucHien``: 1 ``TRUC_TIEP``, 2 ``TRUC_TUYEN``, 3 ``BUU_CHINH``."""
    return _national_to_code("channels.csv").get(national)


def national_status_name(code: int) -> str | None:
    """The Vietnamese name of national portal status ``code`` (1..10), or None."""
    return _national_statuses().get(code)


def ministry_status(code: str) -> MinistryStatus | None:
    """The ministry status ``code`` (e.g. ``CHO_TIEP_NHAN``) with its mapping, or None."""
    return _ministry_statuses().get(code)


def ministry_statuses() -> tuple[MinistryStatus, ...]:
    """All ministry statuses, in data-file order."""
    return tuple(_ministry_statuses().values())


def national_status(ministry_status: str) -> int | None:
    """The national portal status (``TrangThaiHoSo``) for a ministry ``trangThai``, or None."""
    found = _ministry_statuses().get(ministry_status)
    return found.national_status if found else None


def pre2025_province(code: str) -> Pre2025Province | None:
    """The pre-2025 province with 2-digit ``code`` (also the ID-number prefix), or None."""
    return _pre2025_provinces().get(code)


class _KeepMissing(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def _render(templates: Mapping[str, str], key: str, params: Mapping[str, Any]) -> str:
    template = templates.get(key)
    if template is None:
        template = templates.get("_default", "{code}")
        params = {"code": key, **params}
    try:
        return template.format_map(_KeepMissing(params))
    except (ValueError, TypeError, IndexError, AttributeError):
        # A parameter of the wrong type for its format spec must not break error reporting.
        return template


def error_message(code: str, **params: Any) -> str:
    """The Vietnamese message for validation ``code``, with ``params`` filled into its template.

    Unknown codes get a generic message naming the code; missing parameters stay as ``{name}``.
    """
    return _render(_error_templates(), code, params)


def note_text(key: str, **params: Any) -> str:
    """A Vietnamese note text (``notes.yaml``) for the ministry body's ``ghiChu``."""
    return _render(_note_templates(), key, params)
