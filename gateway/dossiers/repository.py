"""Every read and write of the dossier tables: ``dossier``, ``dossier_revision``, ``attachment``, ``dossier_event``.

Services (intake, delivery, reconciliation, lookups) call these functions inside the transaction they
opened; nothing else builds SQL on these tables. The statements on the paths every dossier takes are
Core statements built once with bound parameters: building a statement and going through the ORM cost
more than the database work itself (see bench/results).
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, String, and_, bindparam, exists, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session

from gateway.models import Attachment, DeliveryState, Dossier, DossierEvent, DossierRevision, RevisionState, new_id
from gateway.vocabulary import DossierEventKind
from outbox.columns import UTCDateTime, utcnow

_CHUNK = 500  # ids per IN (…): well under SQLite's bound-parameter limit


def _run(session: Session, statement: Any, params: Any = None) -> Any:
    """Execute a Core statement on the session's connection (in its transaction)."""
    return session.connection().execute(statement, params)


def _table(model: Any) -> Any:
    return model.__table__


_D, _R, _A, _E = _table(Dossier), _table(DossierRevision), _table(Attachment), _table(DossierEvent)


# ---- events: written one way ----------------------------------------------------------------------


@dataclass(frozen=True)
class NewEvent:
    """A line to add to a dossier's history."""

    dossier_id: str
    kind: DossierEventKind
    at: datetime
    revision: int | None = None
    detail: dict[str, Any] | None = None
    note: str | None = None

    def row(self) -> dict[str, Any]:
        """The row's values."""
        return {"dossier_id": self.dossier_id, "kind": str(self.kind), "revision": self.revision,
                "detail": self.detail, "note": self.note, "at": self.at}


def add_events(session: Session, events: Sequence[NewEvent]) -> None:
    """Add ``events`` in this order (ids follow it), in one statement."""
    if events:
        _run(session, _statements().add_event, [event.row() for event in events])


def add_event(session: Session, event: NewEvent) -> None:
    """Add one event (:func:`add_events` of one)."""
    add_events(session, [event])


# ---- intake -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LockedDossier:
    """The dossier row intake decides on, locked until the transaction ends."""

    id: str
    ma_ho_so: str
    current_revision: int
    delivered_revision: int | None
    delivery_state: str
    ministry_status: str | None

    @property
    def is_new(self) -> bool:
        """No revision stored yet (nothing to compare with, supersede or cancel)."""
        return self.current_revision == 0 and self.delivered_revision is None


@dataclass(frozen=True)
class NewFile:
    """An attachment of a new revision, its bytes already in the blob store."""

    file_id: str
    file_name: str
    component_code: str
    content_type: str
    size: int
    sha256: str


def lock_or_create(session: Session, *, ma_ho_so: str, procedure_code: str, client_name: str) -> LockedDossier:
    """The dossier ``ma_ho_so``, created (without a revision) if absent, locked for this transaction."""
    statements = _intake_statements(session.connection().dialect.name)
    now = utcnow()
    _run(session, statements.insert_if_absent, {
        "id": new_id(), "ma_ho_so": ma_ho_so, "procedure_code": procedure_code, "current_revision": 0,
        "delivery_state": DeliveryState.QUEUED, "client_name": client_name, "created_at": now, "updated_at": now})
    row = _run(session, statements.lock_by_code, {"code": ma_ho_so}).one()
    return LockedDossier(row.id, row.ma_ho_so, row.current_revision, row.delivered_revision, row.delivery_state,
                         row.ministry_status)


def revision_fingerprint(session: Session, dossier_id: str, revision: int) -> str | None:
    """The content fingerprint of revision ``revision`` of the dossier, None if there is none."""
    found = _run(session, _statements().fingerprint, {"p_id": dossier_id, "p_revision": revision}).first()
    return None if found is None else str(found.fingerprint)


def supersede_pending(session: Session, dossier_id: str) -> None:
    """Mark the dossier's undelivered revisions superseded (a newer one replaces them)."""
    _run(session, _statements().supersede, {"p_id": dossier_id})


