"""Outbox handlers that deliver a dossier revision to the ministry.

``deliver_dossier``: upload each attachment (idempotency key per attachment row), then create the
dossier in the PENDING-RECEPTION queue (idempotency key per revision); a 409 "already exists" is
success. ``supplement_dossier``: when the ministry asked for more, upload the new components and
send them through ``bo-sung``. Uploads already done are remembered, so a retry resumes.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import select, update
from sqlmodel import Session, col

from adapters.ministry.client import MinistryClient
from adapters.ministry.errors import MinistryError
from gateway.blobs import BlobStore
from gateway.callbacks.events import DELIVERED, DELIVERED_TEXT, SYNC_FAILED, enqueue_callback
from gateway.db import Database
from gateway.delivery.errors import translate
from gateway.models import Attachment, DeliveryState, Dossier, DossierEvent, DossierRevision, RevisionState
from mappings.canonical import dossier_from_json
from mappings.dates import to_iso
from mappings.ministry import to_ministry_body, to_supplement_body
from mappings.tables import national_status
from outbox import DeliveryError, Finish, Message, PermanentError
from outbox.columns import utcnow

log = structlog.get_logger(__name__)

DELIVER_DOSSIER = "deliver_dossier"
SUPPLEMENT_DOSSIER = "supplement_dossier"
MINISTRY = "ministry"
PENDING_RECEPTION = "CHO_TIEP_NHAN"
SUPPLEMENT_REQUESTED = "YEU_CAU_BO_SUNG"


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
    target = MINISTRY

    def __init__(self, db: Database, blobs: BlobStore, client: MinistryClient, *, notify: bool = False) -> None:
        self.db = db
        self.blobs = blobs
        self.client = client
        self.notify = notify  # enqueue province callbacks (GATEWAY_PROVINCE_CALLBACK_URL is set)

    def _load(self, payload: dict[str, Any]) -> _Job | None:
        with self.db.session() as session:
            dossier = session.get(Dossier, payload["dossier_id"])
            if dossier is None:
                return None
            revision = session.execute(
                select(DossierRevision).where(
                    col(DossierRevision.dossier_id) == dossier.id,
                    col(DossierRevision.revision) == payload["revision"],
                )
            ).scalar_one_or_none()
            if revision is None:
                return None
            files = [
                _File(a.id, a.file_id, a.file_name, a.component_code, a.content_type, a.sha256, a.ministry_file_id)
                for a in session.execute(
                    select(Attachment).where(col(Attachment.revision_id) == revision.id)
                    .order_by(col(Attachment.file_id))
                ).scalars()
            ]
            return _Job(dossier.id, dossier.ma_ho_so, revision.id, revision.revision, revision.state,
                        dict(revision.content), files, dossier.delivered_revision, dossier.ministry_id,
                        dossier.ministry_status, dossier.due_at)

    async def _upload(self, files: list[_File]) -> dict[str, str]:
        """Upload what is not uploaded yet; returns TepDinhKemId -> ministry file id."""
        ids: dict[str, str] = {}
        for file in files:
            if file.ministry_file_id:
                ids[file.file_id] = file.ministry_file_id
                continue
            path = self.blobs.path_for(file.sha256)
            if not await asyncio.to_thread(path.is_file):
                raise PermanentError("attachment bytes missing from the blob store",
                                     detail={"TepDinhKemId": file.file_id, "sha256": file.sha256})
            try:
                uploaded = await self.client.upload_file(
                    path=path, filename=file.file_name, content_type=file.content_type,
                    component_code=file.component_code, sha256=file.sha256, idempotency_key=f"tt-{file.row_id}",
                )
            except MinistryError as exc:
                raise translate(exc) from exc
            await asyncio.to_thread(self._record_upload, file.row_id, uploaded.id)
            ids[file.file_id] = uploaded.id
        return ids

    def _record_upload(self, row_id: str, ministry_file_id: str) -> None:
        with self.db.session(write=True) as session:
            session.execute(update(Attachment).where(col(Attachment.id) == row_id)
                            .values(ministry_file_id=ministry_file_id))

    def _set_delivering(self, dossier_id: str) -> None:
        with self.db.session(write=True) as session:
            session.execute(
                update(Dossier)
                .where(col(Dossier.id) == dossier_id, col(Dossier.delivered_revision).is_(None))
                .values(delivery_state=DeliveryState.DELIVERING, updated_at=utcnow())
            )

    async def _supplement(self, job: _Job) -> Finish:
        """Upload and send the components of ``job`` not in the delivered revision (same bytes = same)."""
        delivered = await asyncio.to_thread(self._delivered_files, job.dossier_id, job.delivered_revision)
        new_files = [f for f in job.files if (f.component_code, f.sha256) not in delivered]
        if not new_files:
            raise PermanentError("the new revision adds no component to send as a supplement",
                                 detail={"maLoi": "nothing_to_supplement"})
        file_ids = await self._upload(new_files)
        components = {f.component_code for f in new_files}
        body = to_supplement_body(dossier_from_json(job.content), file_ids, components)
        assert job.ministry_id is not None
        try:
            await self.client.supplement(job.ministry_id, body, idempotency_key=f"bs-{job.revision_id}")
        except MinistryError as exc:
            raise translate(exc) from exc

        def finish(session: Session) -> None:
            # bo-sung moves it back to DA_TIEP_NHAN; the change feed reports that, and the reconciler
            # records it and tells the province.
            now = utcnow()
            _mark_delivered(session, job, now)
            session.add(DossierEvent(dossier_id=job.dossier_id, kind="supplement_delivered", revision=job.revision,
                                     at=now, detail={"components": sorted(components)}))

        return finish

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
        session.add(DossierEvent(dossier_id=dossier_id, kind="delivery_failed", revision=number, at=now,
                                 detail={"kind": message.kind, "error": error.message, **(error.detail or {})}))
        dossier = session.get(Dossier, dossier_id)
        if dossier is not None:
            enqueue_callback(session, dossier, SYNC_FAILED, at=now, ministry_status=dossier.ministry_status,
                             text=failure_text(error), enabled=self.notify)


class DeliverDossierHandler(_Base):
    """``deliver_dossier``: a revision into the ministry's pending-reception queue."""

    kind = DELIVER_DOSSIER

    async def handle(self, message: Message) -> Finish | None:
        """Upload the files, create the dossier in ``cho-tiep-nhan``, record the ministry's id."""
        job = await asyncio.to_thread(self._load, message.payload)
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
        await asyncio.to_thread(self._set_delivering, job.dossier_id)
        file_ids = await self._upload(job.files)
        body = to_ministry_body(dossier_from_json(job.content), file_ids)
        if body.get("ngayHenTra") is None and job.due_at is not None:
            body["ngayHenTra"] = to_iso(job.due_at)  # computed from the procedure's legal time at intake
        try:
            created = await self.client.create_dossier(body, idempotency_key=f"hs-{job.revision_id}")
        except MinistryError as exc:
            raise translate(exc) from exc
        status = created.status if created.status and not created.already_existed else PENDING_RECEPTION

        def finish(session: Session) -> None:
            now = utcnow()
            dossier = _mark_delivered(session, job, now)
            dossier.ministry_id = created.id
            if dossier.ministry_status is None:  # the change feed may already have moved it on
                dossier.ministry_status = status
                dossier.national_status = national_status(status)
            session.add(DossierEvent(
                dossier_id=job.dossier_id, kind="delivered", revision=job.revision, at=now,
                detail={"ministry_id": created.id, "status": status, "already_existed": created.already_existed,
                        "files": len(file_ids)},
            ))
            if not dossier.announced:  # else the reconciler saw the feed first and announced it
                enqueue_callback(session, dossier, DELIVERED, at=now, ministry_status=PENDING_RECEPTION,
                                 text=DELIVERED_TEXT, enabled=self.notify)
                dossier.announced = True
            log.info("dossier_delivered", ma_ho_so=job.ma_ho_so, revision=job.revision, ministry_id=created.id,
                     already_existed=created.already_existed)

        return finish


