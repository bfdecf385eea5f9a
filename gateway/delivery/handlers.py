"""Outbox handlers that deliver a dossier revision to the ministry.

``deliver_dossier``: upload each attachment (idempotency key per attachment row), then create the
dossier in the PENDING-RECEPTION queue (idempotency key per revision); a 409 "already exists" is
success. ``supplement_dossier``: when the ministry asked for more, upload the new components and
send them through ``bo-sung``. Uploads already done are remembered, so a retry resumes.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Coroutine
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime
from typing import Any, BinaryIO, TypeVar

import structlog
from sqlalchemy import Connection, Integer, String, bindparam, exists, insert, select, update
from sqlmodel import Session, col

from adapters.ministry.client import MinistryClient
from adapters.ministry.errors import MinistryError
from adapters.ministry.models import CreatedDossier
from gateway.blobs import BlobStore
from gateway.callbacks.events import DELIVERED_TEXT, enqueue_callback
from gateway.db import Database
from gateway.delivery.errors import translate
from gateway.models import Attachment, DeliveryState, Dossier, DossierEvent, DossierRevision, RevisionState
from gateway.vocabulary import CallbackEvent, DossierEventKind, MessageKind, Peer
from mappings.canonical import dossier_from_json
from mappings.dates import to_iso
from mappings.ministry import to_ministry_body, to_supplement_body
from mappings.statuses import PENDING_RECEPTION, SUPPLEMENT_REQUESTED
from mappings.tables import national_status
from outbox import DeliveryError, Finish, Message, PermanentError
from outbox.columns import UTCDateTime, utcnow

log = structlog.get_logger(__name__)

_T = TypeVar("_T")
Uploaded = list[tuple[str, str]]
"""(attachment row id, ministry file id) of the uploads of one attempt, not yet recorded."""


@dataclass(frozen=True)
class _File:
    row_id: str
    file_id: str
    file_name: str
    component_code: str
    content_type: str
    sha256: str
    ministry_file_id: str | None


@dataclass(frozen=True)
class _Job:
    dossier_id: str
    ma_ho_so: str
    revision_id: str
    revision: int
    revision_state: str
    content: dict[str, Any]
    files: list[_File]
    delivered_revision: int | None
    ministry_id: str | None
    ministry_status: str | None
    due_at: datetime | None


class _Base:
    """What both handlers share: loading a revision, uploading its files, recording outcomes."""

    kind: str
    target: str = Peer.MINISTRY

    def __init__(self, db: Database, blobs: BlobStore, client: MinistryClient, *, notify: bool = False) -> None:
        self.db = db
        self.blobs = blobs
        self.client = client
        self.notify = notify  # enqueue province callbacks (GATEWAY_PROVINCE_CALLBACK_URL is set)

    def _load(self, payload: dict[str, Any]) -> _Job | None:
        with self.db.session() as session:
            return _read_job(session.connection(), payload)

    def _load_opening(self, payload: dict[str, Any]) -> tuple[_Job | None, dict[str, BinaryIO]]:
        """:meth:`_load`, and for a first delivery its files still to upload opened, by attachment row id:
        in the same trip to a thread (a missing one is left out: the upload reports it)."""
        job = self._load(payload)
        opened: dict[str, BinaryIO] = {}
        if job is None or job.delivered_revision is not None or job.revision_state == RevisionState.SUPERSEDED:
            return job, opened
        try:
            for file in job.files:
                if not file.ministry_file_id:
                    with suppress(FileNotFoundError, IsADirectoryError):
                        opened[file.row_id] = self.blobs.path_for(file.sha256).open("rb")
        except BaseException:
            _close(opened)
            raise
        return job, opened

    async def _upload(self, files: list[_File], uploaded: Uploaded,
                      opened: dict[str, BinaryIO] | None = None) -> dict[str, str]:
        """Upload what is not uploaded yet; returns TepDinhKemId -> ministry file id.

        Each new upload is appended to ``uploaded``: the caller records them with the attempt's outcome
        (:meth:`_remembering`, :func:`_record_uploads`), so that a retry resumes after them. ``opened``
        holds files already open (the caller closes them).
        """
        ids: dict[str, str] = {}
        for file in files:
            if file.ministry_file_id:
                ids[file.file_id] = file.ministry_file_id
                continue
            path = self.blobs.path_for(file.sha256)
            try:
                answer = await self.client.upload_file(
                    path=path, filename=file.file_name, content_type=file.content_type,
                    component_code=file.component_code, sha256=file.sha256, idempotency_key=f"tt-{file.row_id}",
                    opened=(opened or {}).get(file.row_id),
                )
            except (FileNotFoundError, IsADirectoryError):
                # The client looks at the file before any request goes out.
                raise PermanentError("attachment bytes missing from the blob store",
                                     detail={"TepDinhKemId": file.file_id, "sha256": file.sha256}) from None
            except MinistryError as exc:
                raise translate(exc) from exc
            uploaded.append((file.row_id, answer.id))
            ids[file.file_id] = answer.id
        return ids

    async def _remembering(self, uploaded: Uploaded, steps: Coroutine[Any, Any, _T]) -> _T:
        """Run ``steps``; if they fail, record the uploads they made before the error goes on (a success
        records them in the completing transaction instead: one transaction fewer per delivery)."""
        try:
            return await steps
        except Exception:
            if uploaded:
                try:
                    await asyncio.to_thread(self._record_uploads, uploaded)
                except Exception:
                    # Not fatal: the upload's idempotency key makes the retry's upload return the same file.
                    log.warning("upload_not_recorded", exc_info=True)
            raise

    def _record_uploads(self, uploaded: Uploaded) -> None:
        with self.db.session(write=True) as session:
            _record_uploads(session.connection(), uploaded)

    async def _supplement(self, job: _Job) -> Finish:
        """Upload and send the components of ``job`` not in the delivered revision (same bytes = same)."""
        delivered = await asyncio.to_thread(self._delivered_files, job.dossier_id, job.delivered_revision)
        new_files = [f for f in job.files if (f.component_code, f.sha256) not in delivered]
        if not new_files:
            raise PermanentError("the new revision adds no component to send as a supplement",
                                 detail={"maLoi": "nothing_to_supplement"})
        uploaded: Uploaded = []
        components = {f.component_code for f in new_files}
        await self._remembering(uploaded, self._send_supplement(job, new_files, components, uploaded))

        def finish(session: Session) -> None:
            # bo-sung moves it back to DA_TIEP_NHAN; the change feed reports that, and the reconciler
            # records it and tells the province.
            now = utcnow()
            connection = session.connection()
            _record_uploads(connection, uploaded)
            _mark_delivered(connection, job, now)
            _add_event(connection, job.dossier_id, DossierEventKind.SUPPLEMENT_DELIVERED, job.revision, now,
                       {"components": sorted(components)})

        return finish

    async def _send_supplement(self, job: _Job, files: list[_File], components: set[str], uploaded: Uploaded) -> None:
        file_ids = await self._upload(files, uploaded)
        body = to_supplement_body(dossier_from_json(job.content), file_ids, components)
        assert job.ministry_id is not None
        try:
            await self.client.supplement(job.ministry_id, body, idempotency_key=f"bs-{job.revision_id}")
        except MinistryError as exc:
            raise translate(exc) from exc

    def _delivered_files(self, dossier_id: str, revision: int | None) -> set[tuple[str, str]]:
        """(component, sha256) of every file the ministry already received for this dossier."""
        with self.db.session() as session:
            rows = session.execute(
                select(Attachment.component_code, Attachment.sha256)  # type: ignore[call-overload]
                .join(DossierRevision, col(DossierRevision.id) == col(Attachment.revision_id))
                .where(col(DossierRevision.dossier_id) == dossier_id,
                       col(DossierRevision.revision) <= (revision or 0),
                       col(DossierRevision.state) == RevisionState.DELIVERED)
            )
            return {(code, digest) for code, digest in rows}

    def on_retry(self, session: Session, message: Message, error: DeliveryError) -> None:
        """The attempt failed and will be retried: the dossier reads ``failed`` until it succeeds."""
        session.execute(
            update(Dossier)
            .where(col(Dossier.id) == message.payload["dossier_id"], col(Dossier.delivered_revision).is_(None))
            .values(delivery_state=DeliveryState.FAILED, updated_at=utcnow())
        )

    def on_dead(self, session: Session, message: Message, error: DeliveryError) -> None:
        """Failed for good: the revision is dead; the dossier too unless an earlier revision got through."""
        dossier_id, number = message.payload["dossier_id"], message.payload["revision"]
        session.execute(
            update(DossierRevision)
            .where(col(DossierRevision.dossier_id) == dossier_id, col(DossierRevision.revision) == number)
            .values(state=RevisionState.DEAD)
        )
        session.execute(
            update(Dossier)
            .where(col(Dossier.id) == dossier_id, col(Dossier.delivered_revision).is_(None))
            .values(delivery_state=DeliveryState.DEAD, updated_at=utcnow())
        )
        now = utcnow()
        session.add(DossierEvent(dossier_id=dossier_id, kind=DossierEventKind.DELIVERY_FAILED, revision=number, at=now,
                                 detail={"kind": message.kind, "error": error.message, **(error.detail or {})}))
        dossier = session.get(Dossier, dossier_id)
        if dossier is not None:
            enqueue_callback(session, dossier, CallbackEvent.SYNC_FAILED, at=now,
                             ministry_status=dossier.ministry_status, text=failure_text(error), enabled=self.notify)


class DeliverDossierHandler(_Base):
    """``deliver_dossier``: a revision into the ministry's pending-reception queue."""

    kind: str = MessageKind.DELIVER_DOSSIER

    def on_claimed(self, session: Session, messages: list[Message]) -> None:
        """In the claiming transaction: the dossiers whose first delivery is now under way read ``delivering``
        (not those already delivered, nor a revision a newer one superseded: :meth:`handle` skips those)."""
        now = utcnow()
        session.connection().execute(_statements().set_delivering, [
            {"p_id": m.payload["dossier_id"], "p_revision": m.payload["revision"],
             "p_state": DeliveryState.DELIVERING, "p_now": now} for m in messages])

    async def handle(self, message: Message) -> Finish | None:
        """Upload the files, create the dossier in ``cho-tiep-nhan``, record the ministry's id."""
        job, opened = await asyncio.to_thread(self._load_opening, message.payload)
        try:
            return await self._deliver(message, job, opened)
        finally:
            _close(opened)

    async def _deliver(self, message: Message, job: _Job | None, opened: dict[str, BinaryIO]) -> Finish | None:
        if job is None:
            log.warning("delivery_skipped", reason="dossier or revision not found", message_id=message.id)
            return None
        if job.revision_state == RevisionState.SUPERSEDED and job.delivered_revision is None:
            return None  # a newer revision replaced it before delivery; that one's message delivers it
        if job.delivered_revision is not None:
            if job.delivered_revision >= job.revision:
                return None  # delivered already (a replay of a finished message)
            if job.ministry_status == SUPPLEMENT_REQUESTED and job.ministry_id:
                return await self._supplement(job)
            raise PermanentError(
                "the ministry already holds an earlier revision of this dossier and did not ask for more",
                detail={"maLoi": "already_delivered", "delivered_revision": job.delivered_revision},
            )
        uploaded: Uploaded = []
        created, files = await self._remembering(uploaded, self._create(job, uploaded, opened))
        # The ministry's own stamp of the arrival (``ngayTao``), on the same clock as its change feed: the
        # province orders DA_CHUYEN_BO and the officer's first move by these times, and an officer may act
        # before our answer arrives (the backfill benchmark saw DA_CHUYEN_BO stamped a second after the
        # reception when our clock was used). Without a usable stamp: when the answer came.
        stamp = created.created_at
        delivered_at = stamp if stamp is not None and stamp.tzinfo is not None else utcnow()
        status = created.status if created.status and not created.already_existed else PENDING_RECEPTION

        def finish(session: Session) -> None:
            now = utcnow()
            connection = session.connection()
            _record_uploads(connection, uploaded)
            # Locked (on PostgreSQL) against the reconciler, which locks it too: only one of us announces.
            ministry_status, announced = connection.execute(_statements().flags, {"p_id": job.dossier_id}).one()
            values: dict[str, Any] = {"ministry_id": created.id}
            if ministry_status is None:  # the change feed may already have moved it on
                values.update(ministry_status=status, national_status=national_status(status))
            if not announced:  # else the reconciler saw the feed first and announced it
                values["announced"] = True
            _mark_delivered(connection, job, now, **values)
            _add_event(connection, job.dossier_id, DossierEventKind.DELIVERED, job.revision, delivered_at,
                       {"ministry_id": created.id, "status": status, "already_existed": created.already_existed,
                        "files": files})
            if not announced and self.notify:
                dossier = session.get(Dossier, job.dossier_id)  # read after the update above, in this transaction
                assert dossier is not None
                enqueue_callback(session, dossier, CallbackEvent.DELIVERED, at=delivered_at,
                                 ministry_status=PENDING_RECEPTION, text=DELIVERED_TEXT)
            log.info("dossier_delivered", ma_ho_so=job.ma_ho_so, revision=job.revision, ministry_id=created.id,
                     already_existed=created.already_existed)

        return finish

    async def _create(self, job: _Job, uploaded: Uploaded,
                      opened: dict[str, BinaryIO]) -> tuple[CreatedDossier, int]:
        """Upload the files, then create the dossier; (the ministry's answer, how many files it holds)."""
        file_ids = await self._upload(job.files, uploaded, opened)
        body = to_ministry_body(dossier_from_json(job.content), file_ids)
        if body.get("ngayHenTra") is None and job.due_at is not None:
            body["ngayHenTra"] = to_iso(job.due_at)  # computed from the procedure's legal time at intake
        try:
            return await self.client.create_dossier(body, idempotency_key=f"hs-{job.revision_id}"), len(file_ids)
        except MinistryError as exc:
            raise translate(exc) from exc


