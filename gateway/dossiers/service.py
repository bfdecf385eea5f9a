"""Dossier intake and lookup: validate, then store revision + attachments + outbox message in ONE transaction."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import structlog
from sqlalchemy import and_, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col

from gateway.blobs import is_storage_full
from gateway.db import Database
from gateway.delivery.handlers import DELIVER_DOSSIER, SUPPLEMENT_DOSSIER, SUPPLEMENT_REQUESTED
from gateway.dossiers.receive import Submission, storage_full
from gateway.models import Attachment, DeliveryState, Dossier, DossierEvent, DossierRevision, RevisionState, new_id
from gateway.problems import Problem
from mappings.calendar import add_working_days
from mappings.canonical import dossier_to_json, fingerprint
from mappings.model import Dossier as DomainDossier
from mappings.province import parse_dossier
from mappings.tables import procedure
from outbox import cancel_pending, enqueue
from outbox.columns import utcnow

log = structlog.get_logger(__name__)



@dataclass(frozen=True)
class Receipt:
    """The answer to a submission: 202 for a new revision, 200 for a repeat of the latest one."""

    status_code: int
    body: dict[str, Any]


def _receipt_body(dossier: Dossier, revision: int) -> dict[str, Any]:
    return {
        "id": dossier.id,
        "MaHoSo": dossier.ma_ho_so,
        "revision": revision,
        "state": dossier.delivery_state,
        "links": {"self": f"/api/v1/dossiers/{dossier.ma_ho_so}"},
    }


def submit_dossier(db: Database, submission: Submission, client_name: str, *,
                   extra_days_off: Collection[date] = (), extra_workdays: Collection[date] = ()) -> Receipt:
    """Validate a received submission and store it durably; raises :class:`Problem` on any fault.

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
    try:
        for blob in submission.files.values():
            blob.commit()
    except OSError as exc:
        if is_storage_full(exc):
            raise storage_full() from exc
        raise

    with db.session(write=True) as session:
        _insert_if_absent(session, dossier.code, dossier.procedure_code, client_name)
        row = session.exec(
            select(Dossier).where(col(Dossier.ma_ho_so) == dossier.code).with_for_update()  # type: ignore[call-overload]
        ).one()[0]
        latest = session.exec(
            select(DossierRevision).where(  # type: ignore[call-overload]
                col(DossierRevision.dossier_id) == row.id, col(DossierRevision.revision) == row.current_revision
            )
        ).first()
        if latest is not None and latest[0].fingerprint == digest:
            log.info("dossier_repeat", ma_ho_so=row.ma_ho_so, revision=row.current_revision, client=client_name)
            return Receipt(200, _receipt_body(row, row.current_revision))

        number = row.current_revision + 1
        kind = _supersede_or_supplement(session, row, number)
        revision = DossierRevision(dossier_id=row.id, revision=number, fingerprint=digest, content=content)
        session.add(revision)
        session.flush()
        by_id = {doc.file_id: doc for doc in dossier.documents}
        for file_id, blob in submission.files.items():
            document = by_id[file_id]
            session.add(Attachment(
                id=new_id(), revision_id=revision.id, file_id=file_id, file_name=document.file_name,
                component_code=document.component_code, content_type=blob.content_type or "",
                size=blob.size, sha256=blob.sha256,
            ))
        now = utcnow()
        row.current_revision = number
        row.procedure_code = dossier.procedure_code
        row.due_at = dossier.due_at or _promised_date(dossier, extra_days_off, extra_workdays)
        row.updated_at = now
        if row.delivered_revision is None:
            row.delivery_state = DeliveryState.QUEUED
        session.add(row)
        session.add(DossierEvent(dossier_id=row.id, kind="received", revision=number, at=now,
                                 detail={"client": client_name, "files": len(submission.files)}))
        enqueue(session, kind, key=row.ma_ho_so, payload={"dossier_id": row.id, "revision": number})
        log.info("dossier_received", ma_ho_so=row.ma_ho_so, revision=number, kind=kind,
                 files=len(submission.files), client=client_name)
        return Receipt(202, _receipt_body(row, number))


def _promised_date(dossier: DomainDossier, days_off: Collection[date], workdays: Collection[date]) -> datetime | None:
    """NgayHenTra when the province sent none: the procedure's legal time in working days from reception."""
    found = procedure(dossier.procedure_code)
    if found is None or not found.processing_days:
        return None
    return add_working_days(dossier.received_at, found.processing_days, extra_days_off=days_off,
                            extra_workdays=workdays)


def _insert_if_absent(session: Session, code: str, procedure_code: str, client_name: str) -> None:
    values = {
        "id": new_id(), "ma_ho_so": code, "procedure_code": procedure_code, "current_revision": 0,
        "delivery_state": DeliveryState.QUEUED, "client_name": client_name,
        "created_at": utcnow(), "updated_at": utcnow(),
    }
    dialect = session.get_bind().dialect.name
    table = Dossier.__table__  # type: ignore[attr-defined]
    if dialect == "postgresql":
        statement: Any = pg_insert(table).values(values).on_conflict_do_nothing(index_elements=["ma_ho_so"])
    elif dialect == "sqlite":
        statement = sqlite_insert(table).values(values).on_conflict_do_nothing(index_elements=["ma_ho_so"])
    else:  # pragma: no cover - only the two engines are supported
        statement = insert(table).values(values)
    session.execute(statement)


