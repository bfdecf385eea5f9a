"""Dossier intake and lookup: validate, then store revision + attachments + outbox message in ONE transaction."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime

import structlog
from sqlmodel import Session

from gateway.blobs import is_storage_full
from gateway.db import Database
from gateway.dossiers import repository
from gateway.dossiers.receive import Submission, storage_full
from gateway.dossiers.schemas import (
    AttachmentInfo,
    ConflictState,
    Decision,
    DossierDetail,
    DossierList,
    DossierReceipt,
    DossierSummary,
    HistoryEntry,
    Links,
    MinistryState,
)
from gateway.identity import repository as identity
from gateway.identity.schemas import IdentityState
from gateway.models import DeliveryState, Dossier, DossierEvent
from gateway.problems import Problem
from gateway.vocabulary import DossierEventKind, MessageKind
from mappings.calendar import add_working_days
from mappings.canonical import dossier_to_json, fingerprint
from mappings.model import Dossier as DomainDossier
from mappings.province import parse_dossier
from mappings.statuses import SUPPLEMENT_REQUESTED
from mappings.tables import procedure
from outbox import cancel_pending
from outbox.columns import utcnow
from outbox.store import enqueue_many

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Receipt:
    """The answer to a submission: 202 for a new revision, 200 for a repeat of the latest one."""

    status_code: int
    receipt: DossierReceipt


def _receipt(dossier_id: str, ma_ho_so: str, revision: int, state: str) -> DossierReceipt:
    return DossierReceipt(id=dossier_id, ma_ho_so=ma_ho_so, revision=revision, state=state,
                          links=Links(self=f"/api/v1/dossiers/{ma_ho_so}"))


def submit_dossier(db: Database, submission: Submission, client_name: str, *,
                   extra_days_off: Collection[date] = (), extra_workdays: Collection[date] = (),
                   verify_identity: bool = False) -> Receipt:
    """Validate a received submission and store it durably; raises :class:`Problem` on any fault.

    ``verify_identity``: a revision to deliver is first checked against the population database (its
    first step is ``verify_identity``, which enqueues the delivery).

    The staged files are committed to the blob store before the transaction (a row never points at
    missing bytes); the caller discards whatever staging is left afterwards.
    """
    facts = submission.facts()
    dossier, errors = parse_dossier(submission.raw, facts)
    errors = [*submission.errors, *errors]
    if errors or dossier is None:
        raise Problem(422, "validation_failed", "Hồ sơ có dữ liệu không hợp lệ.", errors=errors)

    content = dossier_to_json(dossier)
    digest = fingerprint(dossier, facts)
    due_at = dossier.due_at or promised_date(dossier, extra_days_off, extra_workdays)
    try:
        for blob in submission.files.values():
            blob.commit()
    except Exception as exc:  # the file system's OSError, or the database store's error
        if is_storage_full(exc):
            raise storage_full() from exc
        raise
    by_id = {doc.file_id: doc for doc in dossier.documents}
    files = [repository.NewFile(file_id, by_id[file_id].file_name, by_id[file_id].component_code,
                                blob.content_type or "", blob.size, blob.sha256)
             for file_id, blob in submission.files.items()]

    with db.session(write=True) as session:
        row = repository.lock_or_create(session, ma_ho_so=dossier.code, procedure_code=dossier.procedure_code,
                                        client_name=client_name)
        # A dossier without a revision yet (the common case) has none to compare with, supersede or
        # cancel: skipping those statements saves a third of intake's time in the write lock.
        if not row.is_new and repository.revision_fingerprint(session, row.id, row.current_revision) == digest:
            log.info("dossier_repeat", ma_ho_so=row.ma_ho_so, revision=row.current_revision, client=client_name)
            return Receipt(200, _receipt(row.id, row.ma_ho_so, row.current_revision, row.delivery_state))

        number = row.current_revision + 1
        kind = MessageKind.DELIVER_DOSSIER if row.is_new else _supersede_or_supplement(session, row, number)
        if kind == MessageKind.DELIVER_DOSSIER and verify_identity:
            kind = MessageKind.VERIFY_IDENTITY
        if row.delivery_state == DeliveryState.HELD:
            identity.mark_corrected(session, row.id)  # this revision is the correction: checked again
        state = DeliveryState.QUEUED if row.delivered_revision is None else row.delivery_state
        repository.add_revision(session, row, number=number, fingerprint=digest, content=content, files=files,
                                procedure_code=dossier.procedure_code, due_at=due_at, delivery_state=state,
                                client_name=client_name)
        enqueue_many(session, [(kind, row.ma_ho_so, {"dossier_id": row.id, "revision": number})])
        log.info("dossier_received", ma_ho_so=row.ma_ho_so, revision=number, kind=kind,
                 files=len(files), client=client_name)
        return Receipt(202, _receipt(row.id, row.ma_ho_so, number, state))


def promised_date(dossier: DomainDossier, days_off: Collection[date], workdays: Collection[date]) -> datetime | None:
    """NgayHenTra when the province sent none: the procedure's legal time in working days from reception."""
    found = procedure(dossier.procedure_code)
    if found is None or not found.processing_days:
        return None
    return add_working_days(dossier.received_at, found.processing_days, extra_days_off=days_off,
                            extra_workdays=workdays)


