"""One dossier's journey for administrators, the overdue dossiers, and finding a dossier by code.

The timeline is assembled from what each owner exposes: the dossier's history (``gateway.dossiers.repository``),
its identity checks (``gateway.identity.repository``), its outbox messages and their attempts and the audit entries
about it (``gateway.admin.service``), its payment adjustments (``gateway.payments.repository``). The ministry's
statuses are the history's ``ministry_status`` lines (the reconciler writes one per recorded change). Codes, states
and field paths only: no dossier content, no personal value.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any, Literal
from urllib.parse import quote

from pydantic import BaseModel, Field

from gateway.admin.reasons import explain, label
from gateway.admin.schemas import AuditEntryInfo, MessageDetail
from gateway.admin.service import CANCELLABLE, REPLAYABLE, dossier_audit, dossier_messages
from gateway.db import Database
from gateway.dossiers import repository as dossiers
from gateway.identity import repository as identity
from gateway.models import DeliveryState, DossierEvent, IdentityCheck, PaymentAdjustment
from gateway.payments import repository as payments
from gateway.vocabulary import DossierEventKind, MessageKind
from mappings.admin_units import commune as commune_unit
from mappings.tables import ministry_status
from outbox.columns import utcnow
from outbox.models import MessageState

Source = Literal["dossier", "identity", "message", "attempt", "payment", "audit"]
ActionKind = Literal["replay", "cancel", "release", "conflict"]
SEARCH_MAX = 128


class TimelineEntry(BaseModel):
    """One thing that happened to a dossier (codes and states, never personal data)."""

    at: datetime
    source: Source = Field(description="which record says it: dossier history, identity check, outbox message, "
                                       "one attempt of a message, payment adjustment, audit entry")
    kind: str = Field(description="the event kind, message kind, or audit action")
    title: str = Field(description="what happened, in Vietnamese")
    revision: int | None = None
    state: str | None = Field(default=None, description="a message's state, an attempt's outcome, a check's action")
    code: str | None = Field(default=None, description="a ministry status, error code, SuKien or HTTP status")
    reason: str | None = Field(default=None, description="why it failed, in plain Vietnamese")
    fields: list[str] = Field(default_factory=list, description="field paths at fault (never their values)")
    messageId: int | None = None
    clock: Literal["gateway", "ministry"] = Field(
        default="gateway", description="whose clock ``at`` is on: the ministry stamps its own moments (arrival in "
                                       "pending reception, statuses) to the whole second")
    sortAt: datetime | None = Field(default=None, exclude=True)  # where the timeline places it, if not at ``at``


class DossierAction(BaseModel):
    """An action that applies to the dossier now, and the console page or form that does it."""

    kind: ActionKind
    title: str
    messageId: int | None = None
    method: Literal["get", "post"] = Field(description="post: a form posting to path; get: a confirmation page")
    path: str = Field(description="the console path under /admin")


class DossierJourney(BaseModel):
    """A dossier's states, deadline and timeline, oldest first, and the actions that apply to it now."""

    MaHoSo: str
    revision: int
    state: str = Field(description="the delivery state")
    ministryId: str | None
    ministryStatus: str | None
    ministryStatusName: str | None
    nationalStatus: int | None
    final: bool
    dueAt: datetime | None
    overdue: bool
    daysOverdue: int | None
    timeline: list[TimelineEntry]
    actions: list[DossierAction]


class OverdueItem(BaseModel):
    """An overdue dossier: how many days past its promised date, in which commune."""

    MaHoSo: str
    state: str
    ministryStatus: str | None
    dueAt: datetime
    daysOverdue: int = Field(description="whole days since the promised date (calendar days)")
    maXa: str | None = Field(description="the beneficiary's commune code (in force) of the current revision")
    tenXa: str | None = Field(description="its name, from the administrative units table")


class CommuneCount(BaseModel):
    """How many dossiers of one commune are overdue."""

    maXa: str | None
    tenXa: str | None
    count: int


class OverdueList(BaseModel):
    """The overdue dossiers, most overdue first (``count`` of them in all), and how many per commune."""

    count: int
    items: list[OverdueItem]
    byCommune: list[CommuneCount]


