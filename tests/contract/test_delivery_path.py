"""The delivery handler against the ministry sandbox: what its faster path must keep doing.

A first delivery reads ``delivering`` once claimed; a file missing from the blob store is a permanent
failure that sends nothing; an upload made before a failed create is remembered, so the retry does not
upload again; the client sends a file the caller already opened and leaves it to the caller.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from adapters.ministry.client import UPLOAD_PATH, MinistryClient
from adapters.province.samples import numbered_dossier, sample_pdf_bytes
from gateway.blobs.fs import FileBlobStore
from gateway.callbacks.events import ANNOUNCE
from gateway.db import Database, create_database
from gateway.delivery.handlers import CREATE, UPLOAD, DeliverDossierHandler
from gateway.dossiers.receive import Submission
from gateway.dossiers.service import submit_dossier
from gateway.models import Attachment, Dossier, DossierRevision, RevisionState
from gateway.vocabulary import MessageKind
from gateway.workflow import Step
from outbox import Dispatcher, DispatcherConfig, OutboxMessage, RetryPolicy, store
from tests.contract.ministry_support import SandboxHandle, file_digest, write_file

CREATE_PATH = "/api/v1/ho-so/cho-tiep-nhan"
FAST = RetryPolicy(base_s=0.01, cap_s=0.02, max_attempts=5)


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = create_database(db_url)
    yield database
    database.dispose()


@pytest.fixture
def blobs(tmp_path: Path) -> FileBlobStore:
    store_ = FileBlobStore(tmp_path / "blobs")
    store_.ensure()
    return store_


@pytest.fixture
async def handler(db: Database, blobs: FileBlobStore, ministry: MinistryClient) -> AsyncIterator[DeliverDossierHandler]:
    yield DeliverDossierHandler(db, blobs, ministry)


def queue(db: Database, blobs: FileBlobStore, number: int, **overrides: Any) -> str:
    """A dossier with one PDF, stored as intake stores it (revision, attachment, outbox message); its id."""
    dossier = numbered_dossier(number)
    dossier.update(overrides)
    staged = blobs.stage(1024 * 1024)
    staged.write(sample_pdf_bytes(f"{dossier['MaHoSo']} f1"))
    staged.finish()
    submission = Submission(raw=dossier, files={"f1": staged})
    try:
        receipt = submit_dossier(db, submission, "test")
    finally:
        submission.discard()
    assert receipt.status_code == 202
    return receipt.receipt.id


def dossier_row(db: Database, dossier_id: str) -> Dossier:
    with db.session() as session:
        row = session.get(Dossier, dossier_id)
        assert row is not None
        session.expunge(row)
        return row


def dispatcher(handler: DeliverDossierHandler, db: Database) -> Dispatcher:
    return Dispatcher(db.session, [handler], policy=FAST, config=DispatcherConfig(concurrency=4))


async def test_a_first_delivery_reads_delivering_once_claimed_but_not_a_superseded_revision(
    db: Database, blobs: FileBlobStore, handler: DeliverDossierHandler
) -> None:
    first, superseded = queue(db, blobs, 1), queue(db, blobs, 2)
    with db.session(write=True) as session:
        session.execute(DossierRevision.__table__.update()  # type: ignore[attr-defined]
                        .where(DossierRevision.dossier_id == superseded)
                        .values(state=RevisionState.SUPERSEDED))
        claimed = store.claim(session, owner="w", kinds=[MessageKind.DELIVER_DOSSIER], limit=10, lease_s=60)
        handler.on_claimed(session, claimed)
    assert dossier_row(db, first).delivery_state == "delivering"
    assert dossier_row(db, superseded).delivery_state == "queued"


async def test_a_file_missing_from_the_blob_store_goes_dead_without_any_upload(
    db: Database, blobs: FileBlobStore, handler: DeliverDossierHandler, sandbox: SandboxHandle
) -> None:
    dossier_id = queue(db, blobs, 3)
    with db.session() as session:
        digest = session.execute(select(Attachment.sha256)).scalar_one()  # type: ignore[call-overload]
    blobs.path_for(digest).unlink()
    await dispatcher(handler, db).run_until_idle()
    with db.session() as session:
        message = session.execute(select(OutboxMessage)).scalar_one()
        assert (message.state, message.attempts) == ("dead", 1)
        assert message.last_error == "attachment bytes missing from the blob store"
    assert dossier_row(db, dossier_id).delivery_state == "dead"
    assert sandbox.requests(UPLOAD_PATH) == []


async def test_an_upload_before_a_failed_create_is_remembered_and_not_repeated(
    db: Database, blobs: FileBlobStore, handler: DeliverDossierHandler, sandbox: SandboxHandle
) -> None:
    dossier_id = queue(db, blobs, 4)
    sandbox.faults(fail_next=1, status=503, path_prefixes=[CREATE_PATH])
    await dispatcher(handler, db).run_until_idle()
    row = dossier_row(db, dossier_id)
    assert row.delivery_state == "delivered" and row.ministry_id
    with db.session() as session:
        recorded = session.execute(select(Attachment.ministry_file_id)).scalar_one()  # type: ignore[call-overload]
    uploads = sandbox.requests(UPLOAD_PATH)
    assert len(uploads) == 1 and recorded
    assert [r["status"] for r in sandbox.requests(CREATE_PATH)] == [503, 201]


async def test_a_retry_after_the_second_upload_failed_does_not_upload_the_first_again(
    db: Database, blobs: FileBlobStore, handler: DeliverDossierHandler, sandbox: SandboxHandle
) -> None:
    dossier = numbered_dossier(5)
    dossier["TaiLieuNop"].append({"TepDinhKemId": "f2", "TenTepDinhKem": "gxn.pdf", "MaThanhPhanHoSo": "GIAY_TO_KHAC"})
    files = {}
    for file_id in ("f1", "f2"):
        files[file_id] = blobs.stage(1024 * 1024)
        files[file_id].write(sample_pdf_bytes(f"{dossier['MaHoSo']} {file_id}"))
        files[file_id].finish()
    submission = Submission(raw=dossier, files=files)
    try:
        dossier_id = submit_dossier(db, submission, "test").receipt.id
    finally:
        submission.discard()
    sandbox.faults(sequence=["ok", "error_500"], path_prefixes=[UPLOAD_PATH])  # the first upload, then a failure
    await dispatcher(handler, db).run_until_idle()
    assert dossier_row(db, dossier_id).delivery_state == "delivered"
    with db.session() as session:
        rows = {a.file_id: a.id for a in session.execute(select(Attachment)).scalars()}
    trail = [(r["idempotency_key"], r["status"]) for r in sandbox.requests(UPLOAD_PATH, "POST")]
    assert trail == [(Step(rows["f1"], UPLOAD).key, 201), (Step(rows["f2"], UPLOAD).key, 500),
                     (Step(rows["f2"], UPLOAD).key, 201)]
    [created] = sandbox.all_dossiers()
    assert len(created["thanhPhanHoSo"]) == 2


async def test_the_client_sends_a_file_the_caller_opened_and_leaves_it_open(
    sandbox: SandboxHandle, ministry: MinistryClient, tmp_path: Path
) -> None:
    path = write_file(tmp_path / "to-khai.pdf", sample_pdf_bytes("opened"))
    await ministry.changes(None, 1)
    sandbox.expire_tokens()  # the first attempt is refused: the repeat must send the bytes again whole
    with path.open("rb") as opened:
        result = await ministry.upload_file(path=path, filename=path.name, content_type="application/pdf",
                                            component_code="TK_1C", sha256=file_digest(path),
                                            idempotency_key="opened-1", opened=opened)
        assert not opened.closed
    assert result.size == path.stat().st_size and result.sha256 == file_digest(path)
    assert [(r["path"], r["status"]) for r in sandbox.requests()][-3:] == [
        (UPLOAD_PATH, 401), ("/oauth2/token", 200), (UPLOAD_PATH, 201)
    ]


async def test_a_delivery_finishes_its_step_with_the_announcement_keyed_by_the_workflow(
    db: Database, blobs: FileBlobStore, ministry: MinistryClient, sandbox: SandboxHandle
) -> None:
    """The step pattern: the delivered event and the DA_CHUYEN_BO callback come in the transaction that ends
    the delivery, the callback's EventId derived from the dossier and the step, the ministry's keys from the
    revision (so a step run twice has its effect once)."""
    dossier_id = queue(db, blobs, 21)
    handler = DeliverDossierHandler(db, blobs, ministry, notify=True)
    await dispatcher(handler, db).run_until_idle()
    with db.session() as session:
        messages = session.execute(select(OutboxMessage).order_by(OutboxMessage.id)).scalars().all()  # type: ignore[arg-type]
        revision = session.execute(select(DossierRevision).where(DossierRevision.dossier_id == dossier_id)  # type: ignore[arg-type]
                                   ).scalars().one()
    deliver, announce = messages
    assert (deliver.kind, deliver.state) == (MessageKind.DELIVER_DOSSIER, "done")
    assert (announce.kind, announce.state, announce.key) == (
        MessageKind.PROVINCE_CALLBACK, "pending", f"callback:{dossier_row(db, dossier_id).ma_ho_so}")
    body = announce.payload["body"]
    assert body["SuKien"] == "DA_CHUYEN_BO"
    assert body["EventId"] == Step(dossier_id, ANNOUNCE).event_id
    assert dossier_row(db, dossier_id).announced
    [create] = sandbox.requests(CREATE_PATH, "POST")
    assert create["idempotency_key"] == Step(revision.id, CREATE).key == f"hs-{revision.id}"
