"""The province callbacks (province-api.md §4): their body, and the outbox message that carries one."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from gateway.vocabulary import CallbackEvent, MessageKind, callback_key
from gateway.workflow import Next, Step
from mappings.dates import format_timestamp
from mappings.statuses import PENDING_RECEPTION
from mappings.tables import national_status

ANNOUNCE = "announce"
"""The step that sends DA_CHUYEN_BO; its workflow id is the dossier (announced once, by whoever learns first)."""

DELIVERED_TEXT = "Hồ sơ đã được chuyển vào mục Hồ sơ chờ tiếp nhận của phần mềm trợ giúp xã hội."


def decision_for_province(decision: dict[str, Any] | None, back_payment: dict[str, Any] | None = None, *,
                          approval: bool = False) -> dict[str, Any] | None:
    """The ministry's ``quyetDinh`` in the province's PascalCase (contract silent on its shape: ours); an
    approval's carries ``TruyLinh`` (province-api.md §6): the months owed, or null when none."""
    if not decision:
        return None
    shaped = {
        "SoQuyetDinh": decision.get("so"),
        "NgayQuyetDinh": decision.get("ngay"),
        "MucHuongThang": decision.get("mucHuongThang"),
        "ThangBatDauHuong": decision.get("thangBatDauHuong"),
    }
    if approval:
        shaped["TruyLinh"] = back_payment
    return shaped


def callback(
    ma_ho_so: str,
    ministry_id: str | None,
    event: str,
    *,
    at: datetime,
    ministry_status: str | None,
    text: str | None,
    decision: dict[str, Any] | None = None,
    event_id: str | None = None,
    extra: dict[str, Any] | None = None,
    back_payment: dict[str, Any] | None = None,
    approval: bool = False,
) -> Next:
    """The outbox message carrying the §4 callback of one event of dossier ``ma_ho_so``, for a step's
    :class:`~gateway.workflow.Outcome`. ``event_id``: a step's derived :attr:`~gateway.workflow.Step.event_id`,
    else a fresh one; fixed here either way, so every retry of this callback carries the same one. ``extra``: the
    event's own members (``SaiLech`` of SAI_LECH_DAN_CU)."""
    body = {
        "EventId": event_id or str(uuid.uuid4()),
        "MaHoSo": ma_ho_so,
        "SuKien": event,
        "TrangThaiHoSo": (None if event == CallbackEvent.SYNC_FAILED or ministry_status is None
                          else national_status(ministry_status)),
        "TrangThaiBo": ministry_status,
        "MaHoSoBo": ministry_id,
        "ThoiDiem": format_timestamp(at),
        "NoiDung": text,
        "QuyetDinh": decision_for_province(decision, back_payment, approval=approval),
        **(extra or {}),
    }
    return Next(MessageKind.PROVINCE_CALLBACK, callback_key(ma_ho_so), {"body": body})


def announcement(ma_ho_so: str, ministry_id: str | None, dossier_id: str, at: datetime) -> Next:
    """The DA_CHUYEN_BO callback: the dossier is in the ministry's pending-reception queue. Sent by the
    delivery or by the reconciler, whichever learns it first, with the same EventId either way."""
    return callback(ma_ho_so, ministry_id, CallbackEvent.DELIVERED, at=at, ministry_status=PENDING_RECEPTION,
                    text=DELIVERED_TEXT, event_id=Step(dossier_id, ANNOUNCE).event_id)