class SupplementDossierHandler(_Base):
    """``supplement_dossier``: the new components of a revision, through ``bo-sung``."""

    kind: str = MessageKind.SUPPLEMENT_DOSSIER

    async def handle(self, message: Message) -> Finish | None:
        """Send the components that are new since the delivered revision."""
        job = await asyncio.to_thread(self._load, message.payload)
        if job is None or (job.delivered_revision is not None and job.delivered_revision >= job.revision):
            return None
        if job.ministry_id is None or job.delivered_revision is None:
            raise PermanentError("a supplement needs a dossier the ministry already holds",
                                 detail={"maLoi": "not_delivered"})
        return await self._supplement(job)


# ---- SQL of the delivery path --------------------------------------------------------------------
# Core statements built once with bound parameters: on the path every delivery takes, building a
# statement and going through the ORM cost more than the SQLite work itself.


@dataclass(frozen=True)
class _Statements:
    job: Any
    files: Any
    set_delivering: Any
    record_upload: Any
    flags: Any
    revision_delivered: Any
    add_event: Any


def _table(model: Any) -> Any:
    return model.__table__


@functools.cache
def _statements() -> _Statements:
    d, r, a = _table(Dossier), _table(DossierRevision), _table(Attachment)
    return _Statements(
        job=select(d.c.id, d.c.ma_ho_so, d.c.delivered_revision, d.c.ministry_id, d.c.ministry_status, d.c.due_at,
                   r.c.id.label("revision_id"), r.c.revision, r.c.state, r.c.content)
        .select_from(d.join(r, r.c.dossier_id == d.c.id))
        .where(d.c.id == bindparam("p_id", type_=String()), r.c.revision == bindparam("p_revision", type_=Integer())),
        files=select(a.c.id, a.c.file_id, a.c.file_name, a.c.component_code, a.c.content_type, a.c.sha256,
                     a.c.ministry_file_id)
        .where(a.c.revision_id == bindparam("p_revision_id", type_=String()))
        .order_by(a.c.file_id),
        set_delivering=update(d)
        .where(d.c.id == bindparam("p_id", type_=String()), d.c.delivered_revision.is_(None),
               exists().where(r.c.dossier_id == d.c.id, r.c.revision == bindparam("p_revision", type_=Integer()),
                              r.c.state != RevisionState.SUPERSEDED))
        .values(delivery_state=bindparam("p_state", type_=String()),
                updated_at=bindparam("p_now", type_=UTCDateTime())),
        record_upload=update(a).where(a.c.id == bindparam("p_id", type_=String()))
        .values(ministry_file_id=bindparam("p_file_id", type_=String())),
        flags=select(d.c.ministry_status, d.c.announced).where(d.c.id == bindparam("p_id", type_=String()))
        .with_for_update(),
        revision_delivered=update(r).where(r.c.id == bindparam("p_id", type_=String()))
        .values(state=RevisionState.DELIVERED),
        add_event=insert(_table(DossierEvent)),
    )