def _supersede_or_supplement(session: Session, row: Dossier, number: int) -> str:
    """Decide what a changed revision means for delivery (province-api.md §2 answers)."""
    if row.delivered_revision is not None:
        if row.ministry_status != SUPPLEMENT_REQUESTED:
            raise Problem(409, "already_delivered",
                          "Hồ sơ đã được chuyển sang Bộ với nội dung khác và Bộ không yêu cầu bổ sung; "
                          "không thể thay thế.",
                          extra={"MaHoSo": row.ma_ho_so, "revision": row.current_revision})
        return SUPPLEMENT_DOSSIER
    cancel_pending(session, DELIVER_DOSSIER, row.ma_ho_so, reason=f"superseded by revision {number}")
    session.execute(
        update(DossierRevision)
        .where(col(DossierRevision.dossier_id) == row.id, col(DossierRevision.state) == RevisionState.PENDING)
        .values(state=RevisionState.SUPERSEDED)
    )
    return DELIVER_DOSSIER


def get_dossier(db: Database, code: str) -> dict[str, Any]:
    """The dossier's latest revision, delivery state, ministry id/status and history (§3)."""
    with db.session() as session:
        found = session.exec(select(Dossier).where(col(Dossier.ma_ho_so) == code)).first()  # type: ignore[call-overload]
        if found is None or found[0].current_revision == 0:
            raise Problem(404, "dossier_not_found", f"Không có hồ sơ {code}.")
        row: Dossier = found[0]
        revision = session.exec(
            select(DossierRevision).where(  # type: ignore[call-overload]
                col(DossierRevision.dossier_id) == row.id, col(DossierRevision.revision) == row.current_revision
            )
        ).one()[0]
        attachments = [a for (a,) in session.exec(
            select(Attachment).where(col(Attachment.revision_id) == revision.id).order_by(col(Attachment.file_id))  # type: ignore[call-overload]
        )]
        events = [e for (e,) in session.exec(
            select(DossierEvent).where(col(DossierEvent.dossier_id) == row.id).order_by(col(DossierEvent.id))  # type: ignore[call-overload]
        )]
    return {
        **_receipt_body(row, row.current_revision),
        "ministry": _ministry(row),
        "decision": (
            {"number": row.decision_number, "date": row.decision_date, "monthlyAmount": row.monthly_amount,
             "firstMonth": row.first_month}
            if row.decision_number or row.monthly_amount is not None else None
        ),
        "dueAt": row.due_at.isoformat() if row.due_at else None,
        "overdue": _is_overdue(row, utcnow()),
        "createdAt": row.created_at.isoformat(),
        "updatedAt": row.updated_at.isoformat(),
        "content": revision.content,
        "attachments": [
            {"TepDinhKemId": a.file_id, "TenTepDinhKem": a.file_name, "MaThanhPhanHoSo": a.component_code,
             "contentType": a.content_type, "size": a.size, "sha256": a.sha256}
            for a in attachments
        ],
        "history": [
            {"at": e.at.isoformat(), "event": e.kind, "revision": e.revision, "detail": e.detail, "note": e.note}
            for e in events
        ],
    }


def _ministry(row: Dossier) -> dict[str, Any]:
    return {"id": row.ministry_id, "status": row.ministry_status, "nationalStatus": row.national_status}


def _is_overdue(row: Dossier, now: datetime) -> bool:
    return row.due_at is not None and row.due_at < now and not row.is_final


def overdue_filter(now: datetime) -> Any:
    """The SQL condition of "past its promised date and not at a final status"."""
    return and_(col(Dossier.due_at).is_not(None), col(Dossier.due_at) < now, col(Dossier.is_final).is_(False),
                col(Dossier.current_revision) > 0)


def list_dossiers(db: Database, *, overdue: bool, limit: int, offset: int) -> dict[str, Any]:
    """Dossiers, most urgent first when ``overdue`` (past their promised date, not final), else newest first."""
    now = utcnow()
    condition = overdue_filter(now) if overdue else col(Dossier.current_revision) > 0
    order = (col(Dossier.due_at), col(Dossier.id)) if overdue else (col(Dossier.updated_at).desc(), col(Dossier.id))
    with db.session() as session:
        total = session.execute(select(func.count()).select_from(Dossier).where(condition)).scalar_one()
        rows = session.execute(select(Dossier).where(condition).order_by(*order).limit(limit).offset(offset)).scalars()
        items = [
            {"MaHoSo": r.ma_ho_so, "state": r.delivery_state, "ministry": _ministry(r),
             "dueAt": r.due_at.isoformat() if r.due_at else None, "overdue": _is_overdue(r, now),
             "updatedAt": r.updated_at.isoformat()}
            for r in rows
        ]
    return {"items": items, "count": int(total)}


def count_overdue(db: Database) -> int:
    """How many dossiers are past their promised date and not at a final status."""
    with db.session() as session:
        return int(session.execute(select(func.count()).select_from(Dossier).where(overdue_filter(utcnow())))
                   .scalar_one())
