"""A create answered 409 is compared with what the ministry holds, never recorded as delivered blindly.

The case: revision 1's create reaches the ministry and its answer is lost (the sandbox's ``lost_answer``); before
the retry, the province posts revision 2, which supersedes revision 1; revision 2's create then gets 409. The real
delivery handler and client run against the ministry sandbox over a real socket, the gateway's API and console in
process over the same database (SQLite and PostgreSQL).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient
from typer.testing import CliRunner, Result

from adapters.ministry.client import CREATE_PATH, SUPPLEMENT_PATH, UPLOAD_PATH, MinistryClient
from adapters.province.samples import sample_dossier
from gateway.app import create_app
from gateway.blobs.fs import FileBlobStore
from gateway.cli import app as cli_app
from gateway.db import Database, create_database
from gateway.delivery.handlers import SUPPLEMENT, DeliverDossierHandler
from gateway.models import AuditEntry, DossierRevision
from gateway.reconcile.reconciler import Reconciler
from gateway.settings import Settings, get_settings
from gateway.workflow import Step
from outbox import Dispatcher, DispatcherConfig, OutboxMessage, RetryPolicy, TransientError
from outbox.store import Message
from tests.conftest import ADMIN_KEY, PROVINCE_KEY
from tests.contract.conftest import OTHER_CLIENT_ID, OTHER_CLIENT_SECRET
from tests.contract.ministry_support import SandboxHandle, dossier_body, file_digest
from tests.integration.test_admin_console import _hidden, _login
from tests.support.intake import auth, post_json, sample_files

CODE = "000.00.12.H56-240115-0409"
NEW_NAME = "Nguyễn Thị Hòa"  # a corrected name: it must never show in the comparison, the callback or the console
FAST = RetryPolicy(base_s=0.01, cap_s=0.02, max_attempts=5)


@pytest.fixture
def app_settings(settings: Settings) -> Settings:
    return Settings(**{**settings.model_dump(), "session_secret": "test-session-secret"})


@pytest.fixture
def db(app_settings: Settings) -> Iterator[Database]:
    database = create_database(app_settings.database_url)
    yield database
    database.dispose()


@pytest.fixture
def http(app_settings: Settings, db: Database) -> Iterator[TestClient]:
    with TestClient(create_app(app_settings, database=db), follow_redirects=False) as client:
        yield client


@pytest.fixture
def handler(app_settings: Settings, db: Database, ministry: MinistryClient) -> DeliverDossierHandler:
    return DeliverDossierHandler(db, FileBlobStore(app_settings.blob_dir), ministry, notify=True)


def post(http: TestClient, dossier: dict[str, Any], files: dict[str, bytes]) -> int:
    response = post_json(http, PROVINCE_KEY, dossier, files)
    assert response.status_code == 202, response.text
    revision: int = response.json()["revision"]
    return revision


def pending_delivery(db: Database) -> Message:
    with db.session() as session:
        row = session.execute(select(OutboxMessage).where(
            OutboxMessage.kind == "deliver_dossier", OutboxMessage.state == "pending")).scalars().one()  # type: ignore[arg-type]
        return Message(row.id or 0, row.kind, row.key, dict(row.payload), 1, row.created_at, row.created_at)


async def first_revision_answer_lost(http: TestClient, db: Database, handler: DeliverDossierHandler,
                                     sandbox: SandboxHandle) -> tuple[dict[str, Any], dict[str, bytes], str]:
    """Revision 1 posted and its delivery attempted once: the ministry creates it, the answer never comes back
    (its retry is still pending when revision 2 arrives). Returns the dossier, its files, the ministry's id."""
    dossier = sample_dossier(MaHoSo=CODE)
    files = sample_files(dossier)
    assert post(http, dossier, files) == 1
    sandbox.faults(sequence=["lost_answer"], path_prefixes=[CREATE_PATH])
    with pytest.raises(TransientError):
        await handler.handle(pending_delivery(db))
    [held] = sandbox.all_dossiers()
    assert held["maHoSoTinh"] == CODE
    return dossier, files, str(held["id"])