@functools.cache
def _dossier_delivered(keys: tuple[str, ...]) -> Any:
    """The dossier's ``UPDATE`` when a revision got through, setting ``keys`` too (one statement per set)."""
    d = _table(Dossier)
    return (
        update(d).where(d.c.id == bindparam("p_id", type_=String()))
        .values(delivery_state=DeliveryState.DELIVERED,
                delivered_revision=bindparam("p_revision", type_=Integer()),
                updated_at=bindparam("p_now", type_=UTCDateTime()),
                **{key: bindparam(f"v_{key}", type_=d.c[key].type) for key in keys})
    )


def _read_job(connection: Connection, payload: dict[str, Any]) -> _Job | None:
    """The revision a message names, with its dossier's delivery facts and its files; None if gone."""
    statements = _statements()
    row = connection.execute(statements.job, {"p_id": payload["dossier_id"],
                                              "p_revision": payload["revision"]}).first()
    if row is None:
        return None
    files = [_File(*f) for f in connection.execute(statements.files, {"p_revision_id": row.revision_id})]
    return _Job(row.id, row.ma_ho_so, row.revision_id, row.revision, row.state, dict(row.content), files,
                row.delivered_revision, row.ministry_id, row.ministry_status, row.due_at)


def _close(files: dict[str, BinaryIO]) -> None:
    for file in files.values():
        file.close()


