"""Identity-check lookups and actions: a dossier's check, the disagreement report, releasing a held dossier."""

from __future__ import annotations

from datetime import datetime

from gateway.admin.actions import locked_dossier, required_reason
from gateway.admin.service import audit
from gateway.db import Database
from gateway.dossiers import repository as dossiers
from gateway.dossiers.repository import NewEvent
from gateway.identity import repository
from gateway.identity.schemas import Mismatch, MismatchPage, ReleaseResult
from gateway.identity.steps import delivery
from gateway.models import DeliveryState, IdentityCheck
from gateway.problems import Problem
from gateway.vocabulary import DossierEventKind
from gateway.workflow import Outcome, finish_step
from mappings.tables import note_text
from outbox.columns import utcnow

RELEASE_ACTION = "release"  # the audit log's action


def _mismatch(check: IdentityCheck) -> Mismatch:
    return Mismatch(MaHoSo=check.ma_ho_so, revision=check.revision, maXa=check.commune_code, outcome=check.outcome,
                    fields=list(check.fields), deceased=check.deceased, action=check.action,
                    checkedAt=check.checked_at, requestId=check.request_id)


def mismatches(db: Database, *, since: datetime | None = None, commune: str | None = None, held_only: bool = False,
               limit: int = 1000, offset: int = 0) -> MismatchPage:
    """The revisions the population database disagreed with, newest first (field names only)."""
    with db.session() as session:
        total, rows = repository.disagreements(session, since=since, commune=commune, held_only=held_only,
                                               limit=limit, offset=offset)
        return MismatchPage(count=total, items=[_mismatch(r) for r in rows])


def held_summary(db: Database) -> tuple[int, float]:
    """(how many dossiers are held, the oldest one's age in seconds; 0 when none)."""
    with db.session() as session:
        count, oldest = repository.held_summary(session)
    if oldest is None:
        return count, 0.0
    if oldest.tzinfo is None:  # a raw aggregate on SQLite bypasses the column type
        oldest = datetime.fromisoformat(str(oldest)).replace(tzinfo=utcnow().tzinfo)
    return count, max(0.0, (utcnow() - oldest).total_seconds())


def release(db: Database, ma_ho_so: str, *, actor: str, reason: str) -> ReleaseResult:
    """Deliver a held dossier anyway, ``reason`` written in the ministry's ghiChu; audited in the same transaction.

    404 for an unknown dossier, 409 for one that is not held, 422 for a blank reason.
    """
    reason = required_reason(reason, "Cần nêu lý do chuyển hồ sơ khi chưa khớp CSDL dân cư.")
    with db.session(write=True) as session:
        row = locked_dossier(session, ma_ho_so)
        job = dossiers.delivery_job(session, row.id, row.current_revision)
        check = repository.lock_held(session, job.revision_id) if job is not None else None
        if job is None or check is None or row.delivery_state != DeliveryState.HELD:
            raise Problem(409, "not_held", f"Hồ sơ {ma_ho_so} không ở trạng thái tạm dừng (held); không có gì để "
                          "chuyển.", extra={"MaHoSo": ma_ho_so, "state": row.delivery_state})
        now = utcnow()
        repository.mark_released(session, check, actor=actor, reason=reason, at=now)
        dossiers.mark_queued(session, row.id)
        audit(session, actor, RELEASE_ACTION, {"MaHoSo": ma_ho_so, "revision": job.revision},
              {"reason": reason, "fields": list(check.fields)})
        finish_step(session, Outcome(
            events=[NewEvent(row.id, DossierEventKind.RELEASED, now, job.revision, {"by": actor, "reason": reason})],
            then=[delivery(ma_ho_so, row.id, job.revision, note_text("identity_released", reason=reason))]))
        return ReleaseResult(MaHoSo=ma_ho_so, revision=job.revision, state=DeliveryState.QUEUED)