def add_revision(session: Session, dossier: LockedDossier, *, number: int, fingerprint: str,
                 content: dict[str, Any], files: Sequence[NewFile], procedure_code: str, due_at: datetime | None,
                 delivery_state: str, client_name: str) -> None:
    """Store revision ``number`` of ``dossier`` with its files, make it current and record its reception."""
    statements = _statements()
    now = utcnow()
    revision_id = new_id()
    _run(session, statements.insert_revision, {
        "id": revision_id, "dossier_id": dossier.id, "revision": number, "fingerprint": fingerprint,
        "content": content, "state": RevisionState.PENDING, "created_at": now})
    if files:
        _run(session, statements.insert_attachment, [
            {"id": new_id(), "revision_id": revision_id, "file_id": f.file_id, "file_name": f.file_name,
             "component_code": f.component_code, "content_type": f.content_type, "size": f.size, "sha256": f.sha256}
            for f in files])
    _run(session, statements.update_current, {
        "p_id": dossier.id, "p_revision": number, "p_procedure": procedure_code, "p_due_at": due_at,
        "p_now": now, "p_state": delivery_state})
    add_event(session, NewEvent(dossier.id, DossierEventKind.RECEIVED, now, number,
                                   {"client": client_name, "files": len(files)}))


# ---- delivery ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StoredFile:
    """An attachment of a revision to deliver."""

    row_id: str
    file_id: str
    file_name: str
    component_code: str
    content_type: str
    sha256: str
    ministry_file_id: str | None


@dataclass(frozen=True)
class DeliveryJob:
    """A revision to deliver, with its dossier's delivery facts and its files."""

    dossier_id: str
    ma_ho_so: str
    revision_id: str
    revision: int
    revision_state: str
    content: dict[str, Any]
    files: list[StoredFile]
    delivered_revision: int | None
    ministry_id: str | None
    ministry_status: str | None
    due_at: datetime | None


@dataclass(frozen=True)
class CallbackSubject:
    """What a province callback about a dossier needs to know of it."""

    ma_ho_so: str
    ministry_id: str | None
    ministry_status: str | None


Uploaded = list[tuple[str, str]]
"""(attachment row id, ministry file id) of uploads made, not yet recorded."""


def delivery_job(session: Session, dossier_id: str, revision: int) -> DeliveryJob | None:
    """The revision a delivery message names, with its files; None if it is gone."""
    statements = _statements()
    row = _run(session, statements.job, {"p_id": dossier_id, "p_revision": revision}).first()
    if row is None:
        return None
    files = [StoredFile(*f) for f in _run(session, statements.files, {"p_revision_id": row.revision_id})]
    return DeliveryJob(row.id, row.ma_ho_so, row.revision_id, row.revision, row.state, dict(row.content), files,
                       row.delivered_revision, row.ministry_id, row.ministry_status, row.due_at)


def mark_delivering(session: Session, revisions: Iterable[tuple[str, int]], now: datetime) -> None:
    """The dossiers whose first delivery of (dossier id, revision) is under way read ``delivering`` (not those
    delivered already, nor a revision a newer one superseded)."""
    params = [{"p_id": dossier_id, "p_revision": number, "p_state": DeliveryState.DELIVERING, "p_now": now}
              for dossier_id, number in revisions]
    if params:
        _run(session, _statements().set_delivering, params)


def record_uploads(session: Session, uploaded: Uploaded) -> None:
    """Remember the ministry's file ids, so a later attempt does not upload those files again."""
    if uploaded:
        _run(session, _statements().record_upload,
                           [{"p_id": row_id, "p_file_id": file_id} for row_id, file_id in uploaded])


def lock_announcement(session: Session, dossier_id: str) -> tuple[str | None, bool]:
    """(ministry status, announced) of the dossier, locked (on PostgreSQL) against a concurrent reconciler."""
    status, announced = _run(session, _statements().flags, {"p_id": dossier_id}).one()
    return status, bool(announced)