def _record_uploads(connection: Connection, uploaded: Uploaded) -> None:
    """Remember the ministry's file ids, so a later attempt does not upload those files again."""
    if uploaded:
        connection.execute(_statements().record_upload,
                           [{"p_id": row_id, "p_file_id": file_id} for row_id, file_id in uploaded])


def _mark_delivered(connection: Connection, job: _Job, now: datetime, **values: Any) -> None:
    """Record, in the completing transaction, that ``job``'s revision reached the ministry (and ``values``)."""
    connection.execute(_statements().revision_delivered, {"p_id": job.revision_id})
    connection.execute(_dossier_delivered(tuple(sorted(values))), {
        "p_id": job.dossier_id, "p_revision": job.revision, "p_now": now,
        **{f"v_{key}": value for key, value in values.items()}})


def _add_event(connection: Connection, dossier_id: str, kind: str, revision: int, at: datetime,
               detail: dict[str, Any]) -> None:
    connection.execute(_statements().add_event,
                       {"dossier_id": dossier_id, "kind": kind, "revision": revision, "at": at, "detail": detail})


def failure_text(error: DeliveryError) -> str:
    """The reasons of a failed delivery for the province's officer: the ministry's own words when it gave any."""
    details = (error.detail or {}).get("chiTiet") or []
    reasons = "; ".join(f"{d.get('truong')}: {d.get('thongDiep')}" for d in details if isinstance(d, dict))
    head = (error.detail or {}).get("thongDiep") or error.message
    return f"{head} ({reasons})" if reasons else str(head)
