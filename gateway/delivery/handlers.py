"""Outbox handlers that deliver a dossier revision to the ministry.

``deliver_dossier``: upload each attachment (idempotency key per attachment row), then create the
dossier in the PENDING-RECEPTION queue (idempotency key per revision). A 409 "already exists" is read
back (``GET /api/v1/ho-so/{id}``) and compared with what was sent (:mod:`mappings.ministry_compare`):
the same content is delivered; an older revision's content (its create reached the ministry, its answer
lost, before a correction superseded it) that lacks only new files gets them through ``bo-sung`` when
the ministry asks for more; anything else reads ``conflict`` until an administrator decides.
``supplement_dossier``: when the ministry asked for more, upload the new components and send them
through ``bo-sung``. Uploads already done are remembered, so a retry resumes.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Coroutine
from contextlib import suppress
from dataclasses import dataclass, replace
from typing import Any, BinaryIO, TypeVar

import structlog
from sqlmodel import Session

from adapters.ministry.client import MinistryClient
from adapters.ministry.errors import MinistryError
from adapters.ministry.models import CreatedDossier, StoredDossier
from gateway.blobs import BlobStore
from gateway.callbacks.events import announcement, callback
from gateway.db import Database
from gateway.delivery.errors import translate
from gateway.dossiers import repository
from gateway.dossiers.repository import DeliveryJob, NewEvent, StoredFile, Uploaded
from gateway.models import RevisionState
from gateway.vocabulary import CallbackEvent, ConflictReason, DossierEventKind, MessageKind, Peer
from gateway.workflow import Outcome, Step, finish_step
from mappings.canonical import dossier_from_json
from mappings.dates import to_iso
from mappings.ministry import to_ministry_body, to_supplement_body
from mappings.ministry_compare import Difference, compare_with_stored, province_path
from mappings.statuses import PENDING_RECEPTION, SUPPLEMENT_REQUESTED
from mappings.tables import national_status, note_text
from outbox import DeliveryError, Finish, Message, PermanentError
from outbox.columns import utcnow

log = structlog.get_logger(__name__)

_T = TypeVar("_T")

# The steps of a revision's delivery, and the keys the ministry de-duplicates them by (their names are
# the keys' prefixes since the first release: the keys of messages in flight during an upgrade still match).
CREATE = "hs"  # create in cho-tiep-nhan; workflow id: the revision
UPLOAD = "tt"  # upload one file; workflow id: the attachment row
SUPPLEMENT = "bs"  # send new components through bo-sung; workflow id: the revision


class _Base:
    """What both handlers share: loading a revision, uploading its files, recording outcomes."""

    kind: str
    target: str = Peer.MINISTRY

    def __init__(self, db: Database, blobs: BlobStore, client: MinistryClient, *, notify: bool = False) -> None:
        self.db = db
        self.blobs = blobs
        self.client = client
        self.notify = notify  # enqueue province callbacks (GATEWAY_PROVINCE_CALLBACK_URL is set)

    def _load(self, payload: dict[str, Any]) -> DeliveryJob | None:
        with self.db.session() as session:
            return repository.delivery_job(session, payload["dossier_id"], payload["revision"])

    def _load_opening(self, payload: dict[str, Any]) -> tuple[DeliveryJob | None, dict[str, BinaryIO]]:
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
                        opened[file.row_id] = self.blobs.open(file.sha256)
        except BaseException:
            _close(opened)
            raise
        return job, opened

    async def _upload(self, files: list[StoredFile], uploaded: Uploaded,
                      opened: dict[str, BinaryIO] | None = None) -> dict[str, str]:
        """Upload what is not uploaded yet; returns TepDinhKemId -> ministry file id.

        Each new upload is appended to ``uploaded``: the caller records them with the attempt's outcome
        (:meth:`_remembering`, :func:`repository.record_uploads`), so that a retry resumes after them. ``opened``
        holds files already open (the caller closes them).
        """
        ids: dict[str, str] = {}
        for file in files:
            if file.ministry_file_id:
                ids[file.file_id] = file.ministry_file_id
                continue
            given = (opened or {}).get(file.row_id)
            try:
                stream = given if given is not None else await asyncio.to_thread(self.blobs.open, file.sha256)
                try:
                    answer = await self.client.upload_file(
                        opened=stream, filename=file.file_name, content_type=file.content_type,
                        component_code=file.component_code, sha256=file.sha256,
                        idempotency_key=Step(file.row_id, UPLOAD).key,
                    )
                finally:
                    if given is None:
                        stream.close()
            except (FileNotFoundError, IsADirectoryError):
                # Found missing when opened, before any request goes out.
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
            repository.record_uploads(session, uploaded)

    async def _supplement(self, job: DeliveryJob) -> Finish:
        """Upload and send the components of ``job`` not in the delivered revision (same bytes = same)."""
        held = await asyncio.to_thread(self._delivered_files, job.dossier_id, job.delivered_revision)
        new_files = [f for f in job.files if not _take(held, (f.component_code, f.sha256))]
        if not new_files:
            raise PermanentError("the new revision adds no component to send as a supplement",
                                 detail={"maLoi": "nothing_to_supplement"})
        uploaded: Uploaded = []
        components = await self._remembering(uploaded, self._send_supplement(job, new_files, uploaded))

        def finish(session: Session) -> None:
            # bo-sung moves it back to DA_TIEP_NHAN; the change feed reports that, and the reconciler
            # records it and tells the province.
            now = utcnow()
            repository.record_uploads(session, uploaded)
            repository.mark_delivered(session, job, now)
            finish_step(session, Outcome(events=[NewEvent(job.dossier_id, DossierEventKind.SUPPLEMENT_DELIVERED, now,
                                                          job.revision, {"components": components})]))

        return finish

    async def _send_supplement(self, job: DeliveryJob, files: list[StoredFile], uploaded: Uploaded) -> list[str]:
        file_ids = await self._upload(files, uploaded)
        body, components = _supplement_body(job, files, file_ids)
        assert job.ministry_id is not None
        try:
            await self.client.supplement(job.ministry_id, body, idempotency_key=Step(job.revision_id, SUPPLEMENT).key)
        except MinistryError as exc:
            raise translate(exc) from exc
        return components

    def _delivered_files(self, dossier_id: str, revision: int | None) -> Counter[tuple[str, str]]:
        """How many files of each (component, sha256) the ministry already holds for this dossier."""
        with self.db.session() as session:
            return repository.delivered_files(session, dossier_id, revision or 0)

    def on_retry(self, session: Session, message: Message, error: DeliveryError) -> None:
        """The attempt failed and will be retried: the dossier reads ``failed`` until it succeeds."""
        repository.mark_failing(session, message.payload["dossier_id"])

    def on_dead(self, session: Session, message: Message, error: DeliveryError) -> None:
        """Failed for good: the revision is dead; the dossier too unless an earlier revision got through."""
        dossier_id, number = message.payload["dossier_id"], message.payload["revision"]
        repository.mark_dead(session, dossier_id, number)
        now = utcnow()
        outcome = Outcome(events=[NewEvent(dossier_id, DossierEventKind.DELIVERY_FAILED, now, number,
                                           {"kind": message.kind, "error": error.message, **(error.detail or {})})])
        subject = repository.callback_subject(session, dossier_id)
        if subject is not None and self.notify:
            # A fresh EventId: a replayed message that fails again is a new failure to report.
            outcome.then.append(callback(subject.ma_ho_so, subject.ministry_id, CallbackEvent.SYNC_FAILED, at=now,
                                         ministry_status=subject.ministry_status, text=failure_text(error)))
        finish_step(session, outcome)


class DeliverDossierHandler(_Base):
    """``deliver_dossier``: a revision into the ministry's pending-reception queue."""

    kind: str = MessageKind.DELIVER_DOSSIER

    def on_claimed(self, session: Session, messages: list[Message]) -> None:
        """In the claiming transaction: the dossiers whose first delivery is now under way read ``delivering``
        (not those already delivered, nor a revision a newer one superseded: :meth:`handle` skips those)."""
        repository.mark_delivering(session, [(m.payload["dossier_id"], m.payload["revision"]) for m in messages],
                                   utcnow())

    async def handle(self, message: Message) -> Finish | None:
        """Upload the files, create the dossier in ``cho-tiep-nhan``, record the ministry's id."""
        job, opened = await asyncio.to_thread(self._load_opening, message.payload)
        try:
            return await self._deliver(message, job, opened)
        finally:
            _close(opened)

    async def _deliver(self, message: Message, job: DeliveryJob | None,
                       opened: dict[str, BinaryIO]) -> Finish | None:
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
        note = message.payload.get("note")  # the identity check's word for the officer, if it had one
        created, sent = await self._remembering(uploaded, self._create(job, uploaded, opened, note))
        if not created.already_existed:
            return self._delivered(job, created, uploaded, sent)
        # 409: the ministry holds a dossier with this MaHoSo. This revision (an earlier attempt's answer lost), an
        # older one whose create got through unanswered before this one superseded it, or another sender's: never
        # recorded as delivered before the ministry's copy is read and compared.
        return await self._remembering(uploaded, self._existing(job, created, sent, uploaded, note))

    def _delivered(self, job: DeliveryJob, created: CreatedDossier, uploaded: Uploaded, sent: _Sent, *,
                   stored: StoredDossier | None = None, comparison: dict[str, Any] | None = None) -> Finish:
        """The finish of a revision the ministry now holds: ``created`` by this attempt, or (``stored``) found
        holding this revision's content after a 409."""
        # The ministry's own stamp of the arrival (``ngayTao``), on the same clock as its change feed: the
        # province orders DA_CHUYEN_BO and the officer's first move by these times, and an officer may act
        # before our answer arrives (the backfill benchmark saw DA_CHUYEN_BO stamped a second after the
        # reception when our clock was used). Without a usable stamp: when the answer came.
        stamp = stored.created_at if stored is not None else created.created_at
        delivered_at = stamp if stamp is not None and stamp.tzinfo is not None else utcnow()
        if stored is not None and stored.status:
            status = stored.status
        else:
            status = created.status if created.status and not created.already_existed else PENDING_RECEPTION
        detail: dict[str, Any] = {"ministry_id": created.id, "status": status,
                                  "already_existed": created.already_existed, "files": len(sent.file_ids)}
        if comparison is not None:
            detail["comparison"] = comparison

        def finish(session: Session) -> None:
            # The step's outcome and the next step (DA_CHUYEN_BO to the province) in the transaction that
            # marks the message done: see gateway/README.md, "A flow is a chain of steps".
            repository.record_uploads(session, uploaded)
            # Locked (on PostgreSQL) against the reconciler, which locks it too: only one of us announces.
            ministry_status, announced = repository.lock_announcement(session, job.dossier_id)
            values: dict[str, Any] = {"ministry_id": created.id}
            if ministry_status is None:  # the change feed may already have moved it on
                values.update(ministry_status=status, national_status=national_status(status))
            if not announced:  # else the reconciler saw the feed first and announced it
                values["announced"] = True
            repository.mark_delivered(session, job, utcnow(), **values)
            outcome = Outcome(events=[NewEvent(job.dossier_id, DossierEventKind.DELIVERED, delivered_at, job.revision,
                                               detail)])
            if not announced and self.notify:
                outcome.then.append(announcement(job.ma_ho_so, created.id, job.dossier_id, delivered_at))
            finish_step(session, outcome)
            log.info("dossier_delivered", ma_ho_so=job.ma_ho_so, revision=job.revision, ministry_id=created.id,
                     already_existed=created.already_existed)

        return finish

    async def _create(self, job: DeliveryJob, uploaded: Uploaded, opened: dict[str, BinaryIO],
                      note: str | None = None) -> tuple[CreatedDossier, _Sent]:
        """Upload the files, then create the dossier (``note`` in ``ghiChu``); (the ministry's answer, what was
        sent)."""
        file_ids = await self._upload(job.files, uploaded, opened)
        body = to_ministry_body(dossier_from_json(job.content), file_ids, note=note)
        if body.get("ngayHenTra") is None and job.due_at is not None:
            body["ngayHenTra"] = to_iso(job.due_at)  # computed from the procedure's legal time at intake
        try:
            created = await self.client.create_dossier(body, idempotency_key=Step(job.revision_id, CREATE).key)
            return created, _Sent(body, file_ids)
        except MinistryError as exc:
            raise translate(exc) from exc

    async def _existing(self, job: DeliveryJob, created: CreatedDossier, sent: _Sent, uploaded: Uploaded,
                        note: str | None) -> Finish:
        """After a 409: read the ministry's dossier and compare it with what was sent. The same content is delivered;
        an older one that lacks only this revision's new files is supplemented when the ministry asks for more;
        anything else waits for an administrator (``conflict``)."""
        try:
            stored = await self.client.read_dossier(created.id)
        except MinistryError as exc:
            if exc.transient:
                raise translate(exc) from exc
            return self._conflict(job, created.id, None, ConflictReason.UNREADABLE, None, uploaded, note,
                                  readable=False)
        known = await asyncio.to_thread(self._uploads_of, job.dossier_id)
        known.update({sent.file_ids[f.file_id]: f.sha256 for f in job.files if f.file_id in sent.file_ids})
        difference = compare_with_stored(sent.body, stored.fields, [(f.component_code, f.sha256) for f in job.files],
                                         stored.files, known)
        if difference.same:
            return self._delivered(job, created, uploaded, sent, stored=stored, comparison=difference.summary())
        if difference.only_missing_files and stored.status == SUPPLEMENT_REQUESTED:
            return await self._supplement_missing(job, stored, difference, sent, uploaded)
        reason = (ConflictReason.FIELDS_DIFFER if difference.fields else
                  ConflictReason.FILES_DIFFER if difference.extra else ConflictReason.NOT_SUPPLEMENTABLE)
        return self._conflict(job, stored.id, stored.status, reason, difference, uploaded, note)

    def _uploads_of(self, dossier_id: str) -> dict[str, str]:
        with self.db.session() as session:
            return repository.uploads_of(session, dossier_id)

    async def _supplement_missing(self, job: DeliveryJob, stored: StoredDossier, difference: Difference, sent: _Sent,
                                  uploaded: Uploaded) -> Finish:
        """Send, through ``bo-sung``, this revision's files the ministry's copy lacks (uploaded already by this
        attempt); the revision is then delivered."""
        wanted = Counter(difference.missing)
        files = [f for f in job.files if _take(wanted, (f.component_code, f.sha256))]
        body, components = _supplement_body(job, files, sent.file_ids)
        try:
            answer = await self.client.supplement(stored.id, body,
                                                  idempotency_key=Step(job.revision_id, SUPPLEMENT).key)
        except MinistryError as exc:
            raise translate(exc) from exc
        after = answer.get("trangThai") if isinstance(answer.get("trangThai"), str) else None
        stamp = stored.created_at
        arrived_at = stamp if stamp is not None and stamp.tzinfo is not None else utcnow()

        def finish(session: Session) -> None:
            now = utcnow()
            repository.record_uploads(session, uploaded)
            ministry_status, announced = repository.lock_announcement(session, job.dossier_id)
            values: dict[str, Any] = {"ministry_id": stored.id}
            if ministry_status is None and after:
                values.update(ministry_status=after, national_status=national_status(after))
            if not announced:
                values["announced"] = True
            repository.mark_delivered(session, job, now, **values)
            outcome = Outcome(events=[NewEvent(
                job.dossier_id, DossierEventKind.SUPPLEMENT_DELIVERED, now, job.revision,
                {"components": components, "ministry_id": stored.id, "already_existed": True,
                 "comparison": difference.summary()})])
            if not announced and self.notify:
                outcome.then.append(announcement(job.ma_ho_so, stored.id, job.dossier_id, arrived_at))
            finish_step(session, outcome)
            log.info("dossier_supplemented_after_conflict", ma_ho_so=job.ma_ho_so, revision=job.revision,
                     ministry_id=stored.id, components=components)

        return finish

    def _conflict(self, job: DeliveryJob, ministry_id: str, status: str | None, reason: ConflictReason,
                  difference: Difference | None, uploaded: Uploaded, note: str | None, *,
                  readable: bool = True) -> Finish:
        """The ministry holds other content and no supplement can make it whole: the dossier reads ``conflict``,
        the history says why (names only), the province hears it (LOI_DONG_BO), an administrator decides."""
        detail: dict[str, Any] = {"reason": reason.value, "ministry_id": ministry_id, "status": status,
                                  "comparison": difference.summary() if difference is not None else None}
        if note:
            detail["note"] = note  # an administrator's retry sends the same body again (same idempotency key)
        text = conflict_text(job.revision, reason, difference, status)

        def finish(session: Session) -> None:
            now = utcnow()
            repository.record_uploads(session, uploaded)
            repository.mark_conflict(session, job.dossier_id, ministry_id=ministry_id if readable else None,
                                     ministry_status=status,
                                     national_status=national_status(status) if status else None)
            outcome = Outcome(events=[NewEvent(job.dossier_id, DossierEventKind.DELIVERY_CONFLICT, now, job.revision,
                                               detail)])
            subject = repository.callback_subject(session, job.dossier_id)
            if subject is not None and self.notify:
                outcome.then.append(callback(job.ma_ho_so, subject.ministry_id, CallbackEvent.SYNC_FAILED, at=now,
                                             ministry_status=subject.ministry_status, text=text))
            finish_step(session, outcome)
            log.warning("delivery_conflict", ma_ho_so=job.ma_ho_so, revision=job.revision, ministry_id=ministry_id,
                        reason=reason.value, status=status,
                        fields=list(difference.fields) if difference is not None else [])

        return finish


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