def mark_delivered(session: Session, job: DeliveryJob, now: datetime, **values: Any) -> None:
    """Record that ``job``'s revision reached the ministry, setting the dossier's ``values`` too."""
    _run(session, _statements().revision_delivered, {"p_id": job.revision_id})
    _run(session, _dossier_delivered(tuple(sorted(values))), {
        "p_id": job.dossier_id, "p_revision": job.revision, "p_now": now,
        **{f"v_{key}": value for key, value in values.items()}})


def delivered_files(session: Session, dossier_id: str, upto_revision: int) -> Counter[tuple[str, str]]:
    """How many files of each (component, sha256) the ministry holds from the dossier's delivered revisions up to
    ``upto_revision``: each delivered revision reached it whole, and a supplement only adds, so a pair is held as
    many times as the revision carrying it most often."""
    rows = _run(session, _statements().delivered_files, {"p_id": dossier_id, "p_revision": upto_revision})
    per_revision: dict[int, Counter[tuple[str, str]]] = {}
    for revision, code, digest in rows:
        per_revision.setdefault(revision, Counter())[(code, digest)] += 1
    held: Counter[tuple[str, str]] = Counter()
    for counts in per_revision.values():
        held |= counts
    return held


def mark_failing(session: Session, dossier_id: str) -> None:
    """An attempt failed and will be retried: an undelivered dossier reads ``failed`` until it succeeds."""
    _run(session, _statements().set_state_undelivered,
                       {"p_id": dossier_id, "p_state": DeliveryState.FAILED, "p_now": utcnow()})


def mark_held(session: Session, dossier_id: str) -> None:
    """The population database disagrees with an undelivered dossier: it reads ``held`` (not delivered)."""
    _run(session, _statements().set_state_undelivered,
         {"p_id": dossier_id, "p_state": DeliveryState.HELD, "p_now": utcnow()})


def mark_conflict(session: Session, dossier_id: str, *, ministry_id: str | None, ministry_status: str | None,
                  national_status: int | None) -> None:
    """The ministry holds other content under an undelivered dossier's code: it reads ``conflict`` until an
    administrator decides. ``ministry_id`` (when the ministry's dossier is ours to read) is recorded; the status only
    when the change feed has not told one yet."""
    _run(session, _statements().set_conflict, {
        "p_id": dossier_id, "p_state": DeliveryState.CONFLICT, "p_now": utcnow(), "p_ministry_id": ministry_id,
        "p_status": ministry_status, "p_national": national_status})


def uploads_of(session: Session, dossier_id: str) -> dict[str, str]:
    """Ministry file id → SHA-256 of every upload recorded for the dossier, whichever revision it was for."""
    return {file_id: digest for file_id, digest in _run(session, _statements().uploads_of, {"p_id": dossier_id})}


def mark_queued(session: Session, dossier_id: str) -> None:
    """An undelivered dossier is on its way again (a held one released): it reads ``queued``."""
    _run(session, _statements().set_state_undelivered,
         {"p_id": dossier_id, "p_state": DeliveryState.QUEUED, "p_now": utcnow()})


def lock_existing(session: Session, ma_ho_so: str) -> LockedDossier | None:
    """The dossier ``ma_ho_so`` locked for this transaction, or None if there is none."""
    row = _run(session, _intake_statements(session.connection().dialect.name).lock_by_code,
               {"code": ma_ho_so}).first()
    if row is None:
        return None
    return LockedDossier(row.id, row.ma_ho_so, row.current_revision, row.delivered_revision, row.delivery_state,
                         row.ministry_status)


def mark_dead(session: Session, dossier_id: str, revision: int) -> None:
    """Delivery of the revision failed for good: it is dead, and so is the dossier unless an earlier revision
    got through."""
    statements = _statements()
    _run(session, statements.revision_dead, {"p_id": dossier_id, "p_revision": revision})
    _run(session, statements.set_state_undelivered,
                       {"p_id": dossier_id, "p_state": DeliveryState.DEAD, "p_now": utcnow()})


def callback_subject(session: Session, dossier_id: str) -> CallbackSubject | None:
    """The dossier's code, ministry id and status as this transaction sees them; None if it is gone."""
    row = _run(session, _statements().subject, {"p_id": dossier_id}).first()
    return None if row is None else CallbackSubject(row.ma_ho_so, row.ministry_id, row.ministry_status)


