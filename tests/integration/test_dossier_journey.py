"""One dossier's journey, the overdue dossiers and the dashboard's series, on both engines: the service, the admin
API and the console pages. A dossier is posted through the API; its delivery (a 503 then a success), the ministry's
status and the callback are written as the handlers and the reconciler write them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from adapters.province.samples import sample_dossier
from gateway.admin import journey, service
from gateway.app import create_app
from gateway.db import Database, create_database
from gateway.dossiers import repository as dossiers
from gateway.dossiers.repository import NewEvent
from gateway.identity.service import release
from gateway.payments import repository as payments
from gateway.payments.repository import AdjustmentKind, NewAdjustment
from gateway.reconcile.apply import apply_change
from gateway.settings import Settings
from gateway.vocabulary import DossierEventKind
from mappings.money import Span
from outbox.columns import utcnow
from outbox.models import OutboxAttempt, OutboxMessage
from tests.conftest import ADMIN_KEY, MONITOR_KEY, PROVINCE_KEY
from tests.integration.test_admin_console import _hidden, _login, _with
from tests.integration.test_identity_admin import held
from tests.support.intake import auth, post_json, sample_files

CODE = "000.00.12.H56-240115-0401"
MINISTRY_ID = "HS-0401"
PERSONAL_ID = "038141001234"


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


def post(client: TestClient, code: str = CODE, **fields: Any) -> None:
    dossier = sample_dossier(MaHoSo=code, **fields)
    assert post_json(client, PROVINCE_KEY, dossier, sample_files(dossier)).status_code == 202


def _attempt(session: Any, message: OutboxMessage, number: int, outcome: str,
             detail: dict[str, Any] | None = None) -> None:
    session.add(OutboxAttempt(message_id=message.id, attempt=number, owner="w1", started_at=utcnow(), duration_ms=5,
                              outcome=outcome, error_class="TransientError" if detail else None,
                              error=f"HTTP {detail['status']}" if detail else None, detail=detail))


def deliver_with_status_and_callback(client: TestClient, db: Database, code: str = CODE) -> None:
    """Post; a first attempt answered 503, the second delivered; the ministry receives it; the callback sent."""
    post(client, code)
    with db.session(write=True) as session:
        row = dossiers.lock_existing(session, code)
        assert row is not None
        job = dossiers.delivery_job(session, row.id, 1)
        assert job is not None
        message = session.execute(select(OutboxMessage).where(OutboxMessage.key == code)).scalars().one()  # type: ignore[arg-type]
        _attempt(session, message, 1, "retry", {"status": 503, "maLoi": "HE_THONG_BAN"})
        _attempt(session, message, 2, "done")
        message.state, message.attempts, message.finished_at = "done", 2, utcnow()
        dossiers.mark_delivered(session, job, utcnow(), ministry_id=MINISTRY_ID, announced=True)
        dossiers.add_event(session, NewEvent(row.id, DossierEventKind.DELIVERED, utcnow(), 1))
    with db.session(write=True) as session:
        change = {"id": MINISTRY_ID, "maHoSoTinh": code, "trangThai": "DA_TIEP_NHAN",
                  "thoiDiem": utcnow().isoformat(), "lyDo": f"Tiếp nhận {PERSONAL_ID}"}
        assert apply_change(session, change, notify=True) == "applied"
    with db.session(write=True) as session:
        callback = session.execute(select(OutboxMessage).where(
            OutboxMessage.key == f"callback:{code}")).scalars().one()  # type: ignore[arg-type]
        _attempt(session, callback, 1, "done")
        callback.state, callback.attempts, callback.finished_at = "done", 1, utcnow()


def test_the_timeline_of_a_delivered_dossier_tells_each_step_in_order(client: TestClient, db: Database) -> None:
    deliver_with_status_and_callback(client, db)
    found = journey.journey(db, CODE)
    assert found is not None
    assert (found.state, found.ministryId, found.ministryStatus) == ("delivered", MINISTRY_ID, "DA_TIEP_NHAN")
    lines = [(e.source, e.kind, e.state, e.code) for e in found.timeline]
    assert lines[0] == ("dossier", "received", None, None)
    assert ("message", "deliver_dossier", "done", None) in lines
    failed = next(e for e in found.timeline if e.source == "attempt" and e.state == "retry")
    assert failed.reason and failed.code  # the 503 in plain words
    assert ("dossier", "ministry_status", None, "DA_TIEP_NHAN") in lines
    assert ("message", "province_callback", "done", "CAP_NHAT_TRANG_THAI") in lines
    order = [e.kind for e in found.timeline if e.source in ("dossier", "message")]
    assert order.index("received") < order.index("delivered") < order.index("ministry_status") \
        < order.index("province_callback")
    assert [e.at for e in found.timeline] == sorted(e.at for e in found.timeline)
    assert found.dueAt is not None and found.overdue and (found.daysOverdue or 0) > 300  # the sample's 2024 date
    assert found.actions == []  # nothing dead, pending, held or in conflict
    assert PERSONAL_ID not in found.model_dump_json()


def test_the_api_answers_the_timeline_and_404_for_an_unknown_dossier(client: TestClient, db: Database) -> None:
    deliver_with_status_and_callback(client, db)
    answer = client.get(f"/api/v1/admin/dossiers/{CODE}/timeline", headers=auth(ADMIN_KEY))
    assert answer.status_code == 200
    assert {e["source"] for e in answer.json()["timeline"]} >= {"dossier", "message", "attempt"}
    missing = client.get("/api/v1/admin/dossiers/000.00.12.H56-240115-9999/timeline", headers=auth(ADMIN_KEY))
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")


def test_a_dead_delivery_offers_a_replay_that_the_console_performs(client: TestClient, db: Database) -> None:
    post(client)
    with db.session(write=True) as session:
        message = session.execute(select(OutboxMessage).where(OutboxMessage.key == CODE)).scalars().one()  # type: ignore[arg-type]
        detail = {"status": 400, "maLoi": "DU_LIEU_KHONG_HOP_LE",
                  "chiTiet": [{"truong": "doiTuong.noiThuongTru.maXa", "thongDiep": "sai"}]}
        _attempt(session, message, 1, "dead", detail)
        message.state, message.finished_at, message.last_error_detail = "dead", utcnow(), detail
        message_id = int(message.id or 0)
    found = journey.journey(db, CODE)
    assert found is not None
    assert [(a.kind, a.messageId, a.method) for a in found.actions] == [("replay", message_id, "post"),
                                                                       ("cancel", message_id, "get")]
    dead = next(e for e in found.timeline if e.source == "attempt")
    assert dead.fields == ["doiTuong.noiThuongTru.maXa"] and dead.reason

    _login(client)
    html = client.get(f"/admin/dossiers/{CODE}").text
    assert f'action="/admin/messages/{message_id}/replay"' in html and 'data-action="replay"' in html
    assert f'href="/admin/messages/{message_id}/cancel"' in html  # its confirmation, asking for a reason
    replayed = client.post(f"/admin/messages/{message_id}/replay", data={"csrf_token": _hidden(html, "csrf_token")})
    assert replayed.status_code == 303
    assert service.message_state(db, message_id) == "pending"
    again = journey.journey(db, CODE)
    assert again is not None and [a.kind for a in again.actions] == ["cancel"]
    assert any(e.source == "audit" and e.kind == "replay" for e in again.timeline)


def test_a_monitor_reads_the_dossier_page_but_is_offered_no_action(client: TestClient, db: Database) -> None:
    post(client)
    with db.session(write=True) as session:
        message = session.execute(select(OutboxMessage).where(OutboxMessage.key == CODE)).scalars().one()  # type: ignore[arg-type]
        message.state, message.finished_at = "dead", utcnow()
        message_id = int(message.id or 0)
    assert _login(client, MONITOR_KEY).status_code == 303
    page = client.get(f"/admin/dossiers/{CODE}")
    assert page.status_code == 200 and 'id="timeline"' in page.text
    assert "data-action=" not in page.text and page.text.count('method="post"') == 1  # logout only
    refused = client.post(f"/admin/messages/{message_id}/replay", data={"csrf_token": _hidden(page.text, "csrf_token")})
    assert refused.status_code == 403
    assert service.message_state(db, message_id) == "dead"
    api = client.get(f"/api/v1/admin/dossiers/{CODE}/timeline", headers=auth(MONITOR_KEY))
    assert api.status_code == 200 and api.json()["actions"]  # the API says what applies; the role decides


def test_the_console_page_shows_codes_and_states_never_personal_data(client: TestClient, db: Database) -> None:
    deliver_with_status_and_callback(client, db)
    _login(client)
    page = client.get(f"/admin/dossiers/{CODE}")
    assert page.status_code == 200
    html = page.text
    assert CODE in html and MINISTRY_ID in html and 'data-code="DA_TIEP_NHAN"' in html
    assert 'data-code="CAP_NHAT_TRANG_THAI"' in html and 'id="overdue-flag"' in html
    assert PERSONAL_ID not in html and "Nguyễn Thị Hoa" not in html
    assert client.get("/admin/dossiers/000.00.12.H56-240115-9999").status_code == 404


def test_search_finds_by_code_or_ministry_id_else_says_nothing_found(client: TestClient, db: Database) -> None:
    deliver_with_status_and_callback(client, db)
    _login(client)
    for query in (CODE, f"  {MINISTRY_ID} "):
        found = client.get("/admin/search", params={"q": query})
        assert found.status_code == 303
        assert found.headers["location"] == f"/admin/dossiers/{CODE}"
    for query in ("000.00.12.H56-240115-9999", PERSONAL_ID):  # no lookup by personal data
        missing = client.get("/admin/search", params={"q": query})
        assert missing.status_code == 404 and "Không tìm thấy" in missing.text
    assert 'action="/admin/search"' in client.get("/admin/audit").text  # the box on every page


def test_overdue_dossiers_by_days_overdue_and_commune(client: TestClient, db: Database) -> None:
    post(client, "000.00.12.H56-240115-0402", NgayHenTra="20240205170000")
    post(client, "000.00.12.H56-240115-0403", NgayHenTra="20240301170000")
    post(client, "000.00.12.H56-240115-0404", NgayHenTra=(utcnow() + timedelta(days=30)).strftime("%Y%m%d%H%M%S"))
    found = journey.overdue_list(db)
    assert [i.MaHoSo for i in found.items] == ["000.00.12.H56-240115-0402", "000.00.12.H56-240115-0403"]
    assert found.count == 2 and found.items[0].daysOverdue > found.items[1].daysOverdue > 0
    commune = found.items[0].maXa
    assert commune and found.items[0].tenXa
    assert [(c.maXa, c.count) for c in found.byCommune] == [(commune, 2)]
    assert journey.overdue_list(db, commune="99999").items == []
    assert journey.overdue_list(db, commune=commune).count == 2

    answer = client.get("/api/v1/admin/overdue", params={"maXa": commune}, headers=auth(ADMIN_KEY))
    assert answer.status_code == 200 and answer.json()["count"] == 2
    bad = client.get("/api/v1/admin/overdue", params={"maXa": "12a"}, headers=auth(ADMIN_KEY))
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "maXa"
    _login(client)
    html = client.get("/admin/overdue").text
    assert 'data-ma-ho-so="000.00.12.H56-240115-0402"' in html and "000.00.12.H56-240115-0404" not in html


def _message(db: Database, *, created_ago: timedelta, finished_ago: timedelta | None, state: str) -> None:
    now = utcnow()
    with db.session(write=True) as session:
        session.add(OutboxMessage(kind="deliver_dossier", key="k", payload={}, state=state,
                                  created_at=now - created_ago, updated_at=now,
                                  finished_at=now - finished_ago if finished_ago is not None else None))


def test_backlog_and_deliveries_over_the_last_day_from_created_and_finished_times(db: Database) -> None:
    hour = timedelta(hours=1)
    _message(db, created_ago=30 * hour, finished_ago=None, state="pending")  # waiting the whole day
    _message(db, created_ago=10 * hour, finished_ago=5 * hour, state="done")  # waited 5 hours, then delivered
    _message(db, created_ago=2 * hour, finished_ago=None, state="pending")
    _message(db, created_ago=40 * hour, finished_ago=30 * hour, state="done")  # before the window
    now = utcnow()
    backlog = dict(service.backlog_series(db, now, span=24 * hour, bucket=hour))
    assert len(backlog) == 24
    values = list(backlog.values())
    assert values[0] == 1 and values[-1] == 2  # 23 h ago: one waiting; now: two
    assert max(values) == 2 and values[-7] == 2 and values[-4] == 1  # 6 h ago both; 3 h ago the first alone
    delivered = service.finished_series(db, now, span=24 * hour, bucket=hour)
    assert sum(n for _, n in delivered) == 1
    assert [n for _, n in delivered].index(1) == 24 - 5 - 1  # the bucket ending 5 h ago


def test_the_dashboard_draws_the_three_charts_inline(client: TestClient, db: Database) -> None:
    deliver_with_status_and_callback(client, db)
    _message(db, created_ago=timedelta(hours=3), finished_ago=None, state="pending")
    _login(client)
    page = client.get("/admin")
    assert page.status_code == 200
    html = page.text
    for chart in ("chart-deliveries", "chart-backlog", "chart-overdue"):
        assert f'id="{chart}"' in html and f'id="{chart}-title"' in html
    assert html.count('<path class="series"') == 2
    assert '<rect class="bar"' in html and 'data-value="1"' in html
    assert 'id="delivered-total">2<' in html and 'id="backlog-now">1<' in html
    assert "<script" not in html and "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "unsafe-inline" not in page.headers["content-security-policy"]


def test_a_held_dossier_shows_its_check_and_offers_the_release_page(client: TestClient, db: Database) -> None:
    code = "000.00.12.H56-240115-0301"
    held(client, db, code)
    found = journey.journey(db, code)
    assert found is not None and found.state == "held"
    check = next(e for e in found.timeline if e.source == "identity")
    assert (check.state, check.code, check.fields) == ("held", "mismatch", ["DuLieuToKhai.NgaySinh"])
    assert [(a.kind, a.path) for a in found.actions] == [("release", f"/held/{code}/release")]
    _login(client)
    html = client.get(f"/admin/dossiers/{code}").text
    assert f'href="/admin/held/{code}/release"' in html and 'data-action="release"' in html


def test_an_identity_check_is_one_line_even_with_its_history_line(client: TestClient, db: Database) -> None:
    code = "000.00.12.H56-240115-0302"
    held(client, db, code)
    with db.session(write=True) as session:
        row = dossiers.lock_existing(session, code)
        assert row is not None
        dossiers.add_event(session, NewEvent(row.id, DossierEventKind.IDENTITY_HELD, utcnow(), 1,
                                             {"fields": ["DuLieuToKhai.NgaySinh"]}))
    found = journey.journey(db, code)
    assert found is not None
    assert [e.kind for e in found.timeline if "identity" in e.kind] == ["identity_check"]
    assert "Tạm dừng" in next(e.title for e in found.timeline if e.kind == "identity_check")


def test_a_back_payment_is_on_the_timeline_with_its_months_and_amount(client: TestClient, db: Database) -> None:
    deliver_with_status_and_callback(client, db)
    with db.session(write=True) as session:
        payments.record(session, NewAdjustment(kind=AdjustmentKind.BACK_PAYMENT, ma_ho_so=CODE, commune_code="16171",
                                               span=Span((("2024-05", 430000), ("2024-06", 430000)))), utcnow())
    found = journey.journey(db, CODE)
    assert found is not None
    [line] = [e for e in found.timeline if e.source == "payment"]
    assert (line.kind, line.title) == ("truy_linh", "Truy lĩnh 2024-05 → 2024-06: 860.000 đồng")


def test_a_release_is_on_the_timeline_as_the_administrators_action(client: TestClient, db: Database) -> None:
    code = "000.00.12.H56-240115-0303"
    held(client, db, code)
    release(db, code, actor="api:admin", reason="Đã xác minh trực tiếp")
    found = journey.journey(db, code)
    assert found is not None
    audit = [e for e in found.timeline if e.source == "audit"]
    assert [(e.kind, e.revision) for e in audit] == [("release", 1)] and "api:admin" in audit[0].title
    assert "released" in [e.kind for e in found.timeline]  # the history line
    assert next(e.state for e in found.timeline if e.kind == "identity_check") == "released"
    assert [a.kind for a in found.actions] == ["cancel"]  # its delivery is queued now; no release any more


def test_a_dossier_in_conflict_offers_the_decision_page(client: TestClient, db: Database) -> None:
    post(client)
    with db.session(write=True) as session:
        row = dossiers.lock_existing(session, CODE)
        assert row is not None
        dossiers.mark_conflict(session, row.id, ministry_id=MINISTRY_ID, ministry_status="CHO_TIEP_NHAN",
                               national_status=2)
        for message in session.execute(select(OutboxMessage).where(OutboxMessage.key == CODE)).scalars():  # type: ignore[arg-type]
            message.state = "done"
    found = journey.journey(db, CODE)
    assert found is not None and found.state == "conflict"
    assert [(a.kind, a.method, a.path) for a in found.actions] == [("conflict", "get", f"/conflicts/{CODE}")]