class SupplementDossierHandler(_Base):
    """``supplement_dossier``: the new components of a revision, through ``bo-sung``."""

    kind = SUPPLEMENT_DOSSIER

    async def handle(self, message: Message) -> Finish | None:
        """Send the components that are new since the delivered revision."""
        job = await asyncio.to_thread(self._load, message.payload)
        if job is None or (job.delivered_revision is not None and job.delivered_revision >= job.revision):
            return None
        if job.ministry_id is None or job.delivered_revision is None:
            raise PermanentError("a supplement needs a dossier the ministry already holds",
                                 detail={"maLoi": "not_delivered"})
        return await self._supplement(job)


def _mark_delivered(session: Session, job: _Job, now: datetime) -> Dossier:
    """Record, in the completing transaction, that ``job``'s revision reached the ministry."""
    session.execute(update(DossierRevision).where(col(DossierRevision.id) == job.revision_id)
                    .values(state=RevisionState.DELIVERED))
    dossier = session.get(Dossier, job.dossier_id)
    assert dossier is not None
    dossier.delivered_revision = job.revision
    dossier.delivery_state = DeliveryState.DELIVERED
    dossier.updated_at = now
    session.add(dossier)
    return dossier


def failure_text(error: DeliveryError) -> str:
    """The reasons of a failed delivery for the province's officer: the ministry's own words when it gave any."""
    details = (error.detail or {}).get("chiTiet") or []
    reasons = "; ".join(f"{d.get('truong')}: {d.get('thongDiep')}" for d in details if isinstance(d, dict))
    head = (error.detail or {}).get("thongDiep") or error.message
    return f"{head} ({reasons})" if reasons else str(head)