# ---- reconciliation ---------------------------------------------------------------------------------

FEED_MOVED = ("ministry_id", "announced", "ministry_status", "national_status", "ministry_status_at", "is_final",
              "decision_number", "decision_date", "monthly_amount", "first_month")
"""The dossier columns a ministry change may move (written back for every dossier a page touched)."""
_FEED_READ = ("id", "ma_ho_so", "current_revision", "delivered_revision", "delivery_state", *FEED_MOVED)


def _chunks(values: Iterable[str]) -> Iterable[list[str]]:
    items = sorted(values)
    for start in range(0, len(items), _CHUNK):
        yield items[start:start + _CHUNK]


def referenced_blobs(session: Session, digests: Iterable[str]) -> set[str]:
    """Those of ``digests`` that an attachment row (of any revision, delivered or not) names."""
    found: set[str] = set()
    for chunk in _chunks(digests):
        found.update(str(d) for d in session.execute(
            select(_A.c.sha256).where(_A.c.sha256.in_(chunk)).distinct()).scalars())
    return found


def lock_for_feed(session: Session, ministry_ids: set[str],
                  codes_of_unknown: Iterable[tuple[str, str]]) -> dict[str, dict[str, Any]]:
    """The dossiers a page of changes may concern, locked for update, as mutable rows by dossier id: those with
    one of ``ministry_ids``, and by code those of the (ministry id, MaHoSo) pairs whose ministry id no dossier
    has (a delivery's answer lost: only the feed knows the ministry id)."""
    columns = [_D.c[name] for name in _FEED_READ]
    rows: dict[str, dict[str, Any]] = {}

    def load(column: Any, values: set[str]) -> None:
        for chunk in _chunks(values):
            query = select(*columns).where(column.in_(chunk)).order_by(_D.c.id).with_for_update()
            for found in _run(session, query).mappings():
                rows.setdefault(found["id"], dict(found))

    load(_D.c.ministry_id, ministry_ids)
    known = {row["ministry_id"] for row in rows.values()}
    load(_D.c.ma_ho_so, {code for ministry_id, code in codes_of_unknown if ministry_id not in known})
    return rows


def delivered_contents(session: Session, dossier_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The delivered revision's content of each of ``dossier_ids`` that has one (an approval's beneficiary)."""
    found: dict[str, dict[str, Any]] = {}
    for chunk in _chunks(set(dossier_ids)):
        query = (select(_D.c.id, _R.c.content).select_from(_D.join(_R, _R.c.dossier_id == _D.c.id))
                 .where(_D.c.id.in_(chunk), _R.c.revision == _D.c.delivered_revision))
        for dossier_id, content in _run(session, query):
            found[dossier_id] = dict(content)
    return found


def write_feed_moves(session: Session, rows: Iterable[dict[str, Any]]) -> None:
    """Write back the :data:`FEED_MOVED` columns of rows read by :func:`lock_for_feed`, in one statement."""
    params = [{"d_id": row["id"], **{f"d_{name}": row[name] for name in FEED_MOVED}} for row in rows]
    if params:
        _run(session, _feed_update(), params)


@functools.cache
def _feed_update() -> Any:
    return (update(_D).where(_D.c.id == bindparam("d_id"))
            .values({name: bindparam(f"d_{name}", type_=_D.c[name].type) for name in FEED_MOVED}))


# ---- lookups ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DossierRecord:
    """A dossier's current revision as stored, with its files and its history."""

    dossier: Dossier
    revision: DossierRevision
    attachments: list[Attachment]
    events: list[DossierEvent]


