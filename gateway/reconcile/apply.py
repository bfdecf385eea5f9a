"""Applying one change of the ministry's feed to the dossier it concerns: idempotent, in the caller's transaction."""

from __future__ import annotations

import hashlib
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col

from gateway.callbacks.events import DELIVERED, DELIVERED_TEXT, STATUS_CHANGED, enqueue_callback
from gateway.delivery.handlers import PENDING_RECEPTION
from gateway.models import Dossier, DossierEvent, MinistryChange
from mappings.dates import from_iso
from mappings.tables import ministry_status, national_status
from outbox.columns import utcnow

log = structlog.get_logger(__name__)

APPROVED = "DA_PHE_DUYET"
_EXTRA_FIELDS = ("lyDo", "canBo", "quyetDinh")


def change_key(change: dict[str, Any]) -> str:
    """What makes a change the same change when the feed delivers it again."""
    text = f"{change.get('id')}|{change.get('trangThai')}|{change.get('thoiDiem')}"
    return hashlib.sha256(text.encode()).hexdigest()


def _record_once(session: Session, row: dict[str, Any]) -> bool:
    table = MinistryChange.__table__  # type: ignore[attr-defined]
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    # RETURNING, not rowcount: psycopg reports a row for an INSERT that ON CONFLICT skipped.
    inserted = session.execute(
        insert(table).values(row).on_conflict_do_nothing(index_elements=["change_key"]).returning(table.c.change_key)
    ).first()
    return inserted is not None


def apply_change(session: Session, change: dict[str, Any], *, notify: bool) -> str:
    """Record ``change`` and move its dossier on; returns ``applied``, ``duplicate``, ``unknown_dossier``
    or ``malformed``. A change for a dossier the gateway does not know is recorded and skipped."""
    ministry_id, status, when = change.get("id"), change.get("trangThai"), change.get("thoiDiem")
    if not isinstance(ministry_id, str) or not isinstance(status, str) or not isinstance(when, str):
        log.warning("ministry_change_malformed", fields=sorted(change))
        return "malformed"
    try:
        at = from_iso(when)
    except ValueError:
        log.warning("ministry_change_malformed", ministry_id=ministry_id, field="thoiDiem")
        return "malformed"
    ma_ho_so = change.get("maHoSoTinh") if isinstance(change.get("maHoSoTinh"), str) else None
    dossier = session.execute(
        select(Dossier).where(col(Dossier.ministry_id) == ministry_id).with_for_update()
    ).scalar_one_or_none()
    if dossier is None and ma_ho_so:
        dossier = session.execute(
            select(Dossier).where(col(Dossier.ma_ho_so) == ma_ho_so).with_for_update()
        ).scalar_one_or_none()
    recorded = _record_once(session, {
        "change_key": change_key(change), "ministry_id": ministry_id, "ma_ho_so": ma_ho_so, "status": status,
        "at": at, "raw": change, "dossier_id": dossier.id if dossier else None, "recorded_at": utcnow(),
    })
    if not recorded:
        return "duplicate"
    if dossier is None:
        log.warning("ministry_change_unknown_dossier", ministry_id=ministry_id, ma_ho_so=ma_ho_so, status=status)
        return "unknown_dossier"

    known = ministry_status(status)
    if known is None:
        log.warning("ministry_status_unknown", status=status, ma_ho_so=dossier.ma_ho_so,
                    detail="recorded and sent with TrangThaiHoSo null")
    extra = {k: change[k] for k in _EXTRA_FIELDS if change.get(k) is not None}
    if dossier.ministry_id is None:
        dossier.ministry_id = ministry_id  # the feed knew before our delivery's answer did (an answer lost)
    if not dossier.announced:
        # The feed got here before the delivery recorded its answer: announce the arrival in pending
        # reception first, so that the province hears the events in the order they happened.
        enqueue_callback(session, dossier, DELIVERED, at=at, ministry_status=PENDING_RECEPTION,
                         text=DELIVERED_TEXT, enabled=notify)
        dossier.announced = True
    if dossier.ministry_status_at is None or at >= dossier.ministry_status_at:
        dossier.ministry_status = status
        dossier.national_status = national_status(status)
        dossier.ministry_status_at = at
        dossier.is_final = bool(known and known.is_final)
    decision = change.get("quyetDinh") if isinstance(change.get("quyetDinh"), dict) else None
    if status == APPROVED and decision:
        _store_decision(dossier, decision)
    session.add(dossier)
    if status != PENDING_RECEPTION or dossier.delivered_revision is None:  # else "delivered" already says it
        session.add(DossierEvent(dossier_id=dossier.id, kind="ministry_status", at=at,
                                 detail={"status": status, "nationalStatus": national_status(status), **extra}))
    if status != PENDING_RECEPTION:  # arrival in pending reception was announced on delivery (DA_CHUYEN_BO)
        text = change.get("lyDo") if isinstance(change.get("lyDo"), str) else (known.name if known else status)
        enqueue_callback(session, dossier, STATUS_CHANGED, at=at, ministry_status=status, text=text,
                         decision=decision, enabled=notify)
    return "applied"


def _store_decision(dossier: Dossier, decision: dict[str, Any]) -> None:
    number, day = decision.get("so"), decision.get("ngay")
    amount, first = decision.get("mucHuongThang"), decision.get("thangBatDauHuong")
    dossier.decision_number = str(number) if number is not None else None
    dossier.decision_date = str(day)[:10] if day is not None else None
    dossier.monthly_amount = amount if isinstance(amount, int) and not isinstance(amount, bool) else None
    dossier.first_month = str(first)[:7] if first is not None else None
