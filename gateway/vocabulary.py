"""The gateway's words, each defined once and imported wherever it is used.

Message kinds and peers name outbox messages and their circuit breakers; dossier events are the
``dossier_event.kind`` of a dossier's history; callback events are the province's ``SuKien``
(province-api.md §4). Ministry statuses come from ``mappings/data/ministry_statuses.csv``
(:mod:`mappings.statuses`); message states from :class:`outbox.models.MessageState`; what an identity
check found and what was done with the revision from :mod:`mappings.identity`.
"""

from __future__ import annotations

from enum import StrEnum

from mappings.identity import IdentityAction, IdentityOutcome
from outbox.models import MessageState

__all__ = ["BACKLOG_TARGET", "CALLBACK_KEY_PREFIX", "MESSAGE_STATES", "AlertKind", "AlertState", "CallbackEvent",
           "ConflictAction", "ConflictReason", "DossierEventKind", "IdentityAction", "IdentityOutcome", "MessageKind",
           "Peer", "callback_key", "dossier_code_of_key"]


class MessageKind(StrEnum):
    """The kinds of outbox message the gateway enqueues, one handler each."""

    VERIFY_IDENTITY = "verify_identity"  # a revision's beneficiary against the population database, once
    DELIVER_DOSSIER = "deliver_dossier"  # a revision into the ministry's pending-reception queue
    SUPPLEMENT_DOSSIER = "supplement_dossier"  # the new components of a revision, through bo-sung
    PROVINCE_CALLBACK = "province_callback"  # a signed status callback to the province
    NOTICE_LOOKUP = "notice_lookup"  # a death notice: look the deceased up among the ministry's beneficiaries
    NOTICE_STOP = "notice_stop"  # a death notice: stop the allowance, the overpayment computed
    SEND_BACK_PAYMENT = "send_back_payment"  # an approval's months owed (truy lĩnh) to the ministry
    SEND_ALERT = "send_alert"  # an operator alert to GATEWAY_ALERT_WEBHOOK_URL (docs/contracts/alerts.md)


class Peer(StrEnum):
    """The systems messages go to (the outbox's ``target``: one circuit breaker each)."""

    MINISTRY = "ministry"
    PROVINCE = "province"
    POPULATION = "population"  # the population database's verification service (population-api.md)
    ALERT_WEBHOOK = "alert_webhook"  # the operators' alert receiver (GATEWAY_ALERT_WEBHOOK_URL)


class AlertKind(StrEnum):
    """What an operator alert is about (docs/contracts/alerts.md); its ``target`` says which one."""

    MESSAGE_DEAD = "message_dead"  # messages of a kind went dead (target: the message kind)
    PEER_OUTAGE = "peer_outage"  # a peer's circuit stayed open past GATEWAY_ALERT_OUTAGE_S (target: the peer)
    BACKLOG = "backlog"  # the oldest undelivered message is older than GATEWAY_ALERT_BACKLOG_S (target: "outbox")


class AlertState(StrEnum):
    """An alert's ``state``: the condition holds, or it held and no longer does."""

    FIRING = "firing"
    RESOLVED = "resolved"


BACKLOG_TARGET = "outbox"
"""The target of backlog alerts: the outbox as a whole."""


class DossierEventKind(StrEnum):
    """What a line of a dossier's history records."""

    RECEIVED = "received"  # a revision posted by the province
    DELIVERED = "delivered"  # the revision is in the ministry's pending-reception queue
    SUPPLEMENT_DELIVERED = "supplement_delivered"  # new components sent through bo-sung
    DELIVERY_FAILED = "delivery_failed"  # given up: the reasons are in the detail
    MINISTRY_STATUS = "ministry_status"  # the ministry's change feed moved it
    IDENTITY_VERIFIED = "identity_verified"  # the population database agrees
    IDENTITY_HELD = "identity_held"  # it disagrees: held, not delivered (policy block)
    IDENTITY_MISMATCH = "identity_mismatch"  # it disagrees: delivered with the disagreement noted (policy warn)
    IDENTITY_UNVERIFIED = "identity_unverified"  # no answer in time, or refused: delivered marked unverified
    RELEASED = "released"  # a held revision delivered on an administrator's word
    DECISION_CHECKED = "decision_checked"  # an approval's amount checked, its months owed computed
    BACK_PAYMENT_SENT = "back_payment_sent"  # the months owed posted to the ministry (truy lĩnh)
    BACK_PAYMENT_FAILED = "back_payment_failed"  # the ministry refused them (422 SAI_SO_TIEN): an officer looks
    DELIVERY_CONFLICT = "delivery_conflict"  # a create's 409: the ministry holds other content; an admin decides
    CONFLICT_RESOLVED = "conflict_resolved"  # an administrator accepted the ministry's copy, or had it compared again
    CONFLICT_RETRIED = "conflict_retried"  # the ministry asked for more: a conflict of missing files delivered again


class ConflictReason(StrEnum):
    """Why a revision whose create answered 409 waits for an administrator (delivery state ``conflict``): what the
    ministry holds under its MaHoSo differs, and a supplement (bo-sung) cannot make it whole."""

    FIELDS_DIFFER = "fields_differ"  # declared fields differ: bo-sung carries components, not fields
    FILES_DIFFER = "files_differ"  # the ministry holds files this revision does not have: bo-sung cannot remove
    NOT_SUPPLEMENTABLE = "not_supplementable"  # only files are missing, but the ministry is not in YEU_CAU_BO_SUNG
    UNREADABLE = "unreadable"  # the ministry's dossier could not be read (404: another sender's)


class ConflictAction(StrEnum):
    """What an administrator does with a dossier in ``conflict``."""

    ACCEPT = "accept"  # the ministry's copy stands: the revision is recorded delivered, knowingly
    RETRY = "retry"  # deliver the revision again: compared afresh (a supplement once the ministry asks for more)


class CallbackEvent(StrEnum):
    """The province callback's ``SuKien`` (province-api.md §4)."""

    DELIVERED = "DA_CHUYEN_BO"
    STATUS_CHANGED = "CAP_NHAT_TRANG_THAI"
    SYNC_FAILED = "LOI_DONG_BO"
    IDENTITY_MISMATCH = "SAI_LECH_DAN_CU"  # the population database disagrees (field paths in SaiLech)
    ALLOWANCE_STOPPED = "DA_THOI_HUONG"  # a death notice: the ministry stopped the allowance (ThoiHuong)
    NO_ALLOWANCE = "KHONG_CO_TRO_CAP"  # a death notice: the deceased was not an active beneficiary


CALLBACK_KEY_PREFIX = "callback:"
"""Callbacks are ordered under ``callback:<MaHoSo>``, deliveries under the bare ``MaHoSo``: a province
outage holds back only callbacks, never deliveries to the ministry."""

MESSAGE_STATES: tuple[str, ...] = tuple(state.value for state in MessageState)
"""Every outbox message state, in the order of a message's life."""


def callback_key(ma_ho_so: str) -> str:
    """The outbox ordering key of dossier ``ma_ho_so``'s callbacks (one dossier's events go out in order)."""
    return f"{CALLBACK_KEY_PREFIX}{ma_ho_so}"


def dossier_code_of_key(key: str) -> str:
    """The ``MaHoSo`` an outbox key is about (a callback's key without its prefix)."""
    return key.removeprefix(CALLBACK_KEY_PREFIX)
