"""The gateway's words, each defined once and imported wherever it is used.

Message kinds and peers name outbox messages and their circuit breakers; dossier events are the
``dossier_event.kind`` of a dossier's history; callback events are the province's ``SuKien``
(province-api.md §4). Ministry statuses come from ``mappings/data/ministry_statuses.csv``
(:mod:`mappings.statuses`); message states from :class:`outbox.models.MessageState`.
"""

from __future__ import annotations

from enum import StrEnum

from outbox.models import MessageState


class MessageKind(StrEnum):
    """The kinds of outbox message the gateway enqueues, one handler each."""

    DELIVER_DOSSIER = "deliver_dossier"  # a revision into the ministry's pending-reception queue
    SUPPLEMENT_DOSSIER = "supplement_dossier"  # the new components of a revision, through bo-sung
    PROVINCE_CALLBACK = "province_callback"  # a signed status callback to the province


class Peer(StrEnum):
    """The systems messages go to (the outbox's ``target``: one circuit breaker each)."""

    MINISTRY = "ministry"
    PROVINCE = "province"


class DossierEventKind(StrEnum):
    """What a line of a dossier's history records."""

    RECEIVED = "received"  # a revision posted by the province
    DELIVERED = "delivered"  # the revision is in the ministry's pending-reception queue
    SUPPLEMENT_DELIVERED = "supplement_delivered"  # new components sent through bo-sung
    DELIVERY_FAILED = "delivery_failed"  # given up: the reasons are in the detail
    MINISTRY_STATUS = "ministry_status"  # the ministry's change feed moved it


class CallbackEvent(StrEnum):
    """The province callback's ``SuKien`` (province-api.md §4)."""

    DELIVERED = "DA_CHUYEN_BO"
    STATUS_CHANGED = "CAP_NHAT_TRANG_THAI"
    SYNC_FAILED = "LOI_DONG_BO"


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
