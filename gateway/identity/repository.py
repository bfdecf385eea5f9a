"""The sole owner of the ``identity_check`` table: one row per checked revision, no personal values."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlmodel import Session

from gateway.models import IdentityCheck
from mappings.identity import IdentityAction


@dataclass(frozen=True)
class NewCheck:
    """What one check found and what was done with the revision."""

    dossier_id: str
    ma_ho_so: str
    revision_id: str
    revision: int
    outcome: str
    action: str
    commune_code: str
    fields: tuple[str, ...] = ()
    deceased: bool = False
    request_id: str | None = None
    reason: str | None = None


def record(session: Session, check: NewCheck, at: datetime) -> None:
    """Store ``check`` (once per revision: the unique revision id refuses a second)."""
    session.add(IdentityCheck(
        dossier_id=check.dossier_id, ma_ho_so=check.ma_ho_so, revision_id=check.revision_id,
        revision=check.revision, outcome=check.outcome, action=check.action, commune_code=check.commune_code,
        fields=list(check.fields), deceased=check.deceased, request_id=check.request_id, reason=check.reason,
        checked_at=at))
    session.flush()


def for_revision(session: Session, revision_id: str) -> IdentityCheck | None:
    """The check of revision ``revision_id``, if it was checked."""
    return session.execute(
        select(IdentityCheck).where(IdentityCheck.revision_id == revision_id)  # type: ignore[arg-type]
    ).scalar_one_or_none()


def lock_held(session: Session, revision_id: str) -> IdentityCheck | None:
    """The held check of revision ``revision_id``, locked (on PostgreSQL) for a release; None if not held."""
    return session.execute(
        select(IdentityCheck)
        .where(IdentityCheck.revision_id == revision_id, IdentityCheck.action == IdentityAction.HELD)  # type: ignore[arg-type]
        .with_for_update()
    ).scalar_one_or_none()


def mark_released(session: Session, check: IdentityCheck, *, actor: str, reason: str, at: datetime) -> None:
    """A held revision goes to the ministry on ``actor``'s word."""
    check.action = IdentityAction.RELEASED
    check.released_at, check.released_by, check.reason = at, actor, reason
    session.add(check)
    session.flush()


def mark_corrected(session: Session, dossier_id: str) -> None:
    """The dossier's held revisions were replaced by a corrected one (which is checked again)."""
    session.execute(
        update(IdentityCheck)
        .where(IdentityCheck.dossier_id == dossier_id, IdentityCheck.action == IdentityAction.HELD)  # type: ignore[arg-type]
        .values(action=IdentityAction.CORRECTED))


DISAGREEING = (IdentityAction.HELD, IdentityAction.WARNED, IdentityAction.RELEASED, IdentityAction.CORRECTED)
"""The actions of a check that found a disagreement (the communes' data-cleaning report)."""


def disagreements(session: Session, *, since: datetime | None, commune: str | None, held_only: bool = False,
                  limit: int = 1000, offset: int = 0) -> tuple[int, Sequence[IdentityCheck]]:
    """(how many, a page) of the checks that found a disagreement, newest first."""
    actions = (IdentityAction.HELD,) if held_only else DISAGREEING
    where = [IdentityCheck.action.in_(actions)]  # type: ignore[attr-defined]
    if since is not None:
        where.append(IdentityCheck.checked_at >= since)
    if commune is not None:
        where.append(IdentityCheck.commune_code == commune)
    total = int(session.execute(select(func.count()).select_from(IdentityCheck).where(*where)).scalar_one())
    rows = session.execute(
        select(IdentityCheck).where(*where)
        .order_by(IdentityCheck.checked_at.desc(), IdentityCheck.id)  # type: ignore[attr-defined]
        .limit(limit).offset(offset)
    ).scalars().all()
    return total, rows


def held_summary(session: Session) -> tuple[int, datetime | None]:
    """(how many revisions are held, since when the oldest), for the metrics."""
    count, oldest = session.execute(
        select(func.count(), func.min(IdentityCheck.checked_at))
        .where(IdentityCheck.action == IdentityAction.HELD)  # type: ignore[arg-type]
    ).one()
    return int(count), oldest


def checks_of(session: Session, dossier_id: str) -> Sequence[IdentityCheck]:
    """Every check of the dossier's revisions, oldest first (its timeline)."""
    return session.execute(
        select(IdentityCheck).where(IdentityCheck.dossier_id == dossier_id)  # type: ignore[arg-type]
        .order_by(IdentityCheck.checked_at, IdentityCheck.revision)  # type: ignore[arg-type]
    ).scalars().all()