def find(session: Session, ma_ho_so: str) -> DossierRecord | None:
    """The dossier ``ma_ho_so`` with its current revision; None if unknown or without a revision."""
    dossier = session.execute(select(Dossier).where(_D.c.ma_ho_so == ma_ho_so)).scalars().first()
    if dossier is None or dossier.current_revision == 0:
        return None
    revision = session.execute(select(DossierRevision).where(
        _R.c.dossier_id == dossier.id, _R.c.revision == dossier.current_revision)).scalars().one()
    attachments = list(session.execute(
        select(Attachment).where(_A.c.revision_id == revision.id).order_by(_A.c.file_id)).scalars())
    events = list(session.execute(
        select(DossierEvent).where(_E.c.dossier_id == dossier.id).order_by(_E.c.id)).scalars())
    return DossierRecord(dossier, revision, attachments, events)


def overdue_condition(now: datetime) -> Any:
    """The SQL condition of "past its promised date and not at a final status"."""
    return and_(_D.c.due_at.is_not(None), _D.c.due_at < now, _D.c.is_final.is_(False), _D.c.current_revision > 0)


def page(session: Session, *, overdue: bool, now: datetime, limit: int, offset: int
         ) -> tuple[int, list[Dossier]]:
    """(how many match, one page of them): overdue ones most urgent first, else all newest first."""
    condition = overdue_condition(now) if overdue else _D.c.current_revision > 0
    order = (_D.c.due_at, _D.c.id) if overdue else (_D.c.updated_at.desc(), _D.c.id)
    total = session.execute(select(func.count()).select_from(_D).where(condition)).scalar_one()
    rows = list(session.execute(select(Dossier).where(condition).order_by(*order).limit(limit).offset(offset))
                .scalars())
    return int(total), rows


def count_overdue(session: Session, now: datetime) -> int:
    """How many dossiers are past their promised date and not at a final status."""
    query = select(func.count()).select_from(_D).where(overdue_condition(now))
    return int(_run(session, query).scalar_one())


def code_of(session: Session, query: str) -> str | None:
    """The MaHoSo of the dossier whose MaHoSo, or else whose ministry id, is ``query``; None if none is."""
    for column in (_D.c.ma_ho_so, _D.c.ministry_id):  # both indexed
        found = _run(session, select(_D.c.ma_ho_so).where(column == query, _D.c.current_revision > 0)
                     .order_by(_D.c.id).limit(1)).scalar_one_or_none()
        if found is not None:
            return str(found)
    return None


_COMMUNE_PATH = ("beneficiary", "residence", "commune_code")
"""Where a stored revision keeps the beneficiary's commune (the code in force: mappings.canonical)."""


def _current_commune() -> Any:
    return _R.c.content[_COMMUNE_PATH].as_string()


@dataclass(frozen=True)
class OverdueRow:
    """An overdue dossier: its code, states, promised date and the current revision's commune code."""

    ma_ho_so: str
    delivery_state: str
    ministry_status: str | None
    due_at: datetime
    commune_code: str | None


def overdue(session: Session, now: datetime, *, commune: str | None, limit: int) -> tuple[int, list[OverdueRow]]:
    """(how many, the ``limit`` most overdue) dossiers past their promised date and not final, oldest promise first,
    with the current revision's commune; ``commune`` keeps those of that commune code."""
    joined = _D.join(_R, and_(_R.c.dossier_id == _D.c.id, _R.c.revision == _D.c.current_revision))
    where = [overdue_condition(now)]
    if commune is not None:
        where.append(_current_commune() == commune)
    total = _run(session, select(func.count()).select_from(joined).where(*where)).scalar_one()
    rows = _run(session, select(_D.c.ma_ho_so, _D.c.delivery_state, _D.c.ministry_status, _D.c.due_at,
                                _current_commune().label("commune")).select_from(joined).where(*where)
                .order_by(_D.c.due_at, _D.c.id).limit(limit))
    return int(total), [OverdueRow(r.ma_ho_so, r.delivery_state, r.ministry_status, r.due_at, r.commune)
                        for r in rows]


def overdue_by_commune(session: Session, now: datetime) -> list[tuple[str | None, int]]:
    """(commune code, how many overdue dossiers) of every commune that has some, most first, then by code."""
    commune = _current_commune().label("commune")
    joined = _D.join(_R, and_(_R.c.dossier_id == _D.c.id, _R.c.revision == _D.c.current_revision))
    rows = _run(session, select(commune, func.count().label("n")).select_from(joined)
                .where(overdue_condition(now)).group_by(commune))
    return sorted(((r.commune, int(r.n)) for r in rows), key=lambda item: (-item[1], item[0] or ""))