def _supersede_or_supplement(session: Session, row: repository.LockedDossier, number: int) -> MessageKind:
    """Decide what a changed revision means for delivery (province-api.md §2 answers)."""
    if row.delivered_revision is not None:
        if row.ministry_status != SUPPLEMENT_REQUESTED:
            raise Problem(409, "already_delivered",
                          "Hồ sơ đã được chuyển sang Bộ với nội dung khác và Bộ không yêu cầu bổ sung; "
                          "không thể thay thế.",
                          extra={"MaHoSo": row.ma_ho_so, "revision": row.current_revision})
        return MessageKind.SUPPLEMENT_DOSSIER
    for pending in (MessageKind.VERIFY_IDENTITY, MessageKind.DELIVER_DOSSIER):
        cancel_pending(session, pending, row.ma_ho_so, reason=f"superseded by revision {number}")
    repository.supersede_pending(session, row.id)
    return MessageKind.DELIVER_DOSSIER


def get_dossier(db: Database, code: str, *, identity_configured: bool = False) -> DossierDetail:
    """The dossier's latest revision, delivery state, ministry id/status and history (§3), and the latest
    revision's identity check (``identity_configured``: whether one is made, so that none yet reads pending)."""
    with db.session() as session:
        found = repository.find(session, code)
        check = identity.for_revision(session, found.revision.id) if found is not None else None
    if found is None:
        raise Problem(404, "dossier_not_found", f"Không có hồ sơ {code}.")
    row = found.dossier
    decision = (Decision(number=row.decision_number, date=row.decision_date, monthly_amount=row.monthly_amount,
                         first_month=row.first_month)
                if row.decision_number or row.monthly_amount is not None else None)
    return DossierDetail(
        **_receipt(row.id, row.ma_ho_so, row.current_revision, row.delivery_state).model_dump(),
        ministry=_ministry(row), decision=decision, due_at=_iso(row.due_at), overdue=_is_overdue(row, utcnow()),
        created_at=row.created_at.isoformat(), updated_at=row.updated_at.isoformat(),
        content=found.revision.content,
        identity=IdentityState.of(check, configured=identity_configured,
                                  delivered=(row.delivered_revision or 0) >= row.current_revision),
        conflict=_conflict(row, found.events),
        attachments=[AttachmentInfo(TepDinhKemId=a.file_id, TenTepDinhKem=a.file_name,
                                    MaThanhPhanHoSo=a.component_code, content_type=a.content_type, size=a.size,
                                    sha256=a.sha256) for a in found.attachments],
        history=[HistoryEntry(at=e.at.isoformat(), event=e.kind, revision=e.revision, detail=e.detail, note=e.note)
                 for e in found.events],
    )


def _conflict(row: Dossier, events: list[DossierEvent]) -> ConflictState | None:
    """While the dossier reads ``conflict``: its latest ``delivery_conflict`` event, which says why."""
    if row.delivery_state != DeliveryState.CONFLICT:
        return None
    latest = next((e for e in reversed(events) if e.kind == DossierEventKind.DELIVERY_CONFLICT), None)
    return None if latest is None else ConflictState.of(latest.revision, latest.detail, latest.at.isoformat())


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _ministry(row: Dossier) -> MinistryState:
    return MinistryState(id=row.ministry_id, status=row.ministry_status, national_status=row.national_status)


def _is_overdue(row: Dossier, now: datetime) -> bool:
    return row.due_at is not None and row.due_at < now and not row.is_final


def list_dossiers(db: Database, *, overdue: bool, limit: int, offset: int) -> DossierList:
    """Dossiers, most urgent first when ``overdue`` (past their promised date, not final), else newest first."""
    now = utcnow()
    with db.session() as session:
        total, rows = repository.page(session, overdue=overdue, now=now, limit=limit, offset=offset)
    return DossierList(count=total, items=[
        DossierSummary(ma_ho_so=r.ma_ho_so, state=r.delivery_state, ministry=_ministry(r), due_at=_iso(r.due_at),
                       overdue=_is_overdue(r, now), updated_at=r.updated_at.isoformat())
        for r in rows])


def count_overdue(db: Database) -> int:
    """How many dossiers are past their promised date and not at a final status."""
    with db.session() as session:
        return repository.count_overdue(session, utcnow())
