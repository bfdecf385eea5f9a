"""Administrative units in force (post-1 July 2025: 34 provinces, communes) and old→new codes.

The post-2025 lists come from the ``vietnam-provinces`` package; the pre-2025 provinces and the
pre-2025 communes with the post-2025 commune(s) each became part of are data files of this
package (``provinces_pre2025.csv``, ``communes_pre2025_to_new.csv``, the latter generated from
the published table by ``mappings/tools/communes_from_vietnamadminunits.py``). Codes are accepted
with or without leading zeros and normalised to 2 (province) and 5 (commune) digits.

Old and new commune codes overlap (16171 was Xã Nga Trường and is now Xã Ba Đình): :func:`commune`
reads a code against the list in force, :func:`old_commune` and :func:`new_communes_for_old`
against the pre-2025 list; which one applies is the caller's choice (the dossier's date).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from functools import cache
from typing import Literal

from vietnam_provinces import Province, Ward

from mappings._data import as_bool, read_csv
from mappings.model import CodeTranslation
from mappings.tables import pre2025_province


@dataclass(frozen=True)
class ProvinceInfo:
    """A province of the post-2025 list."""

    code: str  # 2 digits
    name: str


@dataclass(frozen=True)
class Commune:
    """A commune-level unit (xã, phường, đặc khu) of the post-2025 list."""

    code: str  # 5 digits
    name: str
    province_code: str  # 2 digits


@dataclass(frozen=True)
class UnitError:
    """Why a submitted unit could not be placed: which code, and the stable error code."""

    field: Literal["province", "commune"]
    code: str  # unknown_province | unknown_commune | commune_not_in_province | commune_split_ambiguous


@dataclass(frozen=True)
class UnitTranslation:
    """The units in force for a submitted (province, commune) pair.

    ``province_code``/``commune_code`` are the post-2025 codes when resolved (None otherwise);
    the pair is usable only when ``errors`` is empty.
    """

    submitted_province_code: str
    submitted_commune_code: str
    province_code: str | None
    commune_code: str | None
    errors: tuple[UnitError, ...] = ()

    @property
    def ok(self) -> bool:
        """True when both codes in force are known and consistent."""
        return not self.errors

    @property
    def translated(self) -> bool:
        """True when a pre-2025 code was replaced by the one in force (padding aside)."""
        return (self.province_code, self.commune_code) != (
            self.submitted_province_code,
            self.submitted_commune_code,
        )


@cache
def _provinces() -> dict[str, ProvinceInfo]:
    return {f"{int(p.code):02d}": ProvinceInfo(f"{int(p.code):02d}", p.name) for p in Province.iter_all()}


@cache
def _communes() -> dict[str, Commune]:
    return {
        f"{int(w.code):05d}": Commune(f"{int(w.code):05d}", w.name, f"{int(w.province_code):02d}")
        for w in Ward.iter_all()
    }


@dataclass(frozen=True)
class OldCommune:
    """A commune-level unit of the pre-2025 list (before 1 July 2025)."""

    code: str  # 5 digits
    name: str
    district: str  # the pre-2025 district (huyện, quận, thị xã, thành phố) it belonged to
    province_code: str  # 2 digits, the pre-2025 (63-province) code


@dataclass(frozen=True)
class NewCandidate:
    """A post-2025 commune that (part of) a pre-2025 commune became part of."""

    code: str  # 5 digits, a code of the list in force
    name: str
    province_code: str  # 2 digits, post-2025
    is_default: bool  # the table's default for a split commune; True for the only one otherwise


@cache
def _old_communes() -> dict[str, tuple[OldCommune, tuple[NewCandidate, ...]]]:
    olds: dict[str, OldCommune] = {}
    news: defaultdict[str, list[NewCandidate]] = defaultdict(list)
    for row in read_csv("communes_pre2025_to_new.csv"):
        old, new = normalise_code(row["old_code"], 5), normalise_code(row["new_code"], 5)
        old_province = normalise_code(row["old_province_code"], 2)
        if old is None or new is None or old_province is None or new not in _communes():
            raise ValueError(f"communes_pre2025_to_new.csv: bad row {row!r}")
        unit = OldCommune(old, row["old_name"], row["old_district"], old_province)
        if olds.setdefault(old, unit) != unit:
            raise ValueError(f"communes_pre2025_to_new.csv: old commune {old} described twice")
        in_force = _communes()[new]
        if in_force.province_code != row["new_province_code"] or any(c.code == new for c in news[old]):
            raise ValueError(f"communes_pre2025_to_new.csv: bad row {row!r}")
        news[old].append(NewCandidate(new, row["new_name"], in_force.province_code, as_bool(row["is_default"])))
    out: dict[str, tuple[OldCommune, tuple[NewCandidate, ...]]] = {}
    for code, unit in olds.items():
        candidates = tuple(news[code])
        if sum(c.is_default for c in candidates) != 1:
            raise ValueError(f"communes_pre2025_to_new.csv: old commune {code} needs exactly one default")
        out[code] = (unit, candidates)
    return out


@cache
def _commune_translations() -> dict[str, tuple[str, ...]]:
    """Pre-2025 codes that are not codes in force -> their new commune codes (``translate_unit``)."""
    communes = _communes()
    return {
        old: tuple(c.code for c in candidates)
        for old, (_, candidates) in _old_communes().items()
        if old not in communes
    }


def normalise_code(code: str | int, width: int) -> str | None:
    """``code`` zero-padded to ``width`` digits, or None if it is not 1..width digits."""
    text = str(code).strip()
    if not text.isascii() or not text.isdigit() or len(text) > width:
        return None
    return text.zfill(width)


def province(code: str) -> ProvinceInfo | None:
    """The post-2025 province with this code (``8`` or ``08``), or None."""
    norm = normalise_code(code, 2)
    return _provinces().get(norm) if norm else None


def commune(code: str) -> Commune | None:
    """The post-2025 commune with this code (``16171``; leading zeros optional), or None."""
    norm = normalise_code(code, 5)
    return _communes().get(norm) if norm else None


def old_commune(code: str) -> OldCommune | None:
    """The pre-2025 commune with this code (``16171``: Xã Nga Trường, Nga Sơn), or None.

    The code is read against the pre-2025 list even when it is also a code in force.
    """
    norm = normalise_code(code, 5)
    found = _old_communes().get(norm) if norm else None
    return found[0] if found else None


def new_communes_for_old(code: str) -> tuple[NewCandidate, ...]:
    """The post-2025 commune(s) the pre-2025 commune ``code`` became part of; () if unknown.

    One candidate for most communes; two to five for a split one, exactly one of them
    ``is_default``. Choosing among them is the caller's job (processing unit, address).
    """
    norm = normalise_code(code, 5)
    found = _old_communes().get(norm) if norm else None
    return found[1] if found else ()


def translate_unit(province_code: str, commune_code: str) -> UnitTranslation:
    """Resolve a submitted (province, commune) pair to the codes in force.

    A post-2025 province code is in force; a pre-2025 one translates to the province it merged
    into. A post-2025 commune code is in force (even when it was also a pre-2025 code of another
    commune: this function does not know the dossier's date); otherwise the pre-2025 table is used,
    and a code missing from it (``unknown_commune``) or split between several new communes
    (``commune_split_ambiguous``) is refused. The commune must lie in the (translated) province
    (``commune_not_in_province``). Every fault found is listed in ``errors``.
    """
    p_norm = normalise_code(province_code, 2)
    c_norm = normalise_code(commune_code, 5)
    errors: list[UnitError] = []

    new_province: str | None = None
    if p_norm is not None and p_norm in _provinces():
        new_province = p_norm
    elif p_norm is not None and (old := pre2025_province(p_norm)) is not None:
        new_province = old.new_code
    else:
        errors.append(UnitError("province", "unknown_province"))

    new_commune: Commune | None = None
    if c_norm is not None:
        new_commune = _communes().get(c_norm)
        if new_commune is None:
            targets = _commune_translations().get(c_norm, ())
            if len(targets) > 1:
                errors.append(UnitError("commune", "commune_split_ambiguous"))
            elif targets:
                new_commune = _communes().get(targets[0])
    if new_commune is None and not any(e.field == "commune" for e in errors):
        errors.append(UnitError("commune", "unknown_commune"))

    if new_commune is not None and new_province is not None and new_commune.province_code != new_province:
        errors.append(UnitError("commune", "commune_not_in_province"))

    return UnitTranslation(
        submitted_province_code=p_norm or str(province_code).strip(),
        submitted_commune_code=c_norm or str(commune_code).strip(),
        province_code=new_province,
        commune_code=new_commune.code if new_commune else None,
        errors=tuple(errors),
    )


# --- the dossier's date decides the list (the 1 July 2025 reform) ------------------------------

# Resolution 202/2025/QH15 and the Law on Local Government 2025: the 34-province, two-level list is in
# force from 1 July 2025; Decision 19/2025/QĐ-TTg publishes the codes. A dossier received (NgayTiepNhan,
# Vietnam time) before this day carries codes of the pre-2025 list.
REFORM_DAY = date(2025, 7, 1)


def old_list_applies(received_on: date) -> bool:
    """True when a dossier received on ``received_on`` (Vietnam date) carries pre-2025 codes."""
    return received_on < REFORM_DAY


class Rule(StrEnum):
    """How a pre-2025 code was turned into the code in force (recorded with each translation)."""

    ONE_TO_ONE = "one_to_one"  # the old unit became (part of) exactly one unit in force
    SPLIT_BY_PROCESSING_UNIT = "split_by_processing_unit"  # split commune: MaDonViXuLy chose
    SPLIT_BY_RESIDENCE = "split_by_residence"  # split commune as MaDonViXuLy: the residence commune chose


@dataclass(frozen=True)
class Fault:
    """A code that cannot be placed: the stable error code and what its message names.

    ``field`` is ``province``, ``commune`` or ``processing_unit``; ``params`` feed the message
    (``value``, ``old_name``, ``suggestion``, ``candidates``, ``province``); ``choices`` are the
    codes in force the sender may pick from, as (code, name).
    """

    field: Literal["province", "commune", "processing_unit"]
    code: str
    params: dict[str, str]
    choices: tuple[tuple[str, str], ...] = ()
    template: str | None = None  # the message's errors.yaml key, when not ``code``


@dataclass(frozen=True)
class Residence:
    """A residence's (province, commune) placed in the list in force, or the faults found."""

    province_code: str | None
    commune_code: str | None
    submitted_province_code: str
    submitted_commune_code: str
    translations: tuple[CodeTranslation, ...] = ()
    faults: tuple[Fault, ...] = ()


@dataclass(frozen=True)
class ProcessingUnit:
    """``MaDonViXuLy`` in force: the code to send, the translation made (if any), or a fault."""

    code: str | None
    translation: CodeTranslation | None = None
    fault: Fault | None = None


def _listing(candidates: tuple[NewCandidate, ...]) -> str:
    return ", ".join(f"{c.code} ({c.name})" for c in candidates)


def _old_label(unit: OldCommune) -> str:
    return f"{unit.name}, {unit.district}"


def _split_choice(candidates: tuple[NewCandidate, ...], hints: set[str]) -> NewCandidate | None:
    chosen = [c for c in candidates if c.code in hints]
    return chosen[0] if len(chosen) == 1 else None


def _unit_hints(processing_unit: str | None) -> set[str]:
    """The codes in force a pre-2025 ``MaDonViXuLy`` is or translates to (for a split commune)."""
    if processing_unit is None or not _is_commune_code(processing_unit):
        return set()
    return {processing_unit, *(c.code for c in new_communes_for_old(processing_unit))}


def _is_commune_code(text: str) -> bool:
    # Only exactly five digits: a processing unit may be an agency code ("000.00.12.H56") or a
    # three-digit district code, and zero-padding "389" would make it some commune's code.
    return len(text) == 5 and text.isascii() and text.isdigit()


def place_residence(
    province_code: str, commune_code: str, *, received_on: date, processing_unit: str | None = None
) -> Residence:
    """Place a residence's codes by the dossier's date (Decision 19/2025, the 1 July 2025 reform).

    Received before :data:`REFORM_DAY`: both codes are read in the pre-2025 lists (the commune must
    lie in the province) and translated; a split commune is resolved by ``processing_unit`` when it
    is, or translates to, one of the candidates, else ``commune_split_ambiguous``. A code missing
    from the old list but in force (the few new-only codes) is taken as in force. From that day:
    codes in force only; a pre-2025-only code is ``old_province_code``/``old_commune_code`` with
    the new code(s) suggested. Every translation is recorded, even to the same code
    (16171 was Xã Nga Trường and is now part of Xã Ba Đình, also 16171).
    """
    p_norm = normalise_code(province_code, 2)
    c_norm = normalise_code(commune_code, 5)
    sub_p = p_norm or str(province_code).strip()
    sub_c = c_norm or str(commune_code).strip()
    if old_list_applies(received_on):
        return _place_old(sub_p, sub_c, p_norm, c_norm, processing_unit)
    return _place_new(sub_p, sub_c, p_norm, c_norm)


def _place_new(sub_p: str, sub_c: str, p_norm: str | None, c_norm: str | None) -> Residence:
    faults: list[Fault] = []
    prov: str | None = None
    if p_norm is not None and p_norm in _provinces():
        prov = p_norm
    elif p_norm is not None and (old := pre2025_province(p_norm)) is not None:
        new = _provinces()[old.new_code]
        faults.append(Fault("province", "old_province_code",
                            {"value": p_norm, "old_name": old.name, "suggestion": f"{new.code} ({new.name})"},
                            ((new.code, new.name),)))
    else:
        faults.append(Fault("province", "unknown_province", {"value": sub_p}))

    comm: Commune | None = _communes().get(c_norm) if c_norm else None
    if comm is None:
        found = _old_communes().get(c_norm) if c_norm else None
        if found is not None:
            old_unit, candidates = found
            faults.append(Fault("commune", "old_commune_code",
                                {"value": old_unit.code, "old_name": _old_label(old_unit),
                                 "suggestion": _listing(candidates)},
                                tuple((c.code, c.name) for c in candidates)))
        else:
            faults.append(Fault("commune", "unknown_commune", {"value": sub_c}))
    elif prov is not None and comm.province_code != prov:
        faults.append(Fault("commune", "commune_not_in_province",
                            {"value": comm.code, "province": f"{prov} ({_provinces()[prov].name})"}))
        comm = None
    return Residence(prov if not faults else None, comm.code if comm and not faults else None, sub_p, sub_c,
                     faults=tuple(faults))


def _place_old(
    sub_p: str, sub_c: str, p_norm: str | None, c_norm: str | None, processing_unit: str | None
) -> Residence:
    faults: list[Fault] = []
    translations: list[CodeTranslation] = []
    old_prov = pre2025_province(p_norm) if p_norm else None
    prov: str | None = None
    if old_prov is not None:
        prov = old_prov.new_code
        translations.append(CodeTranslation("province", old_prov.code, old_prov.name, prov,
                                             _provinces()[prov].name, Rule.ONE_TO_ONE))
    elif p_norm is not None and p_norm in _provinces():
        prov = p_norm
    else:
        faults.append(Fault("province", "unknown_province", {"value": sub_p}))

    comm: str | None = None
    found = _old_communes().get(c_norm) if c_norm else None
    if found is not None:
        old_unit, candidates = found
        if old_prov is not None and old_unit.province_code != old_prov.code:
            faults.append(Fault("commune", "commune_not_in_province",
                                {"value": old_unit.code, "province": f"{old_prov.code} ({old_prov.name})"}))
        elif len(candidates) == 1:
            comm = candidates[0].code
            translations.append(CodeTranslation("commune", old_unit.code, _old_label(old_unit), comm,
                                                 candidates[0].name, Rule.ONE_TO_ONE))
        elif (choice := _split_choice(candidates, _unit_hints(processing_unit))) is not None:
            comm = choice.code
            translations.append(CodeTranslation("commune", old_unit.code, _old_label(old_unit), comm, choice.name,
                                                 Rule.SPLIT_BY_PROCESSING_UNIT))
        else:
            faults.append(Fault("commune", "commune_split_ambiguous",
                                {"value": old_unit.code, "old_name": _old_label(old_unit),
                                 "candidates": _listing(candidates)},
                                tuple((c.code, c.name) for c in candidates)))
    elif c_norm is not None and c_norm in _communes():
        comm = c_norm  # a code created by the reform: it can only be a code in force
    else:
        faults.append(Fault("commune", "unknown_commune", {"value": sub_c}, template="unknown_commune_pre2025"))

    if comm is not None and prov is not None and _communes()[comm].province_code != prov:
        faults.append(Fault("commune", "commune_not_in_province",
                            {"value": sub_c, "province": f"{prov} ({_provinces()[prov].name})"}))
    if faults:
        return Residence(None, None, sub_p, sub_c, faults=tuple(faults))
    return Residence(prov, comm, sub_p, sub_c, translations=tuple(translations))


def place_processing_unit(unit: str, *, received_on: date, residence_commune: str | None = None) -> ProcessingUnit:
    """``MaDonViXuLy`` in force, by the dossier's date; a unit that is no commune code passes as is.

    Only a code of exactly five digits is read as a commune. Before :data:`REFORM_DAY` a pre-2025
    commune is translated (a split one to the candidate that is the residence's commune in force,
    ``residence_commune``, else ``commune_split_ambiguous``); from that day a pre-2025-only commune
    code is ``old_commune_code``.
    """
    if not _is_commune_code(unit):
        return ProcessingUnit(unit)
    found = _old_communes().get(unit)
    if not old_list_applies(received_on):
        if unit in _communes() or found is None:
            return ProcessingUnit(unit)
        old_unit, candidates = found
        return ProcessingUnit(None, fault=Fault(
            "processing_unit", "old_commune_code",
            {"value": unit, "old_name": _old_label(old_unit), "suggestion": _listing(candidates)},
            tuple((c.code, c.name) for c in candidates)))
    if found is None:
        return ProcessingUnit(unit)
    old_unit, candidates = found
    if len(candidates) == 1:
        choice, rule = candidates[0], Rule.ONE_TO_ONE
    elif (picked := _split_choice(candidates, {residence_commune} if residence_commune else set())) is not None:
        choice, rule = picked, Rule.SPLIT_BY_RESIDENCE
    else:
        return ProcessingUnit(None, fault=Fault(
            "processing_unit", "commune_split_ambiguous",
            {"value": unit, "old_name": _old_label(old_unit), "candidates": _listing(candidates)},
            tuple((c.code, c.name) for c in candidates)))
    translation = CodeTranslation("processing_unit", unit, _old_label(old_unit), choice.code, choice.name, rule)
    return ProcessingUnit(choice.code, translation)