def with_file(dossier: dict[str, Any], files: dict[str, bytes]) -> tuple[dict[str, Any], dict[str, bytes]]:
    """The correction that adds a component (a document the officer may have asked for)."""
    revised = copy.deepcopy(dossier)
    revised["TaiLieuNop"].append({"TepDinhKemId": "f2", "TenTepDinhKem": "giay-xac-nhan.pdf",
                                  "MaThanhPhanHoSo": "GIAY_TO_KHAC"})
    return revised, {**files, **sample_files(revised)}


async def deliver(handler: DeliverDossierHandler, db: Database) -> None:
    await Dispatcher(db.session, [handler], policy=FAST, config=DispatcherConfig(concurrency=2)).run_until_idle()


def detail(http: TestClient) -> dict[str, Any]:
    response = http.get(f"/api/v1/dossiers/{CODE}", headers=auth(PROVINCE_KEY))
    assert response.status_code == 200
    found: dict[str, Any] = response.json()
    return found


def events(found: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e for e in found["history"] if e["event"] == kind]


def callbacks(db: Database, event: str) -> list[dict[str, Any]]:
    with db.session() as session:
        rows = session.execute(select(OutboxMessage).where(OutboxMessage.kind == "province_callback")
                               .order_by(OutboxMessage.id)).scalars().all()  # type: ignore[arg-type]
        return [dict(r.payload["body"]) for r in rows if r.payload["body"]["SuKien"] == event]


