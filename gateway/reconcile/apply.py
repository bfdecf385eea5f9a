"""Applying changes of the ministry's feed to the dossiers they concern: idempotent, in the caller's transaction.

A page of changes is applied as if one change after the other (same outcomes, same rows, same order),
with a handful of statements for the whole page: the dossiers it concerns are read (and locked) at once,
the changes recorded with one insert, the dossiers updated, the events and callbacks inserted in order.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

import structlog
from sqlalchemy import insert, select
from sqlalchemy.exc import MultipleResultsFound
from sqlmodel import Session

from gateway.callbacks.events import announcement, callback
from gateway.delivery.conflicts import retry_when_asked
from gateway.dossiers import repository
from gateway.dossiers.repository import NewEvent
from gateway.models import DeliveryState, MinistryChange
from gateway.payments.steps import back_payment_step
from gateway.vocabulary import CallbackEvent, DossierEventKind
from gateway.workflow import Outcome, finish_step
from mappings.dates import from_iso
from mappings.decisions import back_payment_for_province, decision_money
from mappings.model import PartialDate
from mappings.statuses import APPROVED, PENDING_RECEPTION, SUPPLEMENT_REQUESTED
from mappings.tables import ministry_status, national_status, note_text
from outbox.columns import utcnow

log = structlog.get_logger(__name__)

_EXTRA_FIELDS = ("lyDo", "canBo", "quyetDinh")


class ChangeOutcome(StrEnum):
    """What became of one change of the feed."""

    APPLIED = "applied"  # recorded, and its dossier moved on
    DUPLICATE = "duplicate"  # recorded before: the feed repeated it
    UNKNOWN_DOSSIER = "unknown_dossier"  # recorded, but no dossier of ours has it
    MALFORMED = "malformed"  # not a change the contract describes: logged, skipped


_CHUNK = 500  # keys per IN (…): well under SQLite's bound-parameter limit


def change_key(change: dict[str, Any]) -> str:
    """What makes a change the same change when the feed delivers it again."""
    text = f"{change.get('id')}|{change.get('trangThai')}|{change.get('thoiDiem')}"
    return hashlib.sha256(text.encode()).hexdigest()


def apply_change(session: Session, change: dict[str, Any], *, notify: bool) -> ChangeOutcome:
    """Record ``change`` and move its dossier on; returns ``applied``, ``duplicate``, ``unknown_dossier``
    or ``malformed``. A change for a dossier the gateway does not know is recorded and skipped."""
    return apply_changes(session, [change], notify=notify)[0]


@dataclass
class _Page:
    """What applying a page writes, gathered in order."""

    changes: list[dict[str, Any]] = field(default_factory=list)
    outcome: Outcome = field(default_factory=Outcome)  # events and callbacks, in the order the changes made them
    touched: dict[str, dict[str, Any]] = field(default_factory=dict)  # dossier id -> its row, as moved
    contents: dict[str, dict[str, Any]] = field(default_factory=dict)  # approvals' dossiers: delivered content
    asked_more: dict[str, dict[str, Any]] = field(default_factory=dict)  # dossier id -> row in conflict, asked more


def apply_changes(session: Session, changes: Sequence[dict[str, Any]], *, notify: bool) -> list[ChangeOutcome]:
    """Apply ``changes`` in order, as :func:`apply_change` one after the other would; their outcomes."""
    parsed = [_parse(change) for change in changes]
    valid = [p for p in parsed if p is not None]
    if not valid:
        return [ChangeOutcome.MALFORMED] * len(changes)
    by_ministry_id, by_code = _dossiers(session, valid)
    known_keys = _recorded(session, [p.key for p in valid])
    page = _Page()
    approved = [d["id"] for p in valid if p.status == APPROVED
                for d in [*by_ministry_id.get(p.ministry_id, []), *([by_code[p.ma_ho_so]] if p.ma_ho_so in by_code
                                                                    else [])]]
    if approved:  # rare: one read for the page's approvals, whose money needs the beneficiary
        page.contents = repository.delivered_contents(session, approved)
    outcomes: list[ChangeOutcome] = []
    for item in parsed:
        if item is None:
            outcomes.append(ChangeOutcome.MALFORMED)
            continue
        dossier = _find(by_ministry_id, item.ministry_id)
        if dossier is None and item.ma_ho_so:
            dossier = by_code.get(item.ma_ho_so)
        if item.key in known_keys:
            outcomes.append(ChangeOutcome.DUPLICATE)
            continue
        known_keys.add(item.key)
        page.changes.append({
            "change_key": item.key, "ministry_id": item.ministry_id, "ma_ho_so": item.ma_ho_so,
            "status": item.status, "at": item.at, "raw": item.change, "dossier_id": dossier["id"] if dossier else None,
            "recorded_at": utcnow(),
        })
        if dossier is None:
            log.warning("ministry_change_unknown_dossier", ministry_id=item.ministry_id, ma_ho_so=item.ma_ho_so,
                        status=item.status)
            outcomes.append(ChangeOutcome.UNKNOWN_DOSSIER)
            continue
        if dossier["ministry_id"] is None:
            dossier["ministry_id"] = item.ministry_id  # the feed knew before our delivery's answer did (an answer lost)
            by_ministry_id.setdefault(item.ministry_id, []).append(dossier)
        _move(page, dossier, item, notify)
        outcomes.append(ChangeOutcome.APPLIED)
    for dossier in page.asked_more.values():
        # Decided on the page's last word: a dossier asked for more, then received again, is left alone.
        if dossier["ministry_status"] == SUPPLEMENT_REQUESTED:
            retry_when_asked(session, dossier["id"], dossier["ma_ho_so"], dossier["current_revision"], utcnow(),
                             page.outcome)
    _write(session, page)
    return outcomes


@dataclass(frozen=True)
class _Change:
    change: dict[str, Any]
    ministry_id: str
    status: str
    at: datetime
    ma_ho_so: str | None
    key: str


def _parse(change: dict[str, Any]) -> _Change | None:
    ministry_id, status, when = change.get("id"), change.get("trangThai"), change.get("thoiDiem")
    if not isinstance(ministry_id, str) or not isinstance(status, str) or not isinstance(when, str):
        log.warning("ministry_change_malformed", fields=sorted(change))
        return None
    try:
        at = from_iso(when)
    except ValueError:
        log.warning("ministry_change_malformed", ministry_id=ministry_id, field="thoiDiem")
        return None
    ma_ho_so = change.get("maHoSoTinh") if isinstance(change.get("maHoSoTinh"), str) else None
    return _Change(change, ministry_id, status, at, ma_ho_so, change_key(change))


def _move(page: _Page, dossier: dict[str, Any], item: _Change, notify: bool) -> None:
    """One recorded change moves its dossier on: status, decision, event, callbacks (gathered in ``page``)."""
    change, status, at = item.change, item.status, item.at
    known = ministry_status(status)
    if known is None:
        log.warning("ministry_status_unknown", status=status, ma_ho_so=dossier["ma_ho_so"],
                    detail="recorded and sent with TrangThaiHoSo null")
    extra = {k: change[k] for k in _EXTRA_FIELDS if change.get(k) is not None}
    if not dossier["announced"]:
        # The feed got here before the delivery recorded its answer: announce the arrival in pending
        # reception first, so that the province hears the events in the order they happened.
        if notify:
            page.outcome.then.append(announcement(dossier["ma_ho_so"], dossier["ministry_id"], dossier["id"], at))
        dossier["announced"] = True
    if dossier["ministry_status_at"] is None or at >= dossier["ministry_status_at"]:
        dossier["ministry_status"] = status
        dossier["national_status"] = national_status(status)
        dossier["ministry_status_at"] = at
        dossier["is_final"] = bool(known and known.is_final)
    decision = change.get("quyetDinh") if isinstance(change.get("quyetDinh"), dict) else None
    back_payment: dict[str, Any] | None = None
    money_text, checked = "", None
    if status == APPROVED and decision:
        _store_decision(dossier, decision)
        back_payment, money_text, checked = _approval_money(page, dossier, change, decision)
    page.touched[dossier["id"]] = dossier
    if status == SUPPLEMENT_REQUESTED and dossier["delivery_state"] == DeliveryState.CONFLICT:
        page.asked_more[dossier["id"]] = dossier
    if status != PENDING_RECEPTION or dossier["delivered_revision"] is None:  # else "delivered" already says it
        log.info("dossier_status_changed", ma_ho_so=dossier["ma_ho_so"], status=status,
                 national_status=national_status(status))
        page.outcome.events.append(NewEvent(dossier["id"], DossierEventKind.MINISTRY_STATUS, at, None,
                                            {"status": status, "nationalStatus": national_status(status), **extra}))
    if checked is not None:
        page.outcome.events.append(NewEvent(dossier["id"], DossierEventKind.DECISION_CHECKED, at, None, checked))
    if status != PENDING_RECEPTION:  # arrival in pending reception was announced on delivery (DA_CHUYEN_BO)
        text = change.get("lyDo") if isinstance(change.get("lyDo"), str) else (known.name if known else status)
        if money_text:
            text = f"{text}. {money_text}"
        if notify:
            page.outcome.then.append(callback(dossier["ma_ho_so"], dossier["ministry_id"],
                                              CallbackEvent.STATUS_CHANGED, at=at, ministry_status=status, text=text,
                                              decision=decision, back_payment=back_payment,
                                              approval=status == APPROVED))


def _approval_money(page: _Page, dossier: dict[str, Any], change: dict[str, Any], decision: dict[str, Any]
                    ) -> tuple[dict[str, Any] | None, str, dict[str, Any] | None]:
    """An approval's amount checked and its months owed (mappings), the back-payment step enqueued when some are
    owed: (``TruyLinh`` for the province, a sentence for ``NoiDung`` when the amount disagrees, the history's
    detail of the check)."""
    content = page.contents.get(dossier["id"])
    if content is None:
        return None, "", None
    beneficiary = content["beneficiary"]
    birth = PartialDate(**beneficiary["birth_date"])
    first_paid = change.get("thangChiTraDauTien", decision.get("thangChiTraDauTien"))
    money = decision_money(beneficiary["group_code"], birth, decision, first_paid)
    text = ""
    check = money.check
    if check is not None and not check.agrees:
        text = note_text("decision_amount_mismatch", decided=f"{check.decided:,}",
                         expected=f"{check.expected:,}" if check.expected is not None else "không tính được")
        log.warning("decision_amount_mismatch", ma_ho_so=dossier["ma_ho_so"], decided=check.decided,
                    expected=check.expected, reason=check.reason)
    owed = back_payment_for_province(money.owed)
    detail = {"decided": check.decided if check else None, "expected": check.expected if check else None,
              "agrees": check.agrees if check else None, "reason": (check.reason if check else None) or money.reason,
              "owed": owed}
    beneficiary_id = change.get("doiTuongId", decision.get("doiTuongId"))
    if owed is not None and isinstance(beneficiary_id, str):
        page.outcome.then.append(back_payment_step(dossier["ma_ho_so"], dossier["id"], decision, beneficiary_id,
                                                   dossier["ministry_id"], first_paid))
    elif owed is not None:
        detail["reason"] = "no_beneficiary_id"  # the ministry's change named no doiTuongId: nothing to post to
    return owed, text, detail


def _store_decision(dossier: dict[str, Any], decision: dict[str, Any]) -> None:
    number, day = decision.get("so"), decision.get("ngay")
    amount, first = decision.get("mucHuongThang"), decision.get("thangBatDauHuong")
    dossier["decision_number"] = str(number) if number is not None else None
    dossier["decision_date"] = str(day)[:10] if day is not None else None
    dossier["monthly_amount"] = amount if isinstance(amount, int) and not isinstance(amount, bool) else None
    dossier["first_month"] = str(first)[:7] if first is not None else None


# ---- the statements ---------------------------------------------------------------------------


def _chunks(values: Iterable[str]) -> Iterable[list[str]]:
    items = sorted(values)
    for start in range(0, len(items), _CHUNK):
        yield items[start:start + _CHUNK]


def _dossiers(session: Session, changes: list[_Change]
              ) -> tuple[dict[str, list[dict[str, Any]]], dict[str, dict[str, Any]]]:
    """The dossiers a page may concern, locked for update, as mutable rows: by ministry id, and by code for
    the changes whose ministry id no dossier has (the only ones a change looks up by code)."""
    rows = repository.lock_for_feed(session, {c.ministry_id for c in changes},
                                    [(c.ministry_id, c.ma_ho_so) for c in changes if c.ma_ho_so])
    by_ministry_id: dict[str, list[dict[str, Any]]] = {}
    for row in rows.values():
        if row["ministry_id"] is not None:
            by_ministry_id.setdefault(row["ministry_id"], []).append(row)
    return by_ministry_id, {row["ma_ho_so"]: row for row in rows.values()}


def _find(by_ministry_id: dict[str, list[dict[str, Any]]], ministry_id: str) -> dict[str, Any] | None:
    found = by_ministry_id.get(ministry_id, [])
    if len(found) > 1:
        raise MultipleResultsFound(f"{len(found)} dossiers with ministry id {ministry_id}")
    return found[0] if found else None


def _recorded(session: Session, keys: list[str]) -> set[str]:
    """Which of ``keys`` are in the change log already."""
    table = MinistryChange.__table__  # type: ignore[attr-defined]
    found: set[str] = set()
    for chunk in _chunks(set(keys)):
        found.update(session.connection().execute(
            select(table.c.change_key).where(table.c.change_key.in_(chunk))).scalars())
    return found


def _write(session: Session, page: _Page) -> None:
    """The page's rows: the new changes, the moved dossiers, then their events and callbacks in the order the
    changes produced them (each insert one statement, its rows in order)."""
    if page.changes:
        # A plain insert: _recorded() found none of these keys under the feed's lease, so a conflict means a
        # concurrent writer, and the IntegrityError rolls the page back to be applied again next time.
        session.connection().execute(insert(MinistryChange.__table__), page.changes)  # type: ignore[attr-defined]
    repository.write_feed_moves(session, page.touched.values())
    finish_step(session, page.outcome)