def latest_event(session: Session, dossier_id: str, kind: str) -> DossierEvent | None:
    """The dossier's latest event of ``kind``, if any."""
    return session.execute(select(DossierEvent).where(_E.c.dossier_id == dossier_id, _E.c.kind == kind)
                           .order_by(_E.c.id.desc()).limit(1)).scalars().first()


def count_in_conflict(session: Session) -> int:
    """How many dossiers are in delivery state ``conflict``."""
    return int(session.execute(select(func.count()).select_from(_D)
                               .where(_D.c.delivery_state == DeliveryState.CONFLICT)).scalar_one())


def in_conflict(session: Session, *, limit: int, offset: int) -> tuple[int, list[tuple[Dossier, DossierEvent | None]]]:
    """(how many, one page of) the dossiers in delivery state ``conflict``, latest first, each with its latest
    ``delivery_conflict`` event (which says why)."""
    condition = _D.c.delivery_state == DeliveryState.CONFLICT
    total = count_in_conflict(session)
    rows = list(session.execute(select(Dossier).where(condition).order_by(_D.c.updated_at.desc(), _D.c.id)
                                .limit(limit).offset(offset)).scalars())
    latest: dict[str, DossierEvent] = {}
    for chunk in _chunks(row.id for row in rows):
        for event in session.execute(select(DossierEvent).where(
                _E.c.dossier_id.in_(chunk), _E.c.kind == DossierEventKind.DELIVERY_CONFLICT).order_by(_E.c.id)
                ).scalars():
            latest[event.dossier_id] = event
    return int(total), [(row, latest.get(row.id)) for row in rows]


def events_of_kind(session: Session, kind: str, *, limit: int) -> list[tuple[str, DossierEvent]]:
    """The latest ``limit`` events of ``kind`` with their dossier's code, newest first."""
    query = (select(_D.c.ma_ho_so, DossierEvent).join(_D, _D.c.id == _E.c.dossier_id)
             .where(_E.c.kind == kind).order_by(_E.c.id.desc()).limit(limit))
    return [(code, event) for code, event in session.execute(query).all()]


# ---- the statements ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Statements:
    fingerprint: Any
    supersede: Any
    insert_revision: Any
    insert_attachment: Any
    update_current: Any
    add_event: Any
    job: Any
    files: Any
    set_delivering: Any
    record_upload: Any
    flags: Any
    revision_delivered: Any
    revision_dead: Any
    set_state_undelivered: Any
    delivered_files: Any
    subject: Any
    set_conflict: Any
    uploads_of: Any


def _p(name: str, kind: Any = None) -> Any:
    return bindparam(name, type_=kind() if kind is not None else None)


