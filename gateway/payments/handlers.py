"""``send_back_payment``: an approval's months owed (truy lĩnh) posted to the ministry (ministry-api.md §9).

The months are computed when the step runs, from the dossier's delivered content and the decision (mappings),
so a replay after a correction sends the corrected months; the key is one per decision, so the feed
delivering the approval twice, or the step running twice, posts one back-payment. The ministry's answer
(the payment list that will carry it) is recorded with the adjustment in the finishing transaction.
"""

from __future__ import annotations

import asyncio
from typing import Any

import structlog
from sqlmodel import Session

from adapters.ministry.client import MinistryClient
from adapters.ministry.errors import MinistryError
from gateway.db import Database
from gateway.delivery.errors import translate
from gateway.dossiers import repository as dossiers
from gateway.dossiers.repository import NewEvent
from gateway.payments import repository
from gateway.payments.repository import AdjustmentKind, NewAdjustment
from gateway.payments.steps import back_payment_key
from gateway.vocabulary import DossierEventKind, MessageKind, Peer
from gateway.workflow import Outcome, finish_step
from mappings.decisions import decision_money
from mappings.model import PartialDate
from outbox import DeliveryError, Finish, Message, PermanentError
from outbox.columns import utcnow

log = structlog.get_logger(__name__)


class SendBackPaymentHandler:
    """``send_back_payment`` (target: the ministry)."""

    kind: str = MessageKind.SEND_BACK_PAYMENT
    target: str = Peer.MINISTRY

    def __init__(self, db: Database, client: MinistryClient) -> None:
        self.db = db
        self.client = client

    def _content(self, dossier_id: str) -> dict[str, Any] | None:
        with self.db.session() as session:
            return dossiers.delivered_contents(session, [dossier_id]).get(dossier_id)

    async def handle(self, message: Message) -> Finish | None:
        """Compute the months owed, post them, record the adjustment with the ministry's payment-list month."""
        payload = message.payload
        content = await asyncio.to_thread(self._content, payload["dossier_id"])
        if content is None:
            raise PermanentError("the approved dossier has no delivered revision", detail={"maLoi": "no_content"})
        beneficiary, decision = content["beneficiary"], payload["decision"]
        money = decision_money(beneficiary["group_code"], PartialDate(**beneficiary["birth_date"]), decision,
                               payload.get("first_paid_month"))
        if money.owed is None or not money.owed.months:
            return None  # nothing owed after all (a corrected table): nothing to send
        owed = money.owed
        body = {"doiTuongId": payload["beneficiary_id"], "hoSoId": payload.get("ministry_id"),
                "tuThang": owed.months[0][0], "denThang": owed.months[-1][0], **owed.as_ministry(),
                "canCu": {"soQuyetDinh": decision.get("so"), "ngayQuyetDinh": str(decision.get("ngay"))[:10]}}
        try:
            answer = await self.client.send_back_payment(body, idempotency_key=back_payment_key(
                payload["dossier_id"], decision))
        except MinistryError as exc:
            raise translate(exc) from exc
        commune = beneficiary.get("residence", {}).get("commune_code")
        ma_ho_so = message.key

        def finish(session: Session) -> None:
            now = utcnow()
            repository.record(session, NewAdjustment(
                AdjustmentKind.BACK_PAYMENT, ma_ho_so, owed, beneficiary_id=payload["beneficiary_id"],
                commune_code=commune, list_month=answer.list_month,
                ministry_answer={"id": answer.id, "thangChiTra": answer.list_month}), now)
            finish_step(session, Outcome(events=[NewEvent(
                payload["dossier_id"], DossierEventKind.BACK_PAYMENT_SENT, now, None,
                {"id": answer.id, "listMonth": answer.list_month, "amount": owed.total,
                 "from": owed.months[0][0], "to": owed.months[-1][0]})]))
            log.info("back_payment_sent", ma_ho_so=ma_ho_so, amount=owed.total, months=len(owed.months),
                     list_month=answer.list_month)

        return finish

    def on_retry(self, session: Session, message: Message, error: DeliveryError) -> None:
        """Retried later: nothing to record."""

    def on_dead(self, session: Session, message: Message, error: DeliveryError) -> None:
        """Refused (422 SAI_SO_TIEN with its months): recorded in the dossier's history; a replay resends."""
        finish_step(session, Outcome(events=[NewEvent(
            message.payload["dossier_id"], DossierEventKind.BACK_PAYMENT_FAILED, utcnow(), None,
            {"error": error.message, **(error.detail or {})})]))
        log.warning("back_payment_refused", ma_ho_so=message.key, error=error.message)
