"""What every administrator's decision on one dossier starts with: a reason, and the dossier locked."""

from __future__ import annotations

from sqlmodel import Session

from gateway.dossiers import repository as dossiers
from gateway.dossiers.repository import LockedDossier
from gateway.problems import Problem
from mappings.errors import FieldError


def required_reason(reason: str, why: str) -> str:
    """``reason`` with its whitespace folded; 422 naming the ``reason`` field (``why`` its message) when blank."""
    folded = " ".join(reason.split())
    if not folded:
        raise Problem(422, "validation_failed", "Cần nêu lý do.", errors=[FieldError("reason", "required", why)])
    return folded


def locked_dossier(session: Session, ma_ho_so: str) -> LockedDossier:
    """The dossier ``ma_ho_so``, locked for this transaction; 404 when there is none."""
    row = dossiers.lock_existing(session, ma_ho_so)
    if row is None:
        raise Problem(404, "dossier_not_found", f"Không có hồ sơ {ma_ho_so}.")
    return row
