"""Dossier intake and lookup: validate, then store revision + attachments + outbox message in ONE transaction."""

from __future__ import annotations

import functools
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import structlog
from sqlalchemy import and_, bindparam, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col

from gateway.blobs import is_storage_full
from gateway.db import Database
from gateway.dossiers.receive import Submission, storage_full
from gateway.models import Attachment, DeliveryState, Dossier, DossierEvent, DossierRevision, RevisionState, new_id
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
    body: dict[str, Any]


def _receipt_body(dossier: Any, revision: int, state: str | None = None) -> dict[str, Any]:
    """The receipt of ``dossier`` (a model or a row of its table), ``state`` overriding its delivery state."""
    return {
        "id": dossier.id,
        "MaHoSo": dossier.ma_ho_so,
        "revision": revision,
        "state": state or dossier.delivery_state,
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
    due_at = dossier.due_at or _promised_date(dossier, extra_days_off, extra_workdays)
    try:
        for blob in submission.files.values():
            blob.commit()
    except OSError as exc:
        if is_storage_full(exc):
            raise storage_full() from exc
        raise

    with db.session(write=True) as session:
        # Core statements built once, on the session's connection (the outbox row too): the ORM's
        # per-statement and unit-of-work bookkeeping was the larger part of intake's time in the write lock.
        conn = session.connection()
        statements = _statements(conn.dialect.name)
        conn.execute(statements.insert_if_absent, {
            "id": new_id(), "ma_ho_so": dossier.code, "procedure_code": dossier.procedure_code,
            "current_revision": 0, "delivery_state": DeliveryState.QUEUED, "client_name": client_name,
            "created_at": utcnow(), "updated_at": utcnow(),
        })
        row = conn.execute(statements.select_for_update, {"code": dossier.code}).one()
        # A dossier without a revision yet (the common case) has none to compare with, supersede or
        # cancel: skipping those three statements saves a third of intake's time in the write lock.
        first = row.current_revision == 0 and row.delivered_revision is None
        latest = None if first else conn.execute(
            statements.select_fingerprint, {"dossier_id": row.id, "revision": row.current_revision}).first()
        if latest is not None and latest.fingerprint == digest:
            log.info("dossier_repeat", ma_ho_so=row.ma_ho_so, revision=row.current_revision, client=client_name)
            return Receipt(200, _receipt_body(row, row.current_revision))

        number = row.current_revision + 1
        kind = MessageKind.DELIVER_DOSSIER if first else _supersede_or_supplement(session, row, number)
        state = DeliveryState.QUEUED if row.delivered_revision is None else row.delivery_state
        now = utcnow()
        revision_id = new_id()
        conn.execute(statements.insert_revision, {
            "id": revision_id, "dossier_id": row.id, "revision": number, "fingerprint": digest, "content": content,
            "state": RevisionState.PENDING, "created_at": now})
        by_id = {doc.file_id: doc for doc in dossier.documents}
        if submission.files:
            conn.execute(statements.insert_attachment, [
                {"id": new_id(), "revision_id": revision_id, "file_id": file_id,
                 "file_name": by_id[file_id].file_name, "component_code": by_id[file_id].component_code,
                 "content_type": blob.content_type or "", "size": blob.size, "sha256": blob.sha256}
                for file_id, blob in submission.files.items()
            ])
        conn.execute(statements.update_dossier, {
            "row_id": row.id, "current_revision": number, "procedure_code": dossier.procedure_code,
            "due_at": due_at, "updated_at": now, "delivery_state": state})
        conn.execute(statements.insert_event, {
            "dossier_id": row.id, "kind": DossierEventKind.RECEIVED, "revision": number, "at": now,
            "detail": {"client": client_name, "files": len(submission.files)}})
        enqueue_many(session, [(kind, row.ma_ho_so, {"dossier_id": row.id, "revision": number})])
        log.info("dossier_received", ma_ho_so=row.ma_ho_so, revision=number, kind=kind,
                 files=len(submission.files), client=client_name)
        return Receipt(202, _receipt_body(row, number, state))


@dataclass(frozen=True)
class _Statements:
    """The intake's write statements for one dialect (parameters bound at execution)."""

    insert_if_absent: Any
    select_for_update: Any
    select_fingerprint: Any
    insert_revision: Any
    insert_attachment: Any
    update_dossier: Any
    insert_event: Any


@functools.cache
def _statements(dialect: str) -> _Statements:
    dossiers: Any = Dossier.__table__  # type: ignore[attr-defined]
    revisions: Any = DossierRevision.__table__  # type: ignore[attr-defined]
    if dialect == "postgresql":
        insert_if_absent: Any = pg_insert(dossiers).on_conflict_do_nothing(index_elements=["ma_ho_so"])
    elif dialect == "sqlite":
        insert_if_absent = sqlite_insert(dossiers).on_conflict_do_nothing(index_elements=["ma_ho_so"])
    else:  # pragma: no cover - only the two engines are supported
        insert_if_absent = insert(dossiers)
    return _Statements(
        insert_if_absent=insert_if_absent,
        select_for_update=select(dossiers).where(dossiers.c.ma_ho_so == bindparam("code")).with_for_update(),
        select_fingerprint=select(revisions.c.fingerprint).where(
            revisions.c.dossier_id == bindparam("dossier_id"), revisions.c.revision == bindparam("revision")),
        insert_revision=insert(revisions),
        insert_attachment=insert(Attachment.__table__),  # type: ignore[attr-defined]
        update_dossier=update(dossiers).where(dossiers.c.id == bindparam("row_id")),
        insert_event=insert(DossierEvent.__table__),  # type: ignore[attr-defined]
    )


def _promised_date(dossier: DomainDossier, days_off: Collection[date], workdays: Collection[date]) -> datetime | None:
    """NgayHenTra when the province sent none: the procedure's legal time in working days from reception."""
    found = procedure(dossier.procedure_code)
    if found is None or not found.processing_days:
        return None
    return add_working_days(dossier.received_at, found.processing_days, extra_days_off=days_off,
                            extra_workdays=workdays)


def _supersede_or_supplement(session: Session, row: Any, number: int) -> str:
    """Decide what a changed revision means for delivery (province-api.md §2 answers); ``row``: the dossier's."""
    if row.delivered_revision is not None:
        if row.ministry_status != SUPPLEMENT_REQUESTED:
            raise Problem(409, "already_delivered",
                          "Hồ sơ đã được chuyển sang Bộ với nội dung khác và Bộ không yêu cầu bổ sung; "
                          "không thể thay thế.",
                          extra={"MaHoSo": row.ma_ho_so, "revision": row.current_revision})
        return MessageKind.SUPPLEMENT_DOSSIER
    cancel_pending(session, MessageKind.DELIVER_DOSSIER, row.ma_ho_so, reason=f"superseded by revision {number}")
    session.execute(
        update(DossierRevision)
        .where(col(DossierRevision.dossier_id) == row.id, col(DossierRevision.state) == RevisionState.PENDING)
        .values(state=RevisionState.SUPERSEDED)
    )
    return MessageKind.DELIVER_DOSSIER


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
