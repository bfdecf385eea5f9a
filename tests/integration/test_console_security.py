"""The console's security, through TestClient on both engines: the read-only monitor, logout that ends the
session everywhere, the login throttle shared by every process, the messages' date filter and cancel."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import structlog
from starlette.testclient import TestClient

from gateway.admin.console_session import SESSION_COOKIE
from gateway.app import create_app
from gateway.db import Database, create_database
from gateway.models import ConsoleLoginThrottle, ConsoleSessionRevoked
from gateway.settings import Settings
from tests.conftest import ADMIN_KEY, MONITOR_KEY
from tests.support.admin import audit_entries, console_login, count, hidden, seed, states

CODE = "000.00.12.H56-240115-0007"


def _with(settings: Settings, **overrides: Any) -> Settings:
    return Settings(**{**settings.model_dump(), **overrides})


@pytest.fixture
def console_settings(settings: Settings) -> Settings:
    """A fixed session secret (two apps share sessions) and a quick throttle: slowed after 2, locked after 4."""
    return _with(settings, session_secret="test-session-secret", login_delay_after=2, login_delay_s=0.05,
                 login_lockout_after=4, login_window_s=600, login_lockout_s=300)


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


# --- monitor ---------------------------------------------------------------------------------------------

def test_a_monitor_sees_every_page_without_actions_and_is_refused_every_action(client: TestClient,
                                                                               db: Database) -> None:
    dead = seed(db, key=CODE, state="dead", with_attempt=True)
    assert console_login(client, MONITOR_KEY).status_code == 303
    for path in ("/admin", "/admin/messages", f"/admin/messages/{dead}", "/admin/audit", "/admin/held",
                 "/admin/conflicts", "/admin/payments", "/admin/replay?state=dead", f"/admin/messages/{dead}/cancel"):
        page = client.get(path)
        assert page.status_code == 200, path
        assert 'id="user-role">giám sát' in page.text, path
        assert "<form method=\"post\" action=\"/admin/logout\"" in page.text
        assert page.text.count('method="post"') == 1, path  # the logout form only: no action is offered
    listing = client.get("/admin/messages")
    assert f'data-message-id="{dead}"' in listing.text
    assert "Hủy…" not in listing.text and "Gửi lại tất cả" not in listing.text

    csrf = hidden(client.get("/admin").text, "csrf_token")
    for path, data in ((f"/admin/messages/{dead}/replay", {}), (f"/admin/messages/{dead}/cancel", {"reason": "x"}),
                       ("/admin/replay", {"state": "dead"}), (f"/admin/held/{CODE}/release", {"reason": "x"}),
                       (f"/admin/conflicts/{CODE}", {"action": "accept", "reason": "x"})):
        refused = client.post(path, data={"csrf_token": csrf, **data})
        assert refused.status_code == 403, path
        assert "Vai trò giám sát (monitor) chỉ được xem" in refused.text
    assert states(db, [dead]) == {dead: "dead"}
    assert audit_entries(db) == []


def test_an_admin_sees_the_role_and_the_actions(client: TestClient, db: Database) -> None:
    dead = seed(db, key=CODE, state="dead")
    console_login(client, ADMIN_KEY)
    page = client.get(f"/admin/messages/{dead}")
    assert 'id="user-role">quản trị' in page.text
    assert f'action="/admin/messages/{dead}/replay"' in page.text
    assert f'href="/admin/messages/{dead}/cancel"' in page.text


# --- logout ----------------------------------------------------------------------------------------------

def test_a_copied_cookie_is_refused_after_logout_by_every_process(console_settings: Settings,
                                                                  client: TestClient, db: Database) -> None:
    console_login(client, ADMIN_KEY)
    stolen = client.cookies[SESSION_COOKIE]
    with TestClient(create_app(console_settings), follow_redirects=False) as other:
        other.cookies.set(SESSION_COOKIE, stolen, path="/admin")
        assert other.get("/admin").status_code == 200  # the copy works while the session lives
        logout = client.post("/admin/logout", data={"csrf_token": hidden(client.get("/admin").text, "csrf_token")})
        assert logout.status_code == 303
        after = other.get("/admin")  # another process, same database
        assert after.status_code == 303
        assert after.headers["location"].startswith("/admin/login")
        assert other.get("/admin/login").status_code == 200  # the login form, not a redirect to the dashboard
    client.cookies.set(SESSION_COOKIE, stolen, path="/admin")
    assert client.get("/admin").status_code == 303
    assert count(db, ConsoleSessionRevoked) == 1
    # Logging in again opens a new session, unaffected.
    client.cookies.clear()
    assert console_login(client, ADMIN_KEY).status_code == 303
    assert client.get("/admin").status_code == 200


def test_revocations_past_their_expiry_are_deleted(client: TestClient, db: Database) -> None:
    from gateway.admin.console_store import is_revoked, revoke_session

    now = datetime.now(UTC)
    revoke_session(db, "old-session", now - timedelta(seconds=1))
    revoke_session(db, "live-session", now + timedelta(hours=1))
    assert is_revoked(db, "live-session") and not is_revoked(db, "old-session")
    assert count(db, ConsoleSessionRevoked) == 1


# --- login throttle --------------------------------------------------------------------------------------

def test_wrong_keys_are_slowed_then_refused_with_retry_after_and_logged(client: TestClient, db: Database) -> None:
    with structlog.testing.capture_logs() as logs:
        answers = [console_login(client, f"wrong-key-{i}") for i in range(4)]
        locked = console_login(client, ADMIN_KEY)  # even the right key, during the lockout
    assert [a.status_code for a in answers] == [401, 401, 401, 429]
    assert locked.status_code == 429
    assert 0 < int(locked.headers["retry-after"]) <= 300
    assert "Đăng nhập sai quá nhiều lần" in locked.text
    assert SESSION_COOKIE not in locked.headers.get("set-cookie", "")
    events = [e["event"] for e in logs]
    assert events.count("admin_login_locked_out") == 1
    refusals = [e.get("reason") for e in logs if e["event"] == "admin_login_refused"]
    assert refusals == ["unknown_key"] * 4 + ["locked_out"]
    assert all(e.get("address") == "testclient" for e in logs if e["event"].startswith("admin_login"))
    assert not any("wrong-key" in str(e) or ADMIN_KEY in str(e) for e in logs)  # the typed key is never logged


def test_the_throttle_is_shared_by_two_apps_on_one_database(console_settings: Settings, client: TestClient) -> None:
    with TestClient(create_app(console_settings), follow_redirects=False) as other:
        assert console_login(client, "wrong-1").status_code == 401
        assert console_login(other, "wrong-2").status_code == 401
        assert console_login(client, "wrong-3").status_code == 401
        assert console_login(other, "wrong-4").status_code == 429
        assert console_login(client, ADMIN_KEY).status_code == 429


def test_a_success_resets_the_count(client: TestClient, db: Database) -> None:
    for i in range(3):
        assert console_login(client, f"wrong-{i}").status_code == 401
    assert console_login(client, ADMIN_KEY).status_code == 303
    assert count(db, ConsoleLoginThrottle) == 0
    client.cookies.clear()
    for i in range(3):  # counted afresh: three more are not a lockout
        assert console_login(client, f"wrong-again-{i}").status_code == 401


def test_forwarded_for_is_ignored_unless_a_proxy_is_trusted(console_settings: Settings) -> None:
    with TestClient(create_app(console_settings), follow_redirects=False) as http:
        for i in range(4):  # a client forging the header is still counted on its own address
            console_login(http, f"wrong-{i}", **{"X-Forwarded-For": f"10.0.0.{i}"})
        assert console_login(http, ADMIN_KEY, **{"X-Forwarded-For": "10.0.0.99"}).status_code == 429
    trusted = _with(console_settings, login_trust_forwarded_for=True)
    with TestClient(create_app(trusted), follow_redirects=False) as http:
        # Behind the proxy: the address it appended is the one counted, so other clients are not locked out.
        for i in range(4):
            console_login(http, f"wrong-{i}", **{"X-Forwarded-For": "spoofed, 192.0.2.7"})
        assert console_login(http, ADMIN_KEY, **{"X-Forwarded-For": "192.0.2.7"}).status_code == 429
        assert console_login(http, ADMIN_KEY, **{"X-Forwarded-For": "192.0.2.8"}).status_code == 303


def test_stale_throttle_rows_are_cleaned(console_settings: Settings, db: Database) -> None:
    from gateway.admin.console_store import record_login_failure
    from gateway.admin.login_throttle import ThrottlePolicy

    policy = ThrottlePolicy.from_settings(console_settings)
    long_ago = datetime.now(UTC) - timedelta(days=1)
    record_login_failure(db, "198.51.100.1", policy, now=long_ago)
    record_login_failure(db, "198.51.100.2", policy)
    assert count(db, ConsoleLoginThrottle) == 1


# --- messages: date filter and cancel --------------------------------------------------------------------

def test_the_date_filter_on_creation_is_carried_in_links_and_the_bulk_replay(client: TestClient,
                                                                            db: Database) -> None:
    # Created 08:00 Vietnam time (01:00 UTC) on 10 and 12 January.
    old = seed(db, key="000.00.12.H56-240110-0001", created_at=datetime(2026, 1, 10, 1, 0, tzinfo=UTC))
    new = seed(db, key="000.00.12.H56-240112-0001", created_at=datetime(2026, 1, 12, 1, 0, tzinfo=UTC))
    console_login(client, ADMIN_KEY)
    day = client.get("/admin/messages", params={"state": "dead", "since": "2026-01-12", "until": "2026-01-12"})
    assert day.status_code == 200
    assert f'data-message-id="{new}"' in day.text and f'data-message-id="{old}"' not in day.text
    assert 'value="2026-01-12"' in day.text
    assert "since=2026-01-12&amp;until=2026-01-12" in day.text  # the bulk replay link carries the dates
    until_only = client.get("/admin/messages", params={"state": "dead", "until": "2026-01-10"})
    assert f'data-message-id="{old}"' in until_only.text and f'data-message-id="{new}"' not in until_only.text

    confirm = client.get("/admin/replay", params={"state": "dead", "since": "2026-01-11"})
    assert '<strong id="bulk-count">1</strong>' in confirm.text
    assert hidden(confirm.text, "since") == "2026-01-11"
    done = client.post("/admin/replay", data={"csrf_token": hidden(confirm.text, "csrf_token"), "state": "dead",
                                              "since": "2026-01-11", "until": ""})
    assert done.status_code == 303 and "since=2026-01-11" in done.headers["location"]
    assert states(db, [old, new]) == {old: "dead", new: "pending"}


def test_a_bad_date_or_an_empty_range_is_named_on_the_form(client: TestClient, db: Database) -> None:
    seed(db, state="dead")
    console_login(client, ADMIN_KEY)
    bad = client.get("/admin/messages", params={"state": "dead", "since": "2026-13-40"})
    assert bad.status_code == 422
    assert 'id="since-error"' in bad.text and 'aria-invalid="true"' in bad.text
    assert 'value="2026-13-40"' in bad.text  # what was typed stays, to be corrected
    backwards = client.get("/admin/messages", params={"since": "2026-01-12", "until": "2026-01-10"})
    assert backwards.status_code == 422
    assert 'id="until-error"' in backwards.text
    assert "phải sau thời điểm bắt đầu" in backwards.text
    refused = client.post("/admin/replay", data={"csrf_token": hidden(bad.text, "csrf_token"), "state": "dead",
                                                 "since": "yesterday-ish"})
    assert refused.status_code == 422


def test_the_api_list_takes_the_same_dates_and_refuses_an_empty_range(client: TestClient, db: Database) -> None:
    old = seed(db, created_at=datetime(2026, 1, 10, 1, 0, tzinfo=UTC))
    new = seed(db, created_at=datetime(2026, 1, 12, 1, 0, tzinfo=UTC))
    headers = {"Authorization": f"Bearer {MONITOR_KEY}"}
    found = client.get("/api/v1/admin/messages", params={"since": "2026-01-11", "until": "2026-01-13"},
                       headers=headers)
    assert found.status_code == 200
    assert [m["id"] for m in found.json()["items"]] == [new]
    backwards = client.get("/api/v1/admin/messages", params={"since": "2026-01-12", "until": "2026-01-10"},
                           headers=headers)
    assert backwards.status_code == 422
    assert backwards.headers["content-type"].startswith("application/problem+json")
    assert [(e["field"], e["code"]) for e in backwards.json()["errors"]] == [("until", "until_not_after_since")]
    assert old


def test_cancel_from_the_console_needs_a_reason_and_is_audited(client: TestClient, db: Database) -> None:
    pending = seed(db, key=CODE, state="pending")
    done = seed(db, key=CODE, state="done")
    console_login(client, ADMIN_KEY)
    listing = client.get("/admin/messages", params={"state": ""})
    assert f'href="/admin/messages/{pending}/cancel"' in listing.text
    assert f'href="/admin/messages/{done}/cancel"' not in listing.text
    confirm = client.get(f"/admin/messages/{pending}/cancel")
    csrf = hidden(confirm.text, "csrf_token")
    assert client.post(f"/admin/messages/{pending}/cancel", data={"csrf_token": csrf, "reason": " "}).status_code == 422
    assert client.post(f"/admin/messages/{pending}/cancel", data={"reason": "no token"}).status_code == 403
    answer = client.post(f"/admin/messages/{pending}/cancel", data={"csrf_token": csrf, "reason": "sent twice"})
    assert answer.status_code == 303
    assert "Đã hủy thông điệp" in client.get(answer.headers["location"]).text
    assert states(db, [pending]) == {pending: "cancelled"}
    [entry] = audit_entries(db)
    assert (entry.actor, entry.action) == ("api:admin", "cancel")
    assert entry.target == {"ids": [pending], "reason": "sent twice"}
    again = client.post(f"/admin/messages/{done}/cancel", data={"csrf_token": csrf, "reason": "x"})
    assert again.status_code == 422


def test_a_cancelled_message_shows_why_it_was_cancelled_not_its_last_failure(client: TestClient, db: Database) -> None:
    dead = seed(db, key=CODE, state="dead", with_attempt=True)
    superseded = seed(db, key=CODE, state="cancelled", error="superseded by revision 3")
    console_login(client, ADMIN_KEY)
    confirm = client.get(f"/admin/messages/{dead}/cancel")
    answer = client.post(f"/admin/messages/{dead}/cancel",
                         data={"csrf_token": hidden(confirm.text, "csrf_token"), "reason": "trùng hồ sơ"})
    assert answer.status_code == 303
    listing = client.get("/admin/messages", params={"state": "cancelled"}).text
    row = listing.split(f'data-message-id="{dead}"')[1].split("</tr>")[0]
    assert "Đã hủy: trùng hồ sơ" in row and "DU_LIEU" not in row
    assert "Có lần nộp mới hơn (lần 3) thay thế." in listing.split(f'data-message-id="{superseded}"')[1]
    shown = client.get(f"/admin/messages/{dead}").text
    assert 'id="cancel-reason"' in shown and "trùng hồ sơ" in shown
    assert "Vì sao chưa gửi được" not in shown  # the 422 stays in the attempts table, not as the reason


def test_concurrent_failures_from_two_processes_are_all_counted(console_settings: Settings) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from gateway.admin.console_store import login_verdict, record_login_failure
    from gateway.admin.login_throttle import ThrottlePolicy

    policy = ThrottlePolicy(delay_after=100, lockout_after=100)
    # Two Database objects (two engines, two pools), as two gateway processes would have.
    first, second = create_database(console_settings.database_url), create_database(console_settings.database_url)
    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(lambda i: record_login_failure(first if i % 2 else second, "203.0.113.9", policy),
                          range(40)))
        assert record_login_failure(first, "203.0.113.9", policy).failures == 41
        assert login_verdict(second, "203.0.113.9", ThrottlePolicy(delay_after=41, delay_s=0.2)).delay_s == 0.2
    finally:
        first.dispose()
        second.dispose()
