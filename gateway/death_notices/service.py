"""Death-notice intake and lookup: validate, then store the notice, its files and its first step in ONE transaction."""

from __future__ import annotations

from dataclasses import dataclass

import structlog
from sqlalchemy.exc import IntegrityError

from gateway.blobs import is_storage_full
from gateway.db import Database
from gateway.death_notices import repository
from gateway.death_notices.schemas import FuneralStep, LookupStep, NoticeDetail, NoticeReceipt, NoticeSteps, StopStep
from gateway.death_notices.steps import lookup_step
from gateway.dossiers import repository as dossiers
from gateway.dossiers.receive import Submission, storage_full
from gateway.dossiers.schemas import Links
from gateway.models import DeathNotice
from gateway.problems import Problem
from gateway.workflow import Outcome, finish_step
from mappings.death_notice import notice_fingerprint, notice_to_json, parse_death_notice

log = structlog.get_logger(__name__)

CONFLICT = "death_notice_conflict"


@dataclass(frozen=True)
class NoticeAnswer:
    """202 for a new notice, 200 for the same content again."""

    status_code: int
    receipt: NoticeReceipt


def _state(notice: DeathNotice) -> str:
    """queued (nothing done yet), in_progress, done (the funeral dossier exists: it lives on as a dossier) or
    failed (the chain stopped before it: the lookup failed for good, or no group to open it with)."""
    steps = notice.steps
    funeral = steps.get("funeral_dossier", {}).get("state")
    if funeral == "created":
        return "done"
    if funeral in ("failed", "conflict") or steps.get("lookup", {}).get("state") == "failed":
        return "failed"
    return "queued" if steps.get("lookup", {}).get("state") == "pending" else "in_progress"


def _receipt(notice: DeathNotice) -> NoticeReceipt:
    code = notice.ma_ho_so_lien_thong
    return NoticeReceipt(id=notice.id, MaHoSoLienThong=code, state=_state(notice),
                         links=Links(self=f"/api/v1/death-notices/{code}"))


def submit_notice(db: Database, submission: Submission, client_name: str) -> NoticeAnswer:
    """Validate a received death notice and store it durably; raises :class:`Problem` on any fault."""
    facts = submission.facts()
    notice, errors = parse_death_notice(submission.raw, facts)
    errors = [*submission.errors, *errors]
    if errors or notice is None:
        raise Problem(422, "validation_failed", "Hồ sơ liên thông khai tử có dữ liệu không hợp lệ.", errors=errors)
    digest = notice_fingerprint(notice, facts)
    try:
        for blob in submission.files.values():
            blob.commit()
    except Exception as exc:  # the file system's OSError, or the database store's error
        if is_storage_full(exc):
            raise storage_full() from exc
        raise
    files = [{"file_id": fid, "sha256": blob.sha256, "size": blob.size, "content_type": blob.content_type or ""}
             for fid, blob in sorted(submission.files.items())]
    for _attempt in range(2):  # a concurrent post of the same notice: the unique code decides, then we re-read
        try:
            with db.session(write=True) as session:
                existing = repository.find(session, notice.code)
                if existing is not None:
                    if existing.fingerprint == digest:
                        return NoticeAnswer(200, _receipt(existing))
                    raise Problem(409, CONFLICT, f"Đã có hồ sơ liên thông {notice.code} với nội dung khác.",
                                  extra={"MaHoSoLienThong": notice.code})
                if dossiers.lock_existing(session, notice.code) is not None:  # a row, no need for its history
                    raise Problem(409, CONFLICT, f"Mã {notice.code} đã là mã của một hồ sơ khác; hồ sơ mai táng "
                                  "của thông báo khai tử sẽ mang mã này.", extra={"MaHoSoLienThong": notice.code})
                row = repository.create(session, code=notice.code, fingerprint=digest,
                                        content=notice_to_json(notice), files=files, client_name=client_name)
                finish_step(session, Outcome(then=[lookup_step(notice.code, row.id)]))
                log.info("death_notice_received", ma_ho_so=notice.code, files=len(files), client=client_name)
                return NoticeAnswer(202, _receipt(row))
        except IntegrityError:
            continue
    raise Problem(409, CONFLICT, f"Hồ sơ liên thông {notice.code} đang được ghi nhận đồng thời; gửi lại sau.")


def get_notice(db: Database, code: str) -> NoticeDetail:
    """The notice and each step's state (§5), the funeral dossier's delivery state included."""
    with db.session() as session:
        notice = repository.find(session, code)
        if notice is None:
            raise Problem(404, "death_notice_not_found", f"Không có hồ sơ liên thông khai tử {code}.")
        funeral = dossiers.find(session, code) if notice.dossier_id else None
    steps = notice.steps
    lookup = steps.get("lookup", {})
    record = lookup.get("record") or {}
    stop = steps.get("stop", {})
    created = steps.get("funeral_dossier", {})
    row = funeral.dossier if funeral is not None else None
    return NoticeDetail(
        **_receipt(notice).model_dump(),
        steps=NoticeSteps(
            lookup=LookupStep(state=lookup.get("state", "pending"), at=lookup.get("at"), found=lookup.get("found"),
                              active=lookup.get("active"), beneficiaryId=record.get("id"),
                              status=record.get("status"), reason=lookup.get("reason")),
            stop=StopStep(state=stop.get("state", "pending"), at=stop.get("at"), stopMonth=stop.get("stopMonth"),
                          recovery=stop.get("recovery"), ministry=stop.get("ministry"), reason=stop.get("reason"),
                          detail=stop.get("detail")),
            funeral_dossier=FuneralStep(state=created.get("state", "pending"), at=created.get("at"),
                                        MaHoSo=created.get("MaHoSo"),
                                        delivery=row.delivery_state if row else None,
                                        ministryId=row.ministry_id if row else None,
                                        ministryStatus=row.ministry_status if row else None)),
        createdAt=notice.created_at.isoformat(), updatedAt=notice.updated_at.isoformat())