def _take(pool: Counter[tuple[str, str]], pair: tuple[str, str]) -> bool:
    """Take one ``pair`` out of ``pool``; False when none is left (a file of the same bytes counts once each)."""
    if pool[pair] <= 0:
        return False
    pool[pair] -= 1
    return True


def _supplement_body(job: DeliveryJob, files: list[StoredFile],
                     file_ids: dict[str, str]) -> tuple[dict[str, Any], list[str]]:
    """The ``bo-sung`` body carrying exactly ``files`` of ``job`` (not the component's files already delivered:
    the ministry adds what it receives), and their component codes, sorted."""
    chosen = {f.file_id for f in files}
    components = sorted({f.component_code for f in files})
    dossier = dossier_from_json(job.content)
    only = replace(dossier, documents=tuple(d for d in dossier.documents if d.file_id in chosen))
    return to_supplement_body(only, file_ids, components), components


def _close(files: dict[str, BinaryIO]) -> None:
    for file in files.values():
        file.close()


def failure_text(error: DeliveryError) -> str:
    """The reasons of a failed delivery for the province's officer: the ministry's own words when it gave any."""
    details = (error.detail or {}).get("chiTiet") or []
    reasons = "; ".join(f"{d.get('truong')}: {d.get('thongDiep')}" for d in details if isinstance(d, dict))
    head = (error.detail or {}).get("thongDiep") or error.message
    return f"{head} ({reasons})" if reasons else str(head)


@dataclass(frozen=True)
class _Sent:
    """A create as sent: its body, and the ministry file id of each of its files by ``TepDinhKemId``."""

    body: dict[str, Any]
    file_ids: dict[str, str]


def conflict_text(revision: int, reason: ConflictReason, difference: Difference | None, status: str | None) -> str:
    """The province's ``NoiDung`` for a dossier in ``conflict``: what differs, in the province's field paths and
    component codes (never a value)."""
    summary = difference.summary() if difference is not None else {}
    fields = ", ".join(province_path(p) for p in summary.get("fields", []))
    components = ", ".join(sorted(set(summary.get("extra" if reason == ConflictReason.FILES_DIFFER else "missing",
                                                  []))))
    what = note_text(f"conflict_{reason.value}", fields=fields, components=components, status=status or "?")
    return note_text("delivery_conflict", revision=revision, difference=what)
