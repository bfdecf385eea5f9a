"""The admin web console through TestClient: sessions, CSRF, redirects, headers, escaping, replay, on both engines."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
import structlog
from sqlalchemy import select
from starlette.testclient import TestClient

from gateway.admin.console_session import LOGIN_COOKIE, SESSION_COOKIE, SessionCodec
from gateway.app import create_app
from gateway.db import Database, create_database
from gateway.models import AuditEntry
from gateway.settings import Settings
from outbox.columns import utcnow
from outbox.models import OutboxAttempt, OutboxMessage
from tests.conftest import ADMIN_KEY, PROVINCE_KEY

CODE = "000.00.12.H56-240115-0007"
HOSTILE = '<script>alert("x")</script>'
PERSONAL_ID = "038141001234"


@pytest.fixture
def console_settings(settings: Settings) -> Settings:
    """The suite's settings with a fixed session secret (so two apps share sessions)."""
    return _with(settings, session_secret="test-session-secret")


def _with(settings: Settings, **overrides: Any) -> Settings:
    return Settings(**{**settings.model_dump(), **overrides})


@pytest.fixture
def client(console_settings: Settings) -> Iterator[TestClient]:
    """The gateway app (no worker) behind TestClient, redirects not followed."""
    with TestClient(create_app(console_settings), follow_redirects=False) as http:
        yield http


@pytest.fixture
def db(console_settings: Settings) -> Iterator[Database]:
    """The test database."""
    database = create_database(console_settings.database_url)
    yield database
    database.dispose()


def _dead(db: Database, *, key: str = CODE, kind: str = "deliver_dossier", error: str = "HTTP 400 DU_LIEU_KHONG_HOP_LE",
          detail: dict[str, Any] | None = None) -> int:
    now = utcnow()
    detail = detail if detail is not None else {
        "status": 400, "maLoi": "DU_LIEU_KHONG_HOP_LE", "thongDiep": "Dữ liệu không hợp lệ",
        "chiTiet": [{"truong": "maDonViTiepNhan", "thongDiep": "Mã đơn vị không có trong danh mục"}],
    }
    with db.session(write=True) as session:
        message = OutboxMessage(kind=kind, key=key, payload={"dossier_id": "d1", "revision": 1}, state="dead",
                                attempts=1, last_error=error, last_error_detail=detail, finished_at=now)
        session.add(message)
        session.flush()
        session.add(OutboxAttempt(message_id=message.id, attempt=1, owner="w1", started_at=now, duration_ms=12,
                                  outcome="dead", error_class="PermanentMinistryError", error=error, detail=detail))
        session.flush()
        return int(message.id or 0)


def _hidden(html: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert found, f"no hidden field {name}"
    return found.group(1)


def _login(client: TestClient, key: str = ADMIN_KEY) -> Any:
    page = client.get("/admin/login")
    assert page.status_code == 200
    return client.post("/admin/login", data={"api_key": key, "login_token": _hidden(page.text, "login_token")})


def _csrf(client: TestClient, path: str = "/admin") -> str:
    page = client.get(path)
    assert page.status_code == 200, page.text
    return _hidden(page.text, "csrf_token")


def test_without_a_session_every_page_redirects_to_login(client: TestClient) -> None:
    for path in ("/admin", "/admin/messages?state=dead", "/admin/messages/1", "/admin/audit", "/admin/replay"):
        response = client.get(path)
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/admin/login?next=")
    posted = client.post("/admin/messages/1/replay", data={"csrf_token": "x"})
    assert posted.status_code == 303
    assert posted.headers["location"] == "/admin/login"


def test_login_sets_a_strict_httponly_session_and_logout_ends_it(client: TestClient) -> None:
    response = _login(client)
    assert response.status_code == 303
    assert response.headers["location"] == "/admin"
    cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith(SESSION_COOKIE + "="))
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
    assert {"httponly", "max-age", "path"} <= attributes
    assert "samesite=strict" in cookie.lower()
    assert "secure" not in attributes  # plain http here
    assert "Max-Age=28800" in cookie
    assert "Path=/admin" in cookie
    assert ADMIN_KEY not in cookie

    dashboard = client.get("/admin")
    assert dashboard.status_code == 200
    assert "Tổng quan" in dashboard.text
    assert "admin" in dashboard.text

    logout = client.post("/admin/logout", data={"csrf_token": _hidden(dashboard.text, "csrf_token")})
    assert logout.status_code == 303
    assert logout.headers["location"] == "/admin/login"
    assert client.get("/admin").status_code == 303