def cli(settings: Settings, monkeypatch: pytest.MonkeyPatch, *args: str) -> Result:
    """A ``gateway`` command on the test's database."""
    monkeypatch.setenv("GATEWAY_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("GATEWAY_BLOB_DIR", str(settings.blob_dir))
    monkeypatch.setenv("COLUMNS", "200")
    get_settings.cache_clear()
    try:
        return CliRunner().invoke(cli_app, list(args))
    finally:
        get_settings.cache_clear()


def revision_id(db: Database, number: int) -> str:
    with db.session() as session:
        return str(session.execute(select(DossierRevision.id).where(  # type: ignore[call-overload]
            DossierRevision.revision == number)).scalar_one())


async def test_a_correction_whose_predecessor_reached_the_ministry_unanswered_is_supplemented_when_asked(
    http: TestClient, db: Database, handler: DeliverDossierHandler, sandbox: SandboxHandle
) -> None:
    dossier, files, ministry_id = await first_revision_answer_lost(http, db, handler, sandbox)
    sandbox.officer(ministry_id, "YEU_CAU_BO_SUNG", lyDo="Thiếu giấy xác nhận")
    revised, revised_files = with_file(dossier, files)
    assert post(http, revised, revised_files) == 2
    await deliver(handler, db)

    [held] = sandbox.all_dossiers()  # still one dossier at the ministry: revision 1's, supplemented
    assert held["id"] == ministry_id and held["trangThai"] == "DA_TIEP_NHAN"
    [supplement] = held["boSung"]
    assert [c["maThanhPhan"] for c in supplement["thanhPhanHoSo"]] == ["GIAY_TO_KHAC"]
    [sent] = sandbox.requests(SUPPLEMENT_PATH.format(id=ministry_id), "POST")
    assert sent["idempotency_key"] == Step(revision_id(db, 2), SUPPLEMENT).key
    assert [r["status"] for r in sandbox.requests(CREATE_PATH, "POST")] == [201, 409]

    found = detail(http)
    assert (found["revision"], found["state"], found["ministry"]["id"]) == (2, "delivered", ministry_id)
    [event] = events(found, "supplement_delivered")
    assert event["revision"] == 2 and event["detail"]["components"] == ["GIAY_TO_KHAC"]
    assert event["detail"]["comparison"] == {"same": False, "fields": [], "missing": ["GIAY_TO_KHAC"], "extra": [],
                                             "unidentified": 0}
    assert found["conflict"] is None and callbacks(db, "LOI_DONG_BO") == []
    assert len(callbacks(db, "DA_CHUYEN_BO")) == 1


async def name_corrected_into_conflict(http: TestClient, db: Database, handler: DeliverDossierHandler,
                                      sandbox: SandboxHandle) -> str:
    """Revision 1 reached the ministry unanswered; revision 2 corrects the name, so the ministry's copy differs
    in a field and the delivery ends in ``conflict``. Returns the ministry's id."""
    dossier, files, ministry_id = await first_revision_answer_lost(http, db, handler, sandbox)
    revised = copy.deepcopy(dossier)
    revised["DuLieuToKhai"]["HoTen"] = NEW_NAME
    assert post(http, revised, files) == 2
    await deliver(handler, db)
    return ministry_id


async def test_a_correction_the_ministry_cannot_take_waits_for_an_admin_who_sees_why_and_accepts_its_copy(
    http: TestClient, db: Database, handler: DeliverDossierHandler, sandbox: SandboxHandle, app_settings: Settings,
    monkeypatch: pytest.MonkeyPatch
) -> None:
    ministry_id = await name_corrected_into_conflict(http, db, handler, sandbox)

    found = detail(http)
    assert (found["state"], found["ministry"]["id"], found["ministry"]["status"]) == (
        "conflict", ministry_id, "CHO_TIEP_NHAN")
    assert found["conflict"] == {"revision": 2, "reason": "fields_differ", "ministryId": ministry_id,
                                 "ministryStatus": "CHO_TIEP_NHAN", "fields": ["doiTuong.hoTen"], "missing": [],
                                 "extra": [], "at": found["conflict"]["at"]}
    [event] = events(found, "delivery_conflict")
    assert event["detail"]["comparison"]["fields"] == ["doiTuong.hoTen"] and events(found, "delivered") == []
    assert NEW_NAME not in json.dumps(event, ensure_ascii=False)
    [told] = callbacks(db, "LOI_DONG_BO")
    assert "DuLieuToKhai.HoTen" in told["NoiDung"] and NEW_NAME not in told["NoiDung"]
    assert told["MaHoSoBo"] == ministry_id and told["TrangThaiHoSo"] is None

    shown = cli(app_settings, monkeypatch, "dossiers", "show", CODE)
    assert shown.exit_code == 0 and "fields_differ" in shown.stdout and "doiTuong.hoTen" in shown.stdout
    assert NEW_NAME not in shown.stdout
    listed = http.get("/api/v1/admin/delivery-conflicts", headers=auth(ADMIN_KEY)).json()
    assert [(i["MaHoSo"], i["reason"], i["fields"]) for i in listed["items"]] == [
        (CODE, "fields_differ", ["doiTuong.hoTen"])] and listed["count"] == 1
    _login(http)
    page = http.get("/admin/conflicts")
    assert page.status_code == 200 and CODE in page.text and "doiTuong.hoTen" in page.text
    assert NEW_NAME not in page.text
    confirm = http.get(f"/admin/conflicts/{CODE}")
    token = _hidden(confirm.text, "csrf_token")
    blank = http.post(f"/admin/conflicts/{CODE}", data={"csrf_token": token, "action": "accept", "reason": " "})
    assert blank.status_code == 422 and detail(http)["state"] == "conflict"
    done = http.post(f"/admin/conflicts/{CODE}", data={"csrf_token": token, "action": "accept",
                                                       "reason": "Đã trao đổi với cán bộ tiếp nhận của Bộ"})
    assert done.status_code == 303 and CODE in http.get(done.headers["location"]).text

    after = detail(http)
    assert (after["state"], after["ministry"]["id"], after["conflict"]) == ("delivered", ministry_id, None)
    assert [e["detail"]["action"] for e in events(after, "conflict_resolved")] == ["accept"]
    with db.session() as session:
        [entry] = session.execute(select(AuditEntry)).scalars().all()
    assert (entry.action, entry.actor, entry.target) == ("conflict_accept", "api:admin", {"MaHoSo": CODE,
                                                                                         "revision": 2})
    again = http.post(f"/api/v1/admin/dossiers/{CODE}/conflict", headers=auth(ADMIN_KEY),
                      json={"action": "accept", "reason": "lần hai"})
    assert again.status_code == 409 and again.json()["code"] == "not_in_conflict"
    assert len(sandbox.all_dossiers()) == 1 and sandbox.requests("/api/v1/ho-so/", "POST")[-1]["path"] == CREATE_PATH


async def test_an_admin_retry_compares_again_and_supplements_once_the_ministry_asks_for_more(
    http: TestClient, db: Database, handler: DeliverDossierHandler, sandbox: SandboxHandle
) -> None:
    dossier, files, ministry_id = await first_revision_answer_lost(http, db, handler, sandbox)
    revised, revised_files = with_file(dossier, files)
    assert post(http, revised, revised_files) == 2
    await deliver(handler, db)
    found = detail(http)
    assert found["state"] == "conflict" and found["conflict"]["reason"] == "not_supplementable"
    assert found["conflict"]["missing"] == ["GIAY_TO_KHAC"]

    refused = http.post(f"/api/v1/admin/dossiers/{CODE}/conflict", headers=auth(ADMIN_KEY),
                        json={"action": "later", "reason": ""})
    assert refused.status_code == 422
    assert {e["field"] for e in refused.json()["errors"]} >= {"action", "reason"}
    sandbox.officer(ministry_id, "YEU_CAU_BO_SUNG", lyDo="Thiếu giấy xác nhận")
    retried = http.post(f"/api/v1/admin/dossiers/{CODE}/conflict", headers=auth(ADMIN_KEY),
                        json={"action": "retry", "reason": "Bộ đã yêu cầu bổ sung"})
    assert retried.status_code == 200 and retried.json()["state"] == "queued"
    await deliver(handler, db)

    after = detail(http)
    assert (after["state"], after["ministry"]["id"]) == ("delivered", ministry_id)
    assert [c["maThanhPhan"] for c in sandbox.all_dossiers()[0]["boSung"][0]["thanhPhanHoSo"]] == ["GIAY_TO_KHAC"]
    # The retry resumed: revision 2's files were uploaded once, by the first attempt.
    keys = [r["idempotency_key"] for r in sandbox.requests(UPLOAD_PATH, "POST")]
    assert len(keys) == 3 and len(set(keys)) == 3  # revision 1's file, revision 2's two


async def test_a_conflict_of_missing_files_is_delivered_again_by_itself_once_the_ministry_asks_for_more(
    http: TestClient, db: Database, handler: DeliverDossierHandler, sandbox: SandboxHandle, ministry: MinistryClient
) -> None:
    dossier, files, ministry_id = await first_revision_answer_lost(http, db, handler, sandbox)
    revised, revised_files = with_file(dossier, files)
    assert post(http, revised, revised_files) == 2
    await deliver(handler, db)
    assert detail(http)["conflict"]["reason"] == "not_supplementable"
    reconciler = Reconciler(db, ministry, interval_s=1, notify=True)
    assert await reconciler.run_once() == 1  # the feed: its arrival (CHO_TIEP_NHAN), which retries nothing
    assert detail(http)["state"] == "conflict"

    sandbox.officer(ministry_id, "YEU_CAU_BO_SUNG", lyDo="Thiếu giấy xác nhận")
    assert await reconciler.run_once() == 1
    queued = detail(http)
    assert (queued["state"], queued["conflict"]) == ("queued", None)
    [retried] = events(queued, "conflict_retried")
    assert retried["revision"] == 2 and retried["detail"] == {"reason": "not_supplementable",
                                                             "ministry_id": ministry_id}
    await deliver(handler, db)

    after = detail(http)
    assert (after["state"], after["ministry"]["id"]) == ("delivered", ministry_id)
    [held] = sandbox.all_dossiers()
    assert [c["maThanhPhan"] for c in held["boSung"][0]["thanhPhanHoSo"]] == ["GIAY_TO_KHAC"]
    assert events(after, "conflict_resolved") == []  # nobody had to decide
    assert "gateway_dossiers_in_conflict 0.0" in http.get("/metrics").text.splitlines()
    with db.session() as session:
        assert session.execute(select(AuditEntry)).scalars().all() == []
    assert await reconciler.run_once() >= 1
    final = detail(http)
    assert (final["state"], final["ministry"]["status"]) == ("delivered", "DA_TIEP_NHAN")  # bo-sung moved it back
    assert len(events(final, "conflict_retried")) == 1


async def test_a_conflict_of_differing_fields_still_waits_for_an_admin_when_the_ministry_asks_for_more(
    http: TestClient, db: Database, handler: DeliverDossierHandler, sandbox: SandboxHandle, ministry: MinistryClient
) -> None:
    ministry_id = await name_corrected_into_conflict(http, db, handler, sandbox)
    sandbox.officer(ministry_id, "YEU_CAU_BO_SUNG", lyDo="Thiếu giấy xác nhận")
    assert await Reconciler(db, ministry, interval_s=1, notify=True).run_once() == 2  # its arrival, then the ask

    found = detail(http)
    assert (found["state"], found["conflict"]["reason"]) == ("conflict", "fields_differ")
    assert found["ministry"]["status"] == "YEU_CAU_BO_SUNG" and events(found, "conflict_retried") == []
    assert "gateway_dossiers_in_conflict 1.0" in http.get("/metrics").text.splitlines()
    assert [r["path"] for r in sandbox.requests("/api/v1/ho-so/", "POST")][-1] == CREATE_PATH


async def test_a_correction_the_ministry_already_holds_word_for_word_is_delivered(
    http: TestClient, db: Database, handler: DeliverDossierHandler, sandbox: SandboxHandle
) -> None:
    dossier, files, ministry_id = await first_revision_answer_lost(http, db, handler, sandbox)
    revised = copy.deepcopy(dossier)
    revised["ChuHoSo"]["Email"] = "nam@example.vn"  # kept by the gateway, not part of the ministry's body
    assert post(http, revised, files) == 2
    await deliver(handler, db)

    found = detail(http)
    assert (found["revision"], found["state"], found["ministry"]["id"]) == (2, "delivered", ministry_id)
    [event] = events(found, "delivered")
    assert event["detail"]["already_existed"] and event["detail"]["comparison"]["same"]
    assert sandbox.requests("/api/v1/ho-so/", "POST")[-1]["path"] == CREATE_PATH  # no supplement
    assert callbacks(db, "LOI_DONG_BO") == []


async def test_another_sender_s_dossier_under_our_code_waits_for_an_admin(
    http: TestClient, db: Database, handler: DeliverDossierHandler, sandbox: SandboxHandle, pdf: Path
) -> None:
    async with MinistryClient(sandbox.base_url, OTHER_CLIENT_ID, OTHER_CLIENT_SECRET) as other:
        theirs = await other.upload_file(path=pdf, filename=pdf.name, content_type="application/pdf",
                                         component_code="TK_1C", sha256=file_digest(pdf), idempotency_key="theirs-file")
        await other.create_dossier(dossier_body([theirs.id], code=CODE), idempotency_key="theirs")
    dossier = sample_dossier(MaHoSo=CODE)
    post(http, dossier, sample_files(dossier))
    await deliver(handler, db)
    found = detail(http)
    assert found["state"] == "conflict" and found["conflict"]["reason"] == "unreadable"
    assert found["ministry"]["id"] is None  # another sender's dossier is not recorded as ours
    assert len(callbacks(db, "LOI_DONG_BO")) == 1
