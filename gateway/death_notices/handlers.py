"""The steps of a death notice (province-api.md §5, DESIGN "A death notice"), each an outbox message.

``notice_lookup`` looks the deceased up among the ministry's beneficiaries (ministry-api §8); an active
one (``DANG_HUONG``, ``TAM_DUNG``) leads to ``notice_stop``, anyone else to ``KHONG_CO_TRO_CAP`` and the
funeral dossier. ``notice_stop`` stops the allowance from the month after the month of death with the
overpayment computed by :func:`mappings.money.recovery` (its own idempotency key), records the recovery
as a payment adjustment, sends ``DA_THOI_HUONG`` and opens the funeral dossier; a refusal (422
``SAI_SO_TIEN``) goes dead with its reasons, the province gets ``LOI_DONG_BO`` and the funeral dossier is
opened all the same. Each finish records the step and enqueues what follows in one transaction.
"""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any

import structlog
from sqlmodel import Session

from adapters.ministry.client import MinistryClient
from adapters.ministry.errors import MinistryError
from gateway.callbacks.events import callback
from gateway.db import Database
from gateway.death_notices import repository
from gateway.death_notices.funeral import FuneralOptions, open_funeral_dossier
from gateway.death_notices.steps import stop_step
from gateway.delivery.errors import translate
from gateway.delivery.handlers import failure_text
from gateway.models import DeathNotice
from gateway.payments import repository as payments
from gateway.payments.repository import AdjustmentKind, NewAdjustment
from gateway.vocabulary import CallbackEvent, MessageKind, Peer
from gateway.workflow import Next, Outcome, Step, finish_step
from mappings.death_notice import notice_from_json
from mappings.money import Span, children_from_decision, recovery
from mappings.tables import note_text
from outbox import DeliveryError, Finish, Message, PermanentError
from outbox.columns import utcnow

log = structlog.get_logger(__name__)

STOP = "stop"  # the stop's idempotency key: Step(<notice id>, STOP).key
ACTIVE = ("DANG_HUONG", "TAM_DUNG")
ALREADY_STOPPED = "TRANG_THAI_KHONG_PHU_HOP"
PER_CHILD = "DON_THAN_NGHEO"


def _record_of(found: Any) -> dict[str, Any]:
    """What the stop needs of the ministry's record (kept in the notice's steps; shown without the birth date)."""
    return {"id": found.id, "status": found.status, "group": found.group_code, "birth_date": found.birth_date,
            "paid_through": found.paid_through, "monthly_amount": found.monthly_amount,
            "start_month": found.start_month, "commune": found.commune_code}


def thoi_huong(stop_month: str, overpaid: dict[str, Any] | None) -> dict[str, Any]:
    """The ``ThoiHuong`` of a ``DA_THOI_HUONG`` callback (province-api §6) from the ministry's ``truyThu``."""
    months = (overpaid or {}).get("chiTiet") or []
    return {"ThangThoiHuong": stop_month,
            "TruyThu": None if not overpaid else {
                "SoTien": overpaid.get("soTien"), "SoThang": len(months),
                "ChiTiet": [{"Thang": m.get("thang"), "SoTien": m.get("soTien")} for m in months]}}


def _notice_callback(code: str, event: str, text: str, *, extra: dict[str, Any] | None = None,
                     event_id: str | None = None) -> Next:
    return callback(code, None, event, at=utcnow(), ministry_status=None, text=text, extra=extra,
                    event_id=event_id)


class _NoticeStep:
    """What both steps share: the notice, the ministry client, how the funeral dossier is opened."""

    kind: str
    target: str = Peer.MINISTRY

    def __init__(self, db: Database, client: MinistryClient, *, options: FuneralOptions, notify: bool) -> None:
        self.db = db
        self.client = client
        self.options = options
        self.notify = notify

    def _load(self, notice_id: str) -> DeathNotice | None:
        with self.db.session() as session:
            found = repository.get(session, notice_id)
            if found is not None:
                session.expunge(found)
            return found

    def _then(self, outcome: Outcome, step: Next | None) -> None:
        if step is not None and self.notify:
            outcome.then.append(step)

    def on_retry(self, session: Session, message: Message, error: DeliveryError) -> None:
        """The ministry failed; the step is tried again (the notice's steps say pending)."""


