"""The message an approval with months owed starts (the reconciler enqueues it with the change)."""

from __future__ import annotations

import hashlib
from typing import Any

from gateway.vocabulary import MessageKind
from gateway.workflow import Next, Step

BACK_PAYMENT = "tl"  # the step's name: its idempotency key is "tl-<decision id>"


def decision_id(dossier_id: str, decision: dict[str, Any]) -> str:
    """One id per decision of a dossier (its number and date): the back-payment's workflow id."""
    text = f"{dossier_id}|{decision.get('so')}|{decision.get('ngay')}"
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def back_payment_step(ma_ho_so: str, dossier_id: str, decision: dict[str, Any], beneficiary_id: str,
                      ministry_id: str | None, first_paid_month: Any) -> Next:
    """``send_back_payment`` of an approval: the decision's facts (no personal value); the months are computed
    when it runs, from the dossier, so a replay after a correction sends the corrected ones."""
    return Next(MessageKind.SEND_BACK_PAYMENT, ma_ho_so, {
        "dossier_id": dossier_id, "decision": {k: decision.get(k) for k in ("so", "ngay", "mucHuongThang",
                                                                             "thangBatDauHuong")},
        "beneficiary_id": beneficiary_id, "ministry_id": ministry_id, "first_paid_month": first_paid_month})


def back_payment_key(dossier_id: str, decision: dict[str, Any]) -> str:
    """The ministry's Idempotency-Key of a decision's back-payment."""
    return Step(decision_id(dossier_id, decision), BACK_PAYMENT).key
