"""Dossiers whose create answered 409 and whose ministry copy holds other content (delivery state ``conflict``):
the list for administrators, and their decision, audited in the transaction of the action.

``accept``: the ministry's copy stands (the officer there was told by other means, or the difference does not
matter): the revision is recorded delivered with the ministry's id, knowingly. ``retry``: the revision is
delivered again, the same body under the same keys, so the ministry's copy is read and compared afresh (a
supplement goes once the ministry asks for more).

A conflict whose only difference is files the ministry's copy lacks (``not_supplementable``) needs no
administrator once the ministry asks for more: the change feed's ``YEU_CAU_BO_SUNG`` delivers the revision again
(:func:`retry_when_asked`), and those files go through ``bo-sung``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import structlog
from sqlmodel import Session

from gateway.admin.actions import locked_dossier, required_reason
from gateway.admin.service import audit
from gateway.callbacks.events import announcement
from gateway.db import Database
from gateway.delivery.schemas import ConflictItem, ConflictPage, ResolveResult
from gateway.dossiers import repository as dossiers
from gateway.dossiers.repository import NewEvent
from gateway.dossiers.schemas import ConflictState
from gateway.identity.steps import delivery
from gateway.models import DeliveryState, DossierEvent
from gateway.problems import Problem
from gateway.vocabulary import ConflictAction, ConflictReason, DossierEventKind
from gateway.workflow import Outcome, finish_step
from outbox.columns import utcnow

log = structlog.get_logger(__name__)


def audit_action(action: ConflictAction) -> str:
    """The audit log's action of a decision (``conflict_accept``, ``conflict_retry``)."""
    return f"conflict_{action.value}"


def conflicts(db: Database, *, limit: int = 1000, offset: int = 0) -> ConflictPage:
    """The dossiers in ``conflict``, latest first, each with why (names only)."""
    with db.session() as session:
        total, rows = dossiers.in_conflict(session, limit=limit, offset=offset)
        items = []
        for row, event in rows:
            state = (ConflictState.of(event.revision, event.detail, event.at.isoformat()) if event is not None
                     else ConflictState(revision=row.current_revision, reason="", ministry_id=row.ministry_id,
                                        ministry_status=row.ministry_status, at=row.updated_at.isoformat()))
            items.append(ConflictItem(MaHoSo=row.ma_ho_so, **state.model_dump()))
        return ConflictPage(count=total, items=items)


def count(db: Database) -> int:
    """How many dossiers are in ``conflict`` (the metric)."""
    with db.session() as session:
        return dossiers.count_in_conflict(session)


def resolve(db: Database, ma_ho_so: str, *, action: ConflictAction, actor: str, reason: str,
            notify: bool = False) -> ResolveResult:
    """Decide on a dossier in ``conflict`` (see the module's docstring); ``notify``: province callbacks are on (an
    accepted dossier never announced gets its DA_CHUYEN_BO).

    404 for an unknown dossier, 409 for one not in ``conflict``, 422 for a blank reason.
    """
    reason = required_reason(reason, "Cần nêu lý do của quyết định (ghi vào nhật ký quản trị).")
    with db.session(write=True) as session:
        row = locked_dossier(session, ma_ho_so)
        job = dossiers.delivery_job(session, row.id, row.current_revision)
        if job is None or row.delivery_state != DeliveryState.CONFLICT:
            raise Problem(409, "not_in_conflict", f"Hồ sơ {ma_ho_so} không ở trạng thái khác bản ở Bộ (conflict); "
                          "không có gì để xử lý.", extra={"MaHoSo": ma_ho_so, "state": row.delivery_state})
        _, detail = _latest_conflict(session, row.id)
        ministry_id = job.ministry_id or detail.get("ministry_id")
        now = utcnow()
        outcome = Outcome(events=[NewEvent(row.id, DossierEventKind.CONFLICT_RESOLVED, now, job.revision,
                                           {"action": action.value, "by": actor, "reason": reason,
                                            "ministry_id": ministry_id})])
        if action == ConflictAction.ACCEPT:
            _, announced = dossiers.lock_announcement(session, row.id)
            dossiers.mark_delivered(session, job, now, ministry_id=ministry_id, announced=True)
            if not announced and notify:
                outcome.then.append(announcement(ma_ho_so, ministry_id, row.id, now))
            state = DeliveryState.DELIVERED
        else:
            _deliver_again(session, row.id, ma_ho_so, job.revision, detail, outcome)
            state = DeliveryState.QUEUED
        audit(session, actor, audit_action(action), {"MaHoSo": ma_ho_so, "revision": job.revision},
              {"reason": reason, "conflict": detail.get("reason"), "ministry_id": ministry_id})
        finish_step(session, outcome)
    log.info("admin_action", action=audit_action(action), actor=actor, ma_ho_so=ma_ho_so, revision=job.revision)
    return ResolveResult(MaHoSo=ma_ho_so, revision=job.revision, action=action, state=state)


def retry_when_asked(session: Session, dossier_id: str, ma_ho_so: str, current_revision: int, at: datetime,
                     outcome: Outcome) -> None:
    """The ministry asks for more (``YEU_CAU_BO_SUNG``) about dossier ``dossier_id``, which is in ``conflict``:
    when the conflict is ``not_supplementable`` (only files missing) and about the current revision, the revision
    is queued for delivery again (its files then go through ``bo-sung``), the history says so, and ``outcome``
    gets the delivery step. Any other conflict still waits for an administrator.

    Runs in the transaction that records the ministry's change, the dossier locked by it."""
    found, detail = _latest_conflict(session, dossier_id)
    if found is None or found.revision != current_revision or detail.get("reason") != ConflictReason.NOT_SUPPLEMENTABLE:
        return
    outcome.events.append(NewEvent(dossier_id, DossierEventKind.CONFLICT_RETRIED, at, current_revision,
                                   {"reason": detail.get("reason"), "ministry_id": detail.get("ministry_id")}))
    _deliver_again(session, dossier_id, ma_ho_so, current_revision, detail, outcome)
    log.info("conflict_retried_when_asked", ma_ho_so=ma_ho_so, revision=current_revision,
             ministry_id=detail.get("ministry_id"))


def _latest_conflict(session: Session, dossier_id: str) -> tuple[DossierEvent | None, dict[str, Any]]:
    """The dossier's latest ``delivery_conflict`` event and its detail (empty when there is none)."""
    found = dossiers.latest_event(session, dossier_id, DossierEventKind.DELIVERY_CONFLICT)
    return found, (found.detail if found is not None else None) or {}


def _deliver_again(session: Session, dossier_id: str, ma_ho_so: str, revision: int, detail: dict[str, Any],
                   outcome: Outcome) -> None:
    """Queue the revision in conflict for delivery again, with the note its first attempt carried: the same body
    under the same keys, so the ministry's copy is read and compared afresh."""
    dossiers.mark_queued(session, dossier_id)
    outcome.then.append(delivery(ma_ho_so, dossier_id, revision, detail.get("note")))