class LookupHandler(_NoticeStep):
    """``notice_lookup``: is the deceased someone the ministry pays?"""

    kind: str = MessageKind.NOTICE_LOOKUP

    async def handle(self, message: Message) -> Finish | None:
        """``GET /api/v1/doi-tuong?soDinhDanh=…``, then the stop or the funeral dossier."""
        notice = await asyncio.to_thread(self._load, message.payload["notice_id"])
        if notice is None or notice.steps.get("lookup", {}).get("state") == "done":
            return None
        deceased = notice_from_json(notice.content).deceased
        try:
            found = await self.client.find_beneficiaries(deceased.personal_id)
        except MinistryError as exc:
            raise translate(exc) from exc
        active = [r for r in found if r.status in ACTIVE]
        record = _record_of(active[0] if active else found[0]) if found else None
        code, notice_id = notice.ma_ho_so_lien_thong, notice.id

        def finish(session: Session) -> None:
            locked = repository.lock(session, notice_id)
            if locked is None or locked.steps.get("lookup", {}).get("state") == "done":
                return
            repository.set_step(session, locked, "lookup", {"state": "done", "found": bool(found),
                                                            "active": bool(active), "record": record})
            outcome = Outcome()
            if active:
                outcome.then.append(stop_step(code, notice_id))
            else:
                repository.set_step(session, locked, "stop", {"state": "not_needed",
                                                              "status": record["status"] if record else None})
                self._then(outcome, _notice_callback(code, CallbackEvent.NO_ALLOWANCE,
                                                     note_text("notice_no_allowance"),
                                                     event_id=Step(notice_id, "no-allowance").event_id))
                outcome.then += open_funeral_dossier(session, locked, record["group"] if record else None,
                                                     self.options)
            finish_step(session, outcome)
            log.info("death_notice_lookup", ma_ho_so=code, found=bool(found), active=bool(active))

        return finish

    def on_dead(self, session: Session, message: Message, error: DeliveryError) -> None:
        """The lookup failed for good (a bug, or the ministry refusing it): the province is told."""
        notice = repository.lock(session, message.payload["notice_id"])
        if notice is None:
            return
        repository.set_step(session, notice, "lookup", {"state": "failed", "reason": error.message})
        outcome = Outcome()
        self._then(outcome, _notice_callback(notice.ma_ho_so_lien_thong, CallbackEvent.SYNC_FAILED,
                                             failure_text(error)))
        finish_step(session, outcome)