@functools.cache
def _statements() -> _Statements:
    p_id, p_revision = _p("p_id", String), _p("p_revision", Integer)
    return _Statements(
        fingerprint=select(_R.c.fingerprint).where(_R.c.dossier_id == p_id, _R.c.revision == p_revision),
        supersede=update(_R).where(_R.c.dossier_id == p_id, _R.c.state == RevisionState.PENDING)
        .values(state=RevisionState.SUPERSEDED),
        insert_revision=insert(_R),
        insert_attachment=insert(_A),
        update_current=update(_D).where(_D.c.id == p_id).values(
            current_revision=p_revision, procedure_code=_p("p_procedure", String),
            due_at=_p("p_due_at", UTCDateTime), updated_at=_p("p_now", UTCDateTime),
            delivery_state=_p("p_state", String)),
        add_event=insert(_E),
        job=select(_D.c.id, _D.c.ma_ho_so, _D.c.delivered_revision, _D.c.ministry_id, _D.c.ministry_status,
                   _D.c.due_at, _R.c.id.label("revision_id"), _R.c.revision, _R.c.state, _R.c.content)
        .select_from(_D.join(_R, _R.c.dossier_id == _D.c.id))
        .where(_D.c.id == p_id, _R.c.revision == p_revision),
        files=select(_A.c.id, _A.c.file_id, _A.c.file_name, _A.c.component_code, _A.c.content_type, _A.c.sha256,
                     _A.c.ministry_file_id)
        .where(_A.c.revision_id == _p("p_revision_id", String)).order_by(_A.c.file_id),
        set_delivering=update(_D)
        .where(_D.c.id == p_id, _D.c.delivered_revision.is_(None),
               exists().where(_R.c.dossier_id == _D.c.id, _R.c.revision == p_revision,
                              _R.c.state != RevisionState.SUPERSEDED))
        .values(delivery_state=_p("p_state", String), updated_at=_p("p_now", UTCDateTime)),
        record_upload=update(_A).where(_A.c.id == p_id).values(ministry_file_id=_p("p_file_id", String)),
        flags=select(_D.c.ministry_status, _D.c.announced).where(_D.c.id == p_id).with_for_update(),
        revision_delivered=update(_R).where(_R.c.id == p_id).values(state=RevisionState.DELIVERED),
        revision_dead=update(_R).where(_R.c.dossier_id == p_id, _R.c.revision == p_revision)
        .values(state=RevisionState.DEAD),
        set_state_undelivered=update(_D).where(_D.c.id == p_id, _D.c.delivered_revision.is_(None))
        .values(delivery_state=_p("p_state", String), updated_at=_p("p_now", UTCDateTime)),
        delivered_files=select(_R.c.revision, _A.c.component_code, _A.c.sha256)
        .select_from(_A.join(_R, _R.c.id == _A.c.revision_id))
        .where(_R.c.dossier_id == p_id, _R.c.revision <= p_revision, _R.c.state == RevisionState.DELIVERED),
        subject=select(_D.c.ma_ho_so, _D.c.ministry_id, _D.c.ministry_status).where(_D.c.id == p_id),
        set_conflict=update(_D).where(_D.c.id == p_id, _D.c.delivered_revision.is_(None)).values(
            delivery_state=_p("p_state", String), updated_at=_p("p_now", UTCDateTime),
            ministry_id=func.coalesce(_p("p_ministry_id", String), _D.c.ministry_id),
            ministry_status=func.coalesce(_D.c.ministry_status, _p("p_status", String)),
            national_status=func.coalesce(_D.c.national_status, _p("p_national", Integer))),
        uploads_of=select(_A.c.ministry_file_id, _A.c.sha256).select_from(_A.join(_R, _R.c.id == _A.c.revision_id))
        .where(_R.c.dossier_id == p_id, _A.c.ministry_file_id.is_not(None)),
    )


@dataclass(frozen=True)
class _IntakeStatements:
    insert_if_absent: Any
    lock_by_code: Any


@functools.cache
def _intake_statements(dialect: str) -> _IntakeStatements:
    if dialect == "postgresql":
        insert_if_absent: Any = pg_insert(_D).on_conflict_do_nothing(index_elements=["ma_ho_so"])
    elif dialect == "sqlite":
        insert_if_absent = sqlite_insert(_D).on_conflict_do_nothing(index_elements=["ma_ho_so"])
    else:  # pragma: no cover - only the two engines are supported
        insert_if_absent = insert(_D)
    return _IntakeStatements(
        insert_if_absent=insert_if_absent,
        lock_by_code=select(_D).where(_D.c.ma_ho_so == bindparam("code")).with_for_update(),
    )


@functools.cache
def _dossier_delivered(keys: tuple[str, ...]) -> Any:
    """The dossier's ``UPDATE`` when a revision got through, setting ``keys`` too (one statement per set)."""
    return (
        update(_D).where(_D.c.id == _p("p_id", String))
        .values(delivery_state=DeliveryState.DELIVERED, delivered_revision=_p("p_revision", Integer),
                updated_at=_p("p_now", UTCDateTime),
                **{key: bindparam(f"v_{key}", type_=_D.c[key].type) for key in keys})
    )