def test_the_session_cookie_is_secure_over_https(console_settings: Settings) -> None:
    with TestClient(create_app(console_settings), base_url="https://testserver", follow_redirects=False) as http:
        response = _login(http)
    cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith(SESSION_COOKIE + "="))
    assert "secure" in {part.strip().lower() for part in cookie.split(";")}


def test_a_wrong_key_gets_the_login_page_again_with_401(client: TestClient) -> None:
    response = _login(client, "not-a-key")
    assert response.status_code == 401
    assert "Khóa API không đúng" in response.text
    assert 'name="api_key"' in response.text
    assert SESSION_COOKIE not in response.headers.get("set-cookie", "")
    assert client.get("/admin").status_code == 303

    no_scope = _login(client, PROVINCE_KEY)
    assert no_scope.status_code == 403
    assert "không có quyền quản trị" in no_scope.text


def test_a_login_post_without_the_login_form_token_is_refused(client: TestClient) -> None:
    client.get("/admin/login")
    response = client.post("/admin/login", data={"api_key": ADMIN_KEY, "login_token": "forged"})
    assert response.status_code == 403
    assert SESSION_COOKIE not in response.headers.get("set-cookie", "")


def test_posts_without_the_sessions_csrf_token_are_rejected_403(client: TestClient, db: Database) -> None:
    message_id = _dead(db)
    _login(client)
    for data in ({}, {"csrf_token": "forged"}):
        assert client.post(f"/admin/messages/{message_id}/replay", data=data).status_code == 403
        assert client.post("/admin/replay", data={**data, "state": "dead"}).status_code == 403
        assert client.post("/admin/logout", data=data).status_code == 403
    with db.session() as session:
        assert session.get(OutboxMessage, message_id).state == "dead"  # type: ignore[union-attr]
        assert session.execute(select(AuditEntry)).first() is None


def test_a_token_of_another_session_does_not_pass(console_settings: Settings, db: Database) -> None:
    message_id = _dead(db)
    app = create_app(console_settings)
    with TestClient(app, follow_redirects=False) as first, TestClient(app, follow_redirects=False) as second:
        _login(first)
        _login(second)
        stolen = _csrf(first)
        assert second.post(f"/admin/messages/{message_id}/replay", data={"csrf_token": stolen}).status_code == 403


def test_tampered_expired_or_revoked_sessions_go_to_login(console_settings: Settings, client: TestClient,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    _login(client)
    token = client.cookies[SESSION_COOKIE]
    client.cookies.set(SESSION_COOKIE, token[:-2] + ("AA" if not token.endswith("AA") else "BB"), path="/admin")
    assert client.get("/admin").status_code == 303

    client.cookies.set(SESSION_COOKIE, token, path="/admin")
    assert client.get("/admin").status_code == 200
    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() + 8 * 3600 + 60)
    assert client.get("/admin").status_code == 303
    monkeypatch.undo()

    rotated = _with(console_settings, api_keys="admin:a-new-key:admin")
    codec = SessionCodec.from_settings(rotated)
    assert codec.read(token, rotated.api_clients) is None  # the key it was opened with is gone


def test_a_session_survives_a_restart_when_the_secret_is_set(console_settings: Settings, client: TestClient) -> None:
    _login(client)
    token = client.cookies[SESSION_COOKIE]
    with TestClient(create_app(console_settings), follow_redirects=False) as restarted:
        restarted.cookies.set(SESSION_COOKIE, token, path="/admin")
        assert restarted.get("/admin").status_code == 200


def test_without_a_secret_a_random_key_and_a_warning(settings: Settings) -> None:
    with structlog.testing.capture_logs() as logs:
        app = create_app(settings)
    assert any(entry["event"] == "admin_session_secret_unset" for entry in logs)
    with TestClient(app, follow_redirects=False) as http:
        assert _login(http).status_code == 303
        assert http.get("/admin").status_code == 200


