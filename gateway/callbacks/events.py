"""Recording a dossier event and, in the same transaction, the province callback that reports it."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlmodel import Session

from gateway.models import Dossier
from gateway.vocabulary import CallbackEvent, MessageKind, callback_key
from mappings.dates import format_timestamp
from mappings.tables import national_status
from outbox import enqueue

DELIVERED_TEXT = "Hồ sơ đã được chuyển vào mục Hồ sơ chờ tiếp nhận của phần mềm trợ giúp xã hội."


def decision_for_province(decision: dict[str, Any] | None) -> dict[str, Any] | None:
    """The ministry's ``quyetDinh`` in the province's PascalCase (contract silent on its shape: ours)."""
    if not decision:
        return None
    return {
        "SoQuyetDinh": decision.get("so"),
        "NgayQuyetDinh": decision.get("ngay"),
        "MucHuongThang": decision.get("mucHuongThang"),
        "ThangBatDauHuong": decision.get("thangBatDauHuong"),
    }


def callback_body(
    ma_ho_so: str,
    ministry_id: str | None,
    event: str,
    *,
    at: datetime,
    ministry_status: str | None,
    text: str | None,
    decision: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The callback body of §4 for one event of dossier ``ma_ho_so``, with a fresh ``EventId``."""
    return {
        "EventId": str(uuid.uuid4()),
        "MaHoSo": ma_ho_so,
        "SuKien": event,
        "TrangThaiHoSo": (None if event == CallbackEvent.SYNC_FAILED or ministry_status is None
                          else national_status(ministry_status)),
        "TrangThaiBo": ministry_status,
        "MaHoSoBo": ministry_id,
        "ThoiDiem": format_timestamp(at),
        "NoiDung": text,
        "QuyetDinh": decision_for_province(decision),
    }


def enqueue_callback(
    session: Session,
    dossier: Dossier,
    event: str,
    *,
    at: datetime,
    ministry_status: str | None,
    text: str | None,
    decision: dict[str, Any] | None = None,
    enabled: bool = True,
) -> str | None:
    """Enqueue the callback body of §4 in the caller's transaction; returns its EventId (None if disabled).

    The EventId is fixed here, so every retry of this callback carries the same one.
    """
    if not enabled:
        return None
    body = callback_body(dossier.ma_ho_so, dossier.ministry_id, event, at=at, ministry_status=ministry_status,
                         text=text, decision=decision)
    enqueue(session, MessageKind.PROVINCE_CALLBACK, callback_key(dossier.ma_ho_so), {"body": body})
    return str(body["EventId"])
