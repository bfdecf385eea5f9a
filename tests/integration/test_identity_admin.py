"""Held dossiers for administrators: the console page (list, confirm, release with a reason), the CLI report
and release, on both engines. The identity check itself runs end to end in tests/e2e/test_identity.py; here a
held revision is written as the check writes it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient
from typer.testing import CliRunner

from adapters.province.samples import sample_dossier
from gateway.app import create_app
from gateway.cli import app as cli_app
from gateway.db import Database, create_database
from gateway.dossiers import repository as dossiers
from gateway.identity import repository
from gateway.identity.repository import NewCheck
from gateway.models import AuditEntry
from gateway.settings import Settings, get_settings
from mappings.identity import IdentityAction, IdentityOutcome
from outbox.columns import utcnow
from outbox.models import OutboxMessage
from tests.conftest import PROVINCE_KEY
from tests.integration.test_admin_console import _hidden, _login, _with
from tests.support.intake import post_json, sample_files

CODE = "000.00.12.H56-240115-0301"


@pytest.fixture
def console_settings(settings: Settings) -> Settings:
    return _with(settings, session_secret="test-session-secret")


@pytest.fixture
def client(console_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(console_settings), follow_redirects=False) as http:
        yield http


@pytest.fixture
def db(console_settings: Settings) -> Iterator[Database]:
    database = create_database(console_settings.database_url)
    yield database
    database.dispose()


def held(client: TestClient, db: Database, code: str = CODE) -> None:
    """Post a dossier, then hold its revision 1 as the identity check does on a birth-date mismatch."""
    dossier = sample_dossier(MaHoSo=code)
    assert post_json(client, PROVINCE_KEY, dossier, sample_files(dossier)).status_code == 202
    with db.session(write=True) as session:
        row = dossiers.lock_existing(session, code)
        assert row is not None
        job = dossiers.delivery_job(session, row.id, 1)
        assert job is not None
        for message in session.execute(select(OutboxMessage).where(OutboxMessage.key == code)).scalars():  # type: ignore[arg-type]
            message.state = "done"  # the check's step finished: nothing is queued for the ministry
        repository.record(session, NewCheck(row.id, code, job.revision_id, 1, IdentityOutcome.MISMATCH,
                                            IdentityAction.HELD, "16171", ("DuLieuToKhai.NgaySinh",),
                                            request_id="YC-1"), utcnow())
        dossiers.mark_held(session, row.id)


def deliveries(db: Database, code: str) -> list[OutboxMessage]:
    with db.session() as session:
        return list(session.execute(select(OutboxMessage).where(
            OutboxMessage.key == code, OutboxMessage.kind == "deliver_dossier",  # type: ignore[arg-type]
            OutboxMessage.state == "pending")).scalars())  # type: ignore[arg-type]


def test_the_console_lists_held_dossiers_and_releases_one_after_a_confirmation(client: TestClient,
                                                                               db: Database) -> None:
    held(client, db)
    _login(client)
    listing = client.get("/admin/held")
    assert listing.status_code == 200
    assert CODE in listing.text and "DuLieuToKhai.NgaySinh" in listing.text
    assert "02/03/1941" not in listing.text and "Nguyễn Thị Hoa" not in listing.text
    confirm = client.get(f"/admin/held/{CODE}/release")
    assert confirm.status_code == 200 and 'name="reason"' in confirm.text
    token = _hidden(confirm.text, "csrf_token")
    blank = client.post(f"/admin/held/{CODE}/release", data={"csrf_token": token, "reason": "  "})
    assert blank.status_code == 422 and "lý do" in blank.text
    assert deliveries(db, CODE) == []
    done = client.post(f"/admin/held/{CODE}/release", data={"csrf_token": token, "reason": "Đã xác minh tại xã"})
    assert done.status_code == 303
    assert f"Đã chuyển hồ sơ {CODE}" in client.get(done.headers["location"]).text
    [message] = deliveries(db, CODE)
    assert "Đã xác minh tại xã" in message.payload["note"]
    with db.session() as session:
        [entry] = session.execute(select(AuditEntry)).scalars().all()
    assert (entry.action, entry.actor, entry.target) == ("release", "api:admin", {"MaHoSo": CODE, "revision": 1})
    assert CODE not in client.get("/admin/held").text
    assert client.get(f"/admin/held/{CODE}/release").status_code == 404  # no longer held


def test_a_release_without_the_session_token_is_refused(client: TestClient, db: Database) -> None:
    held(client, db)
    _login(client)
    assert client.post(f"/admin/held/{CODE}/release", data={"reason": "x"}).status_code in {400, 403}
    assert deliveries(db, CODE) == []


def test_the_cli_reports_and_releases(client: TestClient, db: Database, console_settings: Settings,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    held(client, db)
    held(client, db, code="000.00.12.H56-240115-0302")
    monkeypatch.setenv("GATEWAY_DATABASE_URL", console_settings.database_url)
    monkeypatch.setenv("GATEWAY_BLOB_DIR", str(console_settings.blob_dir))
    monkeypatch.setenv("COLUMNS", "200")
    get_settings.cache_clear()
    runner = CliRunner()
    try:
        table = runner.invoke(cli_app, ["identity", "mismatches"])
        as_csv = runner.invoke(cli_app, ["identity", "mismatches", "--csv", "--ma-xa", "16171"])
        other = runner.invoke(cli_app, ["identity", "mismatches", "--ma-xa", "99999"])
        bad = runner.invoke(cli_app, ["identity", "mismatches", "--since", "yesterday-ish"])
        released = runner.invoke(cli_app, ["identity", "release", CODE, "--reason", "kiểm tra bản giấy"])
        again = runner.invoke(cli_app, ["identity", "release", CODE, "--reason", "lần hai"])
    finally:
        get_settings.cache_clear()
    assert table.exit_code == 0, table.output
    assert "identity disagreements (2)" in table.output and "DuLieuToKhai.NgaySinh" in table.output
    lines = as_csv.stdout.strip().splitlines()
    assert lines[0].startswith("MaHoSo,revision,maXa,outcome,fields") and len(lines) == 3
    assert "no disagreement" in other.output
    assert bad.exit_code == 2 and "--since" in bad.output
    assert released.exit_code == 0 and "released" in released.stdout
    assert again.exit_code == 1
    assert len(deliveries(db, CODE)) == 1