def test_console_pages_carry_security_headers(client: TestClient) -> None:
    for response in (client.get("/admin/login"), client.get("/admin"), client.get("/admin/static/console.css")):
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["referrer-policy"] == "no-referrer"
        csp = response.headers["content-security-policy"]
        assert "default-src 'self'" in csp
        assert "frame-ancestors 'none'" in csp
        assert "http" not in csp  # nothing loaded from elsewhere
    assert "no-store" in client.get("/admin/login").headers["cache-control"]
    assert "content-security-policy" not in client.get("/health/live").headers


def test_login_returns_to_the_page_asked_for_and_never_off_site(client: TestClient) -> None:
    first = client.get("/admin/audit")
    assert first.headers["location"] == "/admin/login?next=%2Fadmin%2Faudit"
    page = client.get(first.headers["location"])
    assert _hidden(page.text, "next_path") == "/admin/audit"
    response = client.post("/admin/login", data={"api_key": ADMIN_KEY, "next_path": "/admin/audit",
                                                 "login_token": _hidden(page.text, "login_token")})
    assert response.headers["location"] == "/admin/audit"
    client.cookies.clear()
    for target in ("https://evil.example/", "//evil.example/admin", "/admin/../x", "/elsewhere", "/admin/\r\nX: y",
                   "/admin/login"):
        page = client.get("/admin/login", params={"next": target})
        response = client.post("/admin/login", data={"api_key": ADMIN_KEY, "next_path": target,
                                                     "login_token": _hidden(page.text, "login_token")})
        assert response.headers["location"] == "/admin", target
        client.cookies.clear()


def test_dead_list_shows_the_reason_in_plain_vietnamese_and_the_message_its_attempts(
    client: TestClient, db: Database
) -> None:
    message_id = _dead(db)
    timeout_id = _dead(db, key="000.00.12.H56-240115-0008", error="no answer TIMEOUT: timed out",
                       detail={"status": None, "maLoi": "TIMEOUT", "thongDiep": "timed out", "chiTiet": []})
    _login(client)
    listing = client.get("/admin/messages")
    assert listing.status_code == 200
    assert CODE in listing.text
    assert "từ chối hồ sơ vì dữ liệu không hợp lệ" in listing.text
    assert "không trả lời trong thời gian chờ" in listing.text
    assert f'href="/admin/messages/{timeout_id}"' in listing.text

    detail = client.get(f"/admin/messages/{message_id}")
    assert detail.status_code == 200
    assert "Mã đơn vị tiếp nhận" in detail.text  # the ministry's field, named for an officer
    assert "Mã đơn vị không có trong danh mục" in detail.text
    assert "PermanentMinistryError" in detail.text
    assert "Gửi lại</button>" in detail.text
    assert client.get("/admin/messages/999999").status_code == 404
    assert client.get("/admin/messages?cursor=garbage").status_code == 400


def test_stored_strings_are_escaped_and_personal_numbers_masked(client: TestClient, db: Database) -> None:
    message_id = _dead(db, key=HOSTILE, error=f"HTTP 400 {HOSTILE} {PERSONAL_ID}", detail={
        "status": 400, "maLoi": HOSTILE,
        "chiTiet": [{"truong": HOSTILE, "thongDiep": f"{HOSTILE} số {PERSONAL_ID} sai"}],
    })
    _login(client)
    pages = [client.get("/admin/messages"), client.get(f"/admin/messages/{message_id}"),
             client.get("/admin/messages", params={"state": "", "key": HOSTILE, "error": HOSTILE})]
    for page in pages:
        assert page.status_code == 200
        assert "<script>" not in page.text
        assert "&lt;script&gt;" in page.text
        assert PERSONAL_ID not in page.text


