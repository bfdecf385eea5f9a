"""Admin API (reads: scope ``admin`` or ``monitor``; actions: ``admin``): the transaction log, replay, cancel,
the audit log and stats.

Thin routes: parse, call one service function, shape the answer. Every action is audited by the
service in the same transaction as the action, as ``api:<API key name>``.
"""

from __future__ import annotations

import functools
from typing import Annotated

import anyio
from fastapi import APIRouter, Depends, Path, Query

from gateway.admin import journey, service
from gateway.admin.filters import FilterError, MessageFilter
from gateway.admin.journey import DossierJourney, OverdueList
from gateway.admin.reports import commune_filter
from gateway.admin.schemas import (
    AuditPage,
    BulkReplayRequest,
    CancelRequest,
    CancelResult,
    MessageDetail,
    MessagePage,
    ReplayOneResult,
    ReplayResult,
    Stats,
)
from gateway.auth import Principal, require_admin, require_read
from gateway.db import Database
from gateway.deps import LocalWorker, get_database
from gateway.problems import Problem, problem_responses
from gateway.vocabulary import Peer
from mappings.errors import FieldError
from outbox.models import MessageState

router = APIRouter(prefix="/api/v1/admin", tags=["admin"])

Admin = Annotated[Principal, Depends(require_admin)]
Reader = Annotated[Principal, Depends(require_read)]  # admin or monitor
Db = Annotated[Database, Depends(get_database)]
# Ids are 64-bit in the database: a larger number is a 422, not an overflow (a 500) in the driver.
MAX_ID = 2**63 - 1
MessageId = Annotated[int, Path(ge=1, le=MAX_ID, description="the message's id")]


def _actor(principal: Principal) -> str:
    return f"api:{principal.name}"


def _filter(*, state: str | None, kind: str | None, ma_ho_so: str | None, since: str | None, until: str | None,
            error: str | None) -> MessageFilter:
    """:meth:`MessageFilter.parse`, a bad value answered as a 422 naming the query or body field."""
    try:  # dates and times without an offset are UTC
        return MessageFilter.parse(state=state, kind=kind, ma_ho_so=ma_ho_so, since=since, until=until, error=error)
    except FilterError as exc:
        raise Problem(422, "validation_failed", "Tham số không hợp lệ.",
                      errors=exc.renamed({"ma_ho_so": "MaHoSo"})) from exc


def _wake(worker: LocalWorker) -> None:
    if worker is not None:
        worker.wake()  # replayed messages are due now: do not wait for the next poll


def _not_found(message_id: int) -> Problem:
    return Problem(404, "message_not_found", f"Không có thông điệp {message_id}.")


def _summary(db: Database, message_id: int) -> MessageDetail:
    found = service.get_message(db, message_id)
    if found is None:
        raise _not_found(message_id)
    return found


@router.get("/messages", response_model=MessagePage, responses=problem_responses(401, 403, 422),
            summary="The transaction log, newest first, filtered, a page at a time")
def list_messages(
    _principal: Reader,
    db: Db,
    state: Annotated[MessageState | None, Query()] = None,
    kind: Annotated[str | None, Query(max_length=64)] = None,
    ma_ho_so: Annotated[str | None, Query(alias="MaHoSo", max_length=128,
                                          description="the dossier's code (its deliveries and callbacks)")] = None,
    since: Annotated[str | None, Query(description="created at or after: ISO date/time (UTC if no offset), "
                                                   "or a duration ago such as 2h or 7d")] = None,
    until: Annotated[str | None, Query(description="created before: same forms as since")] = None,
    error: Annotated[str | None, Query(max_length=200, description="text in the last error")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=200, description="the previous page's next")] = None,
) -> MessagePage:
    """Messages matching every given filter; ``next`` is the cursor of the following page (null at the end)."""
    filt = _filter(state=state, kind=kind, ma_ho_so=ma_ho_so, since=since, until=until, error=error)
    try:
        return service.list_messages(db, filt, limit=limit, cursor=cursor or None)
    except ValueError as exc:
        raise Problem(422, "validation_failed", "Tham số không hợp lệ.", errors=[
            FieldError("cursor", "invalid_cursor",
                       "Con trỏ phân trang không hợp lệ; dùng giá trị next của trang trước."),
        ]) from exc


@router.get("/messages/{message_id}", response_model=MessageDetail,
            responses=problem_responses(401, 403, 404, 422),
            summary="One message with every attempt (time, duration, HTTP status, error class, redacted detail)")
def read_message(message_id: MessageId, _principal: Reader, db: Db) -> MessageDetail:
    """The message and its attempts log."""
    return _summary(db, message_id)


@router.post("/messages/replay", response_model=ReplayResult,
             responses=problem_responses(400, 401, 403, 422),
             summary="Replay every dead (or cancelled) message matching the filters, in batches; safe to repeat")