class StopHandler(_NoticeStep):
    """``notice_stop``: stop the allowance from the month after the death, the overpayment to recover with it."""

    kind: str = MessageKind.NOTICE_STOP

    async def handle(self, message: Message) -> Finish | None:
        """``POST /api/v1/doi-tuong/{id}/thoi-huong`` with ``truyThu`` from mappings, then the funeral dossier."""
        notice = await asyncio.to_thread(self._load, message.payload["notice_id"])
        if notice is None or notice.steps.get("stop", {}).get("state") in ("done", "already_stopped", "failed"):
            return None
        parsed = notice_from_json(notice.content)
        record = notice.steps["lookup"]["record"]
        body, stop_month, overpaid = _stop_body(record, parsed.died_on, parsed.registration.number,
                                                parsed.registration.registered_on)
        try:
            answer = await self.client.stop_allowance(record["id"], body,
                                                      idempotency_key=Step(notice.id, STOP).key)
        except MinistryError as exc:
            if exc.code == ALREADY_STOPPED:
                return self._finish(notice, record, {"state": "already_stopped", "stopMonth": stop_month,
                                                     "reason": exc.message}, None)
            raise translate(exc) from exc
        recovered = answer.recovery if answer.recovery is not None else body["truyThu"]
        state = {"state": "done", "stopMonth": answer.stop_month or stop_month, "recovery": recovered,
                 "ministry": {"id": answer.id, "trangThaiHuong": answer.status}}
        return self._finish(notice, record, state, overpaid)

    def _finish(self, notice: DeathNotice, record: dict[str, Any], state: dict[str, Any],
                overpaid: Span | None) -> Finish:
        code, notice_id = notice.ma_ho_so_lien_thong, notice.id
        commune = notice_from_json(notice.content).deceased.residence.commune_code

        def finish(session: Session) -> None:
            locked = repository.lock(session, notice_id)
            if locked is None or locked.steps.get("stop", {}).get("state") in ("done", "already_stopped", "failed"):
                return
            now = utcnow()
            repository.set_step(session, locked, "stop", state, now)
            outcome = Outcome()
            if state["state"] == "done":
                if overpaid is not None:
                    payments.record(session, NewAdjustment(AdjustmentKind.RECOVERY, code, overpaid,
                                                           beneficiary_id=record["id"], commune_code=commune,
                                                           ministry_answer=state.get("ministry")), now)
                self._then(outcome, _notice_callback(
                    code, CallbackEvent.ALLOWANCE_STOPPED, note_text("notice_stopped", month=state["stopMonth"]),
                    extra={"ThoiHuong": thoi_huong(state["stopMonth"], state.get("recovery"))},
                    event_id=Step(notice_id, "stopped").event_id))
            else:
                self._then(outcome, _notice_callback(code, CallbackEvent.NO_ALLOWANCE,
                                                     note_text("notice_already_stopped"),
                                                     event_id=Step(notice_id, "no-allowance").event_id))
            outcome.then += open_funeral_dossier(session, locked, record.get("group"), self.options)
            finish_step(session, outcome)
            log.info("death_notice_stop", ma_ho_so=code, state=state["state"], stop_month=state.get("stopMonth"),
                     recovered=overpaid.total if overpaid else 0)

        return finish

    def on_dead(self, session: Session, message: Message, error: DeliveryError) -> None:
        """The ministry refused the stop (422 SAI_SO_TIEN: an officer must look): the province gets LOI_DONG_BO
        with the reasons, and the funeral dossier is opened all the same."""
        notice = repository.lock(session, message.payload["notice_id"])
        if notice is None or notice.steps.get("stop", {}).get("state") in ("done", "already_stopped", "failed"):
            return
        repository.set_step(session, notice, "stop", {"state": "failed", "reason": error.message,
                                                      "detail": error.detail})
        outcome = Outcome()
        self._then(outcome, callback(notice.ma_ho_so_lien_thong, None, CallbackEvent.SYNC_FAILED, at=utcnow(),
                                     ministry_status=None, text=failure_text(error)))
        record = notice.steps.get("lookup", {}).get("record") or {}
        outcome.then += open_funeral_dossier(session, notice, record.get("group"), self.options)
        finish_step(session, outcome)
        log.warning("death_notice_stop_failed", ma_ho_so=notice.ma_ho_so_lien_thong, error=error.message)


def _stop_body(record: dict[str, Any], died_on: date, number: str, registered_on: date
               ) -> tuple[dict[str, Any], str, Span | None]:
    """The ``thoi-huong`` body (ministry-api §8): the stop month and every month paid after it, from mappings."""
    group, born = record["group"], record["birth_date"]
    try:
        children = (children_from_decision(group, born, record["start_month"], record["monthly_amount"])
                    if group == PER_CHILD else None)
        stop_month, overpaid = recovery(group, born, died_on=died_on, paid_through=record.get("paid_through"),
                                        paid_from=record.get("start_month"), children=children)
    except (ValueError, TypeError, KeyError) as exc:
        raise PermanentError("the overpayment cannot be computed from the ministry's record",
                             detail={"maLoi": "recovery_not_computable", "reason": str(exc)}) from exc
    body = {"lyDo": "CHET", "ngaySuKien": died_on.isoformat(), "thangThoiHuong": stop_month,
            "truyThu": overpaid.as_ministry() if overpaid is not None else None,
            "canCu": {"loai": "TRICH_LUC_KHAI_TU", "so": number, "ngay": registered_on.isoformat()},
            "ghiChu": None}
    return body, stop_month, overpaid


__all__ = ["LookupHandler", "StopHandler", "thoi_huong"]