def test_replay_one_is_audited_with_the_key_name(client: TestClient, db: Database) -> None:
    message_id = _dead(db)
    _login(client)
    token = _csrf(client, f"/admin/messages/{message_id}")
    response = client.post(f"/admin/messages/{message_id}/replay", data={"csrf_token": token})
    assert response.status_code == 303
    assert response.headers["location"] == f"/admin/messages/{message_id}?done=replay&n=1"
    page = client.get(response.headers["location"])
    assert "Đã đưa 1 thông điệp vào hàng đợi gửi lại" in page.text
    assert "Gửi lại</button>" not in page.text  # pending now: nothing to replay
    with db.session() as session:
        assert session.get(OutboxMessage, message_id).state == "pending"  # type: ignore[union-attr]
        [entry] = session.execute(select(AuditEntry)).scalars().all()
        assert entry.actor == "api:admin"
        assert entry.action == "replay"
    audit = client.get("/admin/audit")
    assert "api:admin" in audit.text
    assert f'href="/admin/messages/{message_id}"' in audit.text


def test_bulk_replay_confirms_the_count_then_replays_the_filtered_messages(client: TestClient, db: Database) -> None:
    ids = [_dead(db, key=f"000.00.12.H56-240115-01{i:02d}") for i in range(3)]
    other = _dead(db, key="000.00.12.H56-240115-0200", kind="province_callback",
                  error="province unreachable: ConnectError", detail={"error": "connection"})
    _login(client)
    confirm = client.get("/admin/replay", params={"state": "dead", "kind": "deliver_dossier", "key": "", "error": ""})
    assert confirm.status_code == 200
    assert '<strong id="bulk-count">3</strong>' in confirm.text
    response = client.post("/admin/replay", data={
        "csrf_token": _hidden(confirm.text, "csrf_token"), "state": "dead", "kind": "deliver_dossier",
        "key": "", "error": ""})
    assert response.status_code == 303
    assert "done=bulk" in response.headers["location"] and "n=3" in response.headers["location"]
    with db.session() as session:
        states = {m.id: m.state for m in session.execute(select(OutboxMessage)).scalars()}
        assert [states[i] for i in ids] == ["pending"] * 3
        assert states[other] == "dead"
        [entry] = session.execute(select(AuditEntry)).scalars().all()
        assert entry.action == "bulk_replay"
        assert entry.actor == "api:admin"
    listing = client.get("/admin/messages")
    assert "Không kết nối được tới hệ thống một cửa của tỉnh" in listing.text
    refused = client.post("/admin/replay", data={"csrf_token": _hidden(confirm.text, "csrf_token"), "state": "done"})
    assert refused.status_code == 400


def test_the_list_pages_with_a_cursor(client: TestClient, db: Database) -> None:
    ids = [_dead(db, key=f"000.00.12.H56-240115-{i:04d}") for i in range(55)]
    _login(client)
    first = client.get("/admin/messages")
    assert first.text.count("data-message-id=") == 50
    next_url = re.search(r'href="(/admin/messages\?[^"]*cursor=[^"]*)"', first.text)
    assert next_url
    second = client.get(next_url.group(1).replace("&amp;", "&"))
    assert second.text.count("data-message-id=") == 5
    assert f'data-message-id="{ids[0]}"' in second.text


def test_the_dashboard_shows_counts_and_the_circuit(client: TestClient, db: Database) -> None:
    _dead(db)
    _login(client)
    page = client.get("/admin")
    assert '<span class="n" data-state="dead">1</span>' in page.text
    assert "Bộ gửi không chạy trong tiến trình này" in page.text  # no embedded worker in these tests
    assert "Gửi thành công mỗi phút" in page.text


def test_the_login_cookie_is_scoped_and_dropped_after_login(client: TestClient) -> None:
    page = client.get("/admin/login")
    cookie = next(c for c in page.headers.get_list("set-cookie") if c.startswith(LOGIN_COOKIE + "="))
    assert "httponly" in cookie.lower() and "samesite=strict" in cookie.lower()
    response = client.post("/admin/login", data={"api_key": ADMIN_KEY, "login_token": _hidden(page.text,
                                                                                                "login_token")})
    assert any(c.startswith(LOGIN_COOKIE + '=""') or "Max-Age=0" in c
               for c in response.headers.get_list("set-cookie") if c.startswith(LOGIN_COOKIE))
