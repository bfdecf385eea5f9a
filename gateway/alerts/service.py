"""Deciding and enqueuing operator alerts (docs/contracts/alerts.md).

Two entry points: :meth:`Alerting.on_dead`, the dispatcher's hook in the transaction that buries a message
(the one place every dead message passes), and :meth:`Alerting.check`, each worker's periodic look at the
shared circuits and the oldest undelivered message. Either takes the condition's ``alert_state`` row under
its lock and enqueues the alert in that same transaction: several workers on one database send it once.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog
from sqlmodel import Session

from gateway.admin.service import oldest_undelivered_by_kind
from gateway.alerts import repository, rules
from gateway.alerts.rules import Alert
from gateway.db import Database
from gateway.metrics import ALERTS
from gateway.vocabulary import BACKLOG_TARGET, AlertKind, AlertState, MessageKind, Peer
from outbox import DeliveryError, Message, enqueue
from outbox.circuits import SharedCircuits
from outbox.columns import utcnow

log = structlog.get_logger(__name__)

ALERT_KEY_PREFIX = "alert:"


@dataclass(frozen=True)
class AlertOptions:
    """The thresholds (GATEWAY_ALERT_*)."""

    outage_s: float = 600.0
    backlog_s: float = 3600.0
    repeat_s: float = 3600.0


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def summary(alert: Alert) -> str:
    """The alert's one line for a person, in Vietnamese (the key fields are in the body in English)."""
    since = _iso(alert.started_at)
    if alert.kind is AlertKind.MESSAGE_DEAD:
        return (f"{alert.count} tin nhắn loại {alert.target} đã thất bại hẳn (dead) từ {since}; "
                f"lỗi cuối: {alert.detail.get('last_error') or 'không rõ'}. Cần quản trị viên xem và gửi lại.")
    if alert.kind is AlertKind.PEER_OUTAGE:
        if alert.state is AlertState.RESOLVED:
            return f"Đã khôi phục kết nối tới {alert.target} (mất kết nối từ {since})."
        return f"Mất kết nối tới {alert.target}: bộ ngắt mạch mở từ {since}, các tin nhắn đang chờ."
    if alert.state is AlertState.RESOLVED:
        return f"Hết tồn đọng hàng đợi (tồn đọng từ {since})."
    return (f"Tồn đọng hàng đợi: tin nhắn chưa gửi cũ nhất đã chờ "
            f"{alert.detail.get('oldest_undelivered_age_s', 0):.0f} giây (từ {since}).")


def body(alert: Alert, alert_id: str, at: datetime) -> dict[str, Any]:
    """The webhook body (docs/contracts/alerts.md): no personal data, only ids, kinds, codes and errors."""
    return {"alert_id": alert_id, "kind": alert.kind.value, "state": alert.state.value, "target": alert.target,
            "summary": summary(alert), "started_at": _iso(alert.started_at), "sent_at": _iso(at),
            "count": alert.count, "detail": alert.detail}


def enqueue_alert(session: Session, alert: Alert, at: datetime) -> None:
    """Enqueue ``alert`` in the caller's transaction, ordered per kind and target (firing before resolved)."""
    alert_id = str(uuid.uuid4())
    enqueue(session, MessageKind.SEND_ALERT, f"{ALERT_KEY_PREFIX}{alert.kind}:{alert.target}",
            {"body": body(alert, alert_id, at)})
    ALERTS.labels(alert.kind.value, alert.state.value, "queued").inc()
    log.info("alert_queued", alert_id=alert_id, alert_kind=alert.kind.value, state=alert.state.value,
             target=alert.target, count=alert.count)


def _reason(error: DeliveryError) -> str:
    """The peer's error code when it gave one (the ministry's ``maLoi``), else the error's class."""
    detail = error.detail or {}
    return str(detail.get("maLoi") or detail.get("code") or error.__class__.__name__)


class Alerting:
    """The alert decisions of one process (every worker has one; the state they share is ``alert_state``)."""

    def __init__(self, options: AlertOptions, circuits: SharedCircuits | None = None) -> None:
        self.options = options
        self.circuits = circuits or SharedCircuits()

    def on_dead(self, session: Session, message: Message, error: DeliveryError) -> None:
        """The dispatcher's dead-message hook: count it under its kind, alert when the grouping allows.

        A dead alert raises no alert (no loop): it is logged and counted.
        """
        if message.kind == MessageKind.SEND_ALERT:
            body_ = message.payload.get("body", {})
            ALERTS.labels(str(body_.get("kind")), str(body_.get("state")), "dead").inc()
            log.error("alert_not_delivered", alert_id=body_.get("alert_id"), alert_kind=body_.get("kind"),
                      target=body_.get("target"), error=error.message)
            return
        now = utcnow()
        detail = {"message_id": message.id, "message_kind": message.kind, "key": message.key,
                  "attempts": message.attempts, "last_error": error.message,
                  "reason": _reason(error)}
        row = repository.locked(session, AlertKind.MESSAGE_DEAD, message.kind)
        alert = rules.dead_seen(row, now, self.options.repeat_s, detail)
        repository.save(session, row)
        if alert is not None:
            enqueue_alert(session, alert, now)

    def check(self, db: Database) -> int:
        """One periodic look: peers' outages, the backlog, dead messages counted and not yet told.

        Returns how many alerts were enqueued.
        """
        oldest = oldest_undelivered_by_kind(db)
        oldest.pop(MessageKind.SEND_ALERT, None)  # alerts waiting for the webhook are not the backlog they tell
        age = max(oldest.values(), default=0.0)
        sent = 0
        with db.session(write=True) as session:
            now = utcnow()
            circuits = self.circuits.read(session)
            peers = (set(circuits) | set(repository.targets(session, AlertKind.PEER_OUTAGE))) - {Peer.ALERT_WEBHOOK}
            for peer in sorted(peers):
                snapshot = circuits.get(peer)
                opened = snapshot.opened_at if snapshot is not None else None
                row = repository.locked(session, AlertKind.PEER_OUTAGE, peer)
                alert = rules.observe(
                    row, AlertKind.PEER_OUTAGE, holding=opened is not None, now=now,
                    since=datetime.fromtimestamp(opened, UTC) if opened is not None else None,
                    threshold_s=self.options.outage_s, repeat_s=self.options.repeat_s,
                    detail={"failures": snapshot.failures if snapshot else 0,
                            "outage_threshold_s": self.options.outage_s})
                repository.save(session, row)
                if alert is not None:
                    enqueue_alert(session, alert, now)
                    sent += 1
            row = repository.locked(session, AlertKind.BACKLOG, BACKLOG_TARGET)
            alert = rules.observe(row, AlertKind.BACKLOG, holding=age >= self.options.backlog_s, now=now,
                                  since=None, threshold_s=0.0, repeat_s=self.options.repeat_s,
                                  detail={"oldest_undelivered_age_s": round(age, 1),
                                          "backlog_threshold_s": self.options.backlog_s})
            repository.save(session, row)
            if alert is not None:
                enqueue_alert(session, alert, now)
                sent += 1
            for kind in repository.targets(session, AlertKind.MESSAGE_DEAD):
                row = repository.locked(session, AlertKind.MESSAGE_DEAD, kind)
                alert = rules.flush_dead(row, now, self.options.repeat_s)
                if alert is not None:
                    repository.save(session, row)
                    enqueue_alert(session, alert, now)
                    sent += 1
        return sent