def days_overdue(due_at: datetime, now: datetime) -> int:
    """Whole days from ``due_at`` to ``now`` (0 on the day it fell due)."""
    return max(0, (now - due_at) // timedelta(days=1))


def find_code(db: Database, query: str) -> str | None:
    """The MaHoSo of the dossier whose MaHoSo or ministry id is ``query`` (spaces trimmed); None if none."""
    text = query.strip()
    if not text or len(text) > SEARCH_MAX:
        return None
    with db.session() as session:
        return dossiers.code_of(session, text)


def ordered(entries: Iterable[TimelineEntry]) -> list[TimelineEntry]:
    """The entries by time; those at the same moment keep the order they were given in (a message before its
    attempts, a history line before the messages it enqueued); ``sortAt``, when set, places an entry instead of
    ``at``."""
    return sorted(entries, key=lambda entry: entry.sortAt or entry.at)


def journey(db: Database, ma_ho_so: str) -> DossierJourney | None:
    """The journey of dossier ``ma_ho_so``; None when there is none."""
    now = utcnow()
    with db.session() as session:
        found = dossiers.find(session, ma_ho_so)
        if found is None:
            return None
        checks = identity.checks_of(session, found.dossier.id)
        messages = dossier_messages(session, ma_ho_so)
        audits = dossier_audit(session, ma_ho_so, [m.id for m in messages])
        _, adjustments = payments.page(session, month=None, kind=None, ma_ho_so=ma_ho_so, limit=200)
    row = found.dossier
    overdue = row.due_at is not None and row.due_at < now and not row.is_final
    status = ministry_status(row.ministry_status) if row.ministry_status else None
    checked = {check.revision for check in checks}
    # A check's row says what its history line says, and what became of it since (released, corrected): one line.
    events = [e for e in found.events if not (e.kind in _IDENTITY_EVENTS and e.revision in checked)]
    entries = [*_after_their_attempts([_event_entry(e) for e in events], messages), *map(_check_entry, checks),
               *(entry for m in messages for entry in _message_entries(m)), *map(_payment_entry, adjustments),
               *map(_audit_entry, audits)]
    return DossierJourney(
        MaHoSo=row.ma_ho_so, revision=row.current_revision, state=row.delivery_state, ministryId=row.ministry_id,
        ministryStatus=row.ministry_status, ministryStatusName=status.name if status else None,
        nationalStatus=row.national_status, final=row.is_final, dueAt=row.due_at, overdue=overdue,
        daysOverdue=days_overdue(row.due_at, now) if overdue and row.due_at else None,
        timeline=ordered(entries), actions=_actions(row.ma_ho_so, row.delivery_state, messages))


def overdue_list(db: Database, *, commune: str | None = None, limit: int = 200) -> OverdueList:
    """The overdue dossiers (past their promised date, not final), most overdue first, ``commune`` only if given,
    and the count per commune (of every overdue dossier)."""
    now = utcnow()
    with db.session() as session:
        total, rows = dossiers.overdue(session, now, commune=commune, limit=limit)
        per_commune = dossiers.overdue_by_commune(session, now)
    return OverdueList(
        count=total,
        items=[OverdueItem(MaHoSo=r.ma_ho_so, state=r.delivery_state, ministryStatus=r.ministry_status,
                           dueAt=r.due_at, daysOverdue=days_overdue(r.due_at, now), maXa=r.commune_code,
                           tenXa=_commune_name(r.commune_code)) for r in rows],
        byCommune=[CommuneCount(maXa=code, tenXa=_commune_name(code), count=n) for code, n in per_commune],
    )


def overdue_counts(db: Database) -> list[CommuneCount]:
    """How many dossiers are overdue in each commune that has some, most first."""
    with db.session() as session:
        per_commune = dossiers.overdue_by_commune(session, utcnow())
    return [CommuneCount(maXa=code, tenXa=_commune_name(code), count=n) for code, n in per_commune]


def _commune_name(code: str | None) -> str | None:
    unit = commune_unit(code) if code else None
    return unit.name if unit else None


# ---- the timeline's lines -----------------------------------------------------------------------------------

_IDENTITY_EVENTS = {DossierEventKind.IDENTITY_VERIFIED, DossierEventKind.IDENTITY_HELD,
                    DossierEventKind.IDENTITY_MISMATCH, DossierEventKind.IDENTITY_UNVERIFIED}
_MINISTRY_STAMPED = {DossierEventKind.DELIVERED, DossierEventKind.MINISTRY_STATUS, DossierEventKind.DECISION_CHECKED}
"""History lines whose time is the ministry's (its ngayTao, its change feed's thoiDiem)."""
_AFTER_ARRIVAL = {DossierEventKind.MINISTRY_STATUS, DossierEventKind.DECISION_CHECKED}
_EVENT_CODES = ("status", "maLoi", "reason", "action")  # detail keys holding a code worth showing


def _event_entry(event: DossierEvent) -> TimelineEntry:
    detail: dict[str, Any] = event.detail or {}
    code = next((str(detail[k]) for k in _EVENT_CODES if isinstance(detail.get(k), str | int)), None)
    title = label("dossier_events", event.kind)
    if event.kind == "ministry_status" and code:
        known = ministry_status(code)
        title = f"{title}: {known.name}" if known else f"{title}: {code}"
    fields = [str(f) for f in detail.get("fields") or [] if isinstance(f, str)]
    reason = None
    if event.kind == "delivery_failed":
        reason = explain(MessageKind.DELIVER_DOSSIER, detail).reason
    return TimelineEntry(at=event.at, source="dossier", kind=event.kind, title=title, revision=event.revision,
                         code=code, fields=fields, reason=reason,
                         clock="ministry" if event.kind in _MINISTRY_STAMPED else "gateway")


def _after_their_attempts(entries: list[TimelineEntry], messages: list[MessageDetail]) -> list[TimelineEntry]:
    """Each ``delivered`` line placed no earlier than the start of the successful attempt that delivered its
    revision, and the ministry's statuses no earlier than the first: their times are the ministry's stamps, to
    the whole second, which may read earlier than the gateway's own moments of that second."""
    started: dict[int, datetime] = {}
    for m in messages:
        revision = (m.payload or {}).get("revision")
        if m.kind == MessageKind.DELIVER_DOSSIER and isinstance(revision, int):
            for attempt in m.attemptsLog:
                if attempt.outcome == MessageState.DONE.value:
                    started[revision] = attempt.startedAt
    out = []
    for entry in entries:
        begun = started.get(entry.revision or 0) if entry.kind == DossierEventKind.DELIVERED else None
        out.append(entry.model_copy(update={"sortAt": begun + timedelta(microseconds=1)})
                   if begun is not None and begun >= entry.at else entry)
    # Nor does the ministry move a dossier before it arrived: its statuses after the first delivered line.
    arrived = min((e.sortAt or e.at for e in out if e.kind == DossierEventKind.DELIVERED), default=None)
    if arrived is not None:
        out = [e.model_copy(update={"sortAt": arrived + timedelta(microseconds=2)})
               if e.kind in _AFTER_ARRIVAL and e.at <= arrived else e for e in out]
    return out


def _check_entry(check: IdentityCheck) -> TimelineEntry:
    title = (f"Đối chiếu CSDL dân cư: {label('identity_outcomes', check.outcome)}"
             f"{' (ghi nhận đã mất)' if check.deceased else ''} — {label('identity_actions', check.action)}")
    return TimelineEntry(at=check.checked_at, source="identity", kind="identity_check", title=title,
                         revision=check.revision, state=check.action, code=check.outcome, fields=list(check.fields))


def _callback_code(message: MessageDetail) -> str | None:
    body = (message.payload or {}).get("body") or {}
    return str(body["SuKien"]) if body.get("SuKien") else None


def _message_entries(message: MessageDetail) -> list[TimelineEntry]:
    """The message's creation (with its state now) and each of its attempts (a failure's reason in plain words)."""
    revision = (message.payload or {}).get("revision")
    revision = revision if isinstance(revision, int) else None
    title = label("kinds", message.kind)
    code = _callback_code(message) if message.kind == MessageKind.PROVINCE_CALLBACK else None
    if code:
        title = f"{title}: {label('events', code)}"
    out = [TimelineEntry(at=message.createdAt, source="message", kind=message.kind, title=title, revision=revision,
                         state=message.state, code=code, messageId=message.id)]
    for attempt in message.attemptsLog:
        failed = attempt.outcome != MessageState.DONE.value
        why = explain(message.kind, attempt.detail, attempts=attempt.attempt) if failed else None
        out.append(TimelineEntry(
            at=attempt.startedAt, source="attempt", kind=message.kind,
            title=f"{title} — lần {attempt.attempt}: {label('outcomes', attempt.outcome)}", revision=revision,
            state=attempt.outcome, code=(why.code if why else None) or (str(attempt.httpStatus)
                                                                        if attempt.httpStatus else None),
            reason=why.reason if why else None, fields=[f.path for f in why.faults] if why else [],
            messageId=message.id))
    return out


def _payment_entry(adjustment: PaymentAdjustment) -> TimelineEntry:
    title = (f"{label('payment_kinds', adjustment.kind)} {adjustment.first_month} → {adjustment.last_month}: "
             f"{adjustment.amount:,} đồng".replace(",", "."))
    return TimelineEntry(at=adjustment.created_at, source="payment", kind=adjustment.kind, title=title,
                         code=adjustment.list_month)


def _audit_entry(entry: AuditEntryInfo) -> TimelineEntry:
    target = entry.target or {}
    revision = target.get("revision") if isinstance(target.get("revision"), int) else None
    return TimelineEntry(at=entry.at, source="audit", kind=entry.action,
                         title=f"{label('actions', entry.action)} ({entry.actor})", revision=revision)


def _actions(ma_ho_so: str, state: str, messages: list[MessageDetail]) -> list[DossierAction]:
    """Replay of each dead or cancelled message, cancel of each pending or dead one (its confirmation), release of a
    held dossier, the decision on one in conflict."""
    out: list[DossierAction] = []
    for m in messages:
        kind = label("kinds", m.kind)
        if m.state in REPLAYABLE:
            out.append(DossierAction(kind="replay", title=f"{label('dossier_actions', 'replay')}: {kind}",
                                     messageId=m.id, method="post", path=f"/messages/{m.id}/replay"))
        if m.state in CANCELLABLE:  # a dead one too: cancelled, it no longer counts as needing an administrator
            out.append(DossierAction(kind="cancel", title=f"{label('dossier_actions', 'cancel')} {kind}",
                                     messageId=m.id, method="get", path=f"/messages/{m.id}/cancel"))
    if state == DeliveryState.HELD:
        out.append(DossierAction(kind="release", title=label("dossier_actions", "release"), method="get",
                                 path=f"/held/{quote(ma_ho_so, safe='')}/release"))
    if state == DeliveryState.CONFLICT:
        out.append(DossierAction(kind="conflict", title=label("dossier_actions", "conflict"), method="get",
                                 path=f"/conflicts/{quote(ma_ho_so, safe='')}"))
    return out
