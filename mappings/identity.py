"""What a population-database answer means for a dossier (population-api.md §2, DESIGN "Identity first").

Pure: :func:`judge` turns the service's ``ketQua``/``truongSaiLech``/``daMat`` into the outcome the
gateway records, the province's field paths at fault (never their values) and whether the dossier
disagrees with the database (held under ``GATEWAY_IDENTITY_POLICY=block``, noted under ``warn``).
A funeral-support dossier is about a dead person: there ``daMat: true`` confirms the death and
``false`` is the database lagging (noted, not held); a name, birth date or gender mismatch still counts.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from mappings.tables import note_text

FUNERAL_KIND = "funeral_support"

# The service's field names (truongSaiLech) -> the province's field paths (province-api.md §2).
FIELD_PATHS: dict[str, str] = {
    "hoTen": "DuLieuToKhai.HoTen",
    "ngaySinh": "DuLieuToKhai.NgaySinh",
    "gioiTinh": "DuLieuToKhai.GioiTinh",
}
ID_PATH = "DuLieuToKhai.SoDinhDanh"  # at fault when the database knows no one by that number


class IdentityOutcome(StrEnum):
    """What the check found (``identity_check.outcome``)."""

    VERIFIED = "verified"  # KHOP (and alive, or dead as a funeral dossier expects)
    MISMATCH = "mismatch"  # SAI_LECH: the fields named disagree
    NOT_FOUND = "not_found"  # KHONG_TIM_THAY: no one with this ID number
    DECEASED = "deceased"  # the database records the beneficiary of a monthly allowance as dead
    UNVERIFIED = "unverified"  # the service could not answer in time (or refused our request)


class IdentityAction(StrEnum):
    """What the gateway did with the revision after the check (``identity_check.action``)."""

    DELIVERED = "delivered"  # verified: on to the ministry
    HELD = "held"  # disagrees, policy block: not delivered
    WARNED = "warned"  # disagrees, policy warn: delivered with the disagreement in ghiChu
    UNVERIFIED = "unverified"  # delivered marked unverified (service down past the wait, or it refused)
    RELEASED = "released"  # held, then delivered on an administrator's word
    CORRECTED = "corrected"  # held, then replaced by a corrected revision (checked again)


@dataclass(frozen=True)
class Judgement:
    """The meaning of one answer."""

    outcome: IdentityOutcome
    fields: tuple[str, ...]  # the province's field paths at fault
    deceased: bool  # daMat
    disagrees: bool  # held (block) or noted (warn)
    note: str | None = None  # ghiChu for the ministry when it is delivered as is (a funeral dossier's lag)


def judge(result: str, mismatched: Iterable[str], deceased: bool, *, procedure_kind: str) -> Judgement:
    """The meaning of ``ketQua`` = ``result`` with ``truongSaiLech`` = ``mismatched`` and ``daMat``."""
    fields = tuple(FIELD_PATHS[name] for name in FIELD_PATHS if name in set(mismatched))
    funeral = procedure_kind == FUNERAL_KIND
    if result == "KHONG_TIM_THAY":
        return Judgement(IdentityOutcome.NOT_FOUND, (ID_PATH,), deceased, disagrees=True)
    if result == "SAI_LECH" or fields:
        return Judgement(IdentityOutcome.MISMATCH, fields or (ID_PATH,), deceased, disagrees=True)
    if deceased and not funeral:
        return Judgement(IdentityOutcome.DECEASED, (), True, disagrees=True)
    note = note_text("identity_death_not_recorded") if funeral and not deceased else None
    return Judgement(IdentityOutcome.VERIFIED, (), deceased, disagrees=False, note=note)


def disagreement_text(judgement: Judgement) -> str:
    """The Vietnamese sentence naming what disagrees (fields by path, never values), for ghiChu and callbacks."""
    if judgement.outcome is IdentityOutcome.NOT_FOUND:
        return note_text("identity_not_found")
    if judgement.outcome is IdentityOutcome.DECEASED:
        return note_text("identity_deceased")
    text = note_text("identity_mismatch", fields=", ".join(judgement.fields))
    return f"{text} {note_text('identity_also_deceased')}" if judgement.deceased else text