async def bulk_replay(body: BulkReplayRequest, principal: Admin, db: Db, worker: LocalWorker) -> ReplayResult:
    """A body without any filter is refused unless it says ``{"all": true}`` (every dead message)."""
    filt = _filter(state=body.state, kind=body.kind, ma_ho_so=body.ma_ho_so, since=body.since, until=body.until,
                   error=body.error)
    if filt.is_empty() and not body.all:
        raise Problem(422, "filter_required", "Cần ít nhất một điều kiện lọc, hoặc \"all\": true để phát lại "
                      "mọi thông điệp lỗi.", errors=[
                          FieldError("all", "filter_required", "Không có điều kiện lọc nào."),
                      ])
    replayed = await anyio.to_thread.run_sync(
        functools.partial(service.bulk_replay, db, filt, _actor(principal)))
    if replayed:
        _wake(worker)
    return ReplayResult(replayed=replayed)


@router.post("/messages/{message_id}/replay", response_model=ReplayOneResult,
             responses=problem_responses(401, 403, 404, 409, 422),
             summary="Replay one dead or cancelled message (409 for any other state)")
async def replay_message(message_id: MessageId, principal: Admin, db: Db, worker: LocalWorker) -> ReplayOneResult:
    """Back to pending, due now, with a fresh attempt count."""
    replayed = await anyio.to_thread.run_sync(functools.partial(service.replay, db, [message_id],
                                                                _actor(principal)))
    if not replayed:
        state = await anyio.to_thread.run_sync(service.message_state, db, message_id)
        if state is None:
            raise _not_found(message_id)
        raise Problem(409, "not_replayable", f"Thông điệp {message_id} đang ở trạng thái '{state}'; chỉ phát lại "
                      "được thông điệp lỗi (dead) hoặc đã hủy (cancelled).", extra={"state": state})
    _wake(worker)
    return ReplayOneResult(replayed=replayed, message=await anyio.to_thread.run_sync(_summary, db, message_id))


@router.post("/messages/{message_id}/cancel", response_model=CancelResult,
             responses=problem_responses(400, 401, 403, 404, 409, 422),
             summary="Withdraw a pending or dead message (409 for any other state); replay brings it back")
def cancel_message(message_id: MessageId, body: CancelRequest, principal: Admin, db: Db) -> CancelResult:
    """Cancelled with the reason, which the message and the audit log keep."""
    if not service.cancel(db, message_id, _actor(principal), body.reason):
        state = service.message_state(db, message_id)
        if state is None:
            raise _not_found(message_id)
        raise Problem(409, "not_cancellable", f"Thông điệp {message_id} đang ở trạng thái '{state}'; chỉ hủy được "
                      "thông điệp đang chờ (pending) hoặc lỗi (dead).", extra={"state": state})
    return CancelResult(cancelled=1, message=_summary(db, message_id))


@router.get("/audit", response_model=AuditPage, responses=problem_responses(401, 403, 422),
            summary="The audit log, newest first: who, what, when, which messages")
def read_audit(
    _principal: Reader,
    db: Db,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    before: Annotated[int | None, Query(ge=1, le=MAX_ID, description="the previous page's next")] = None,
    action: Annotated[str | None, Query(max_length=64)] = None,
    actor: Annotated[str | None, Query(max_length=128)] = None,
) -> AuditPage:
    """Entries older than ``before`` (an entry id), at most ``limit``."""
    items = service.audit_log(db, limit=limit, before_id=before, action=action or None, actor=actor or None)
    return AuditPage(items=items, next=items[-1].id if len(items) == limit else None)


@router.get("/stats", response_model=Stats, responses=problem_responses(401, 403),
            summary="Counts by state and kind, oldest undelivered age, deliveries per minute, circuit states")
def read_stats(_principal: Reader, db: Db, worker: LocalWorker) -> Stats:
    """The circuit states are this process's dispatcher's (``not_running_here`` when it runs none)."""
    circuits = {t: s.value for t, s in worker.dispatcher.circuit_states().items()} if worker is not None else {}
    return Stats(**service.stats(db).model_dump(), ministryCircuit=circuits.get(Peer.MINISTRY, "not_running_here"),
                 circuits=circuits)


@router.get("/dossiers/{ma_ho_so}/timeline", response_model=DossierJourney,
            responses=problem_responses(401, 403, 404, 422),
            summary="One dossier's timeline: revisions, identity checks, delivery attempts, the ministry's statuses, "
                    "callbacks, payments, admin actions; its deadline and the actions that apply (codes, no "
                    "personal data)")
def read_timeline(ma_ho_so: Annotated[str, Path(max_length=64)], _principal: Reader, db: Db) -> DossierJourney:
    """The dossier's journey; 404 when there is no such dossier."""
    found = journey.journey(db, ma_ho_so)
    if found is None:
        raise Problem(404, "dossier_not_found", f"Không có hồ sơ {ma_ho_so}.")
    return found


@router.get("/overdue", response_model=OverdueList, responses=problem_responses(401, 403, 422),
            summary="Dossiers past their promised date and not final, most overdue first, with their commune; "
                    "the count per commune")
def read_overdue(_principal: Reader, db: Db,
                 ma_xa: Annotated[str | None, Query(alias="maXa", max_length=8)] = None,
                 limit: Annotated[int, Query(ge=1, le=1000)] = 200) -> OverdueList:
    """The overdue list, ``maXa`` only if given."""
    faults: list[FieldError] = []
    commune = commune_filter(ma_xa, faults)
    if faults:
        raise Problem(422, "validation_failed", "Tham số không hợp lệ.", errors=faults)
    return journey.overdue_list(db, commune=commune, limit=limit)
