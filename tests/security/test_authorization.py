"""The authorization matrix, for EVERY route of the app (a new route must be added to the table here).

/api/v1/…: no key → 401 with WWW-Authenticate, unknown key → 401, a key without the scope → 403, the
right scope → neither (``monitor``: every admin read route, no action). /admin console pages: no session →
redirect to the login page; a monitor's session → every page, and 403 for every action. /health and
/metrics are public. Also: keys given as ``sha256=<hex>``, rotation (two keys of one client), and the
constant-time comparison against every configured key.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.routing import iter_route_contexts
from starlette.testclient import TestClient

from gateway import auth as auth_module
from gateway.app import create_app
from gateway.settings import Settings, parse_api_keys
from tests.conftest import ADMIN_KEY, MONITOR_KEY, PROVINCE_KEY, READER_KEY
from tests.support.admin import console_login, hidden
from tests.support.intake import auth

PROBLEM = "application/problem+json"
KEY_SCOPES = {PROVINCE_KEY: {"dossiers:write", "dossiers:read"}, READER_KEY: {"dossiers:read"}, ADMIN_KEY: {"admin"},
              MONITOR_KEY: {"monitor"}}
READ = "admin|monitor"  # the admin API's read routes: an administrator or the read-only monitor

# (method, path template) → the scopes that may call it ("a|b": either). Every /api/v1 route must be listed.
API_ROUTES: dict[tuple[str, str], str] = {
    ("POST", "/api/v1/dossiers"): "dossiers:write",
    ("GET", "/api/v1/dossiers"): "dossiers:read",
    ("GET", "/api/v1/dossiers/{ma_ho_so}"): "dossiers:read",
    ("GET", "/api/v1/admin/messages"): READ,
    ("GET", "/api/v1/admin/messages/{message_id}"): READ,
    ("POST", "/api/v1/admin/messages/replay"): "admin",
    ("POST", "/api/v1/admin/messages/{message_id}/replay"): "admin",
    ("POST", "/api/v1/admin/messages/{message_id}/cancel"): "admin",
    ("GET", "/api/v1/admin/audit"): READ,
    ("GET", "/api/v1/admin/stats"): READ,
    ("GET", "/api/v1/admin/identity-mismatches"): READ,
    ("POST", "/api/v1/admin/dossiers/{ma_ho_so}/release"): "admin",
    ("GET", "/api/v1/admin/delivery-conflicts"): READ,
    ("POST", "/api/v1/admin/dossiers/{ma_ho_so}/conflict"): "admin",
    ("POST", "/api/v1/death-notices"): "dossiers:write",
    ("GET", "/api/v1/death-notices/{ma_ho_so_lien_thong}"): "dossiers:read",
    ("GET", "/api/v1/admin/payment-adjustments"): READ,
    ("GET", "/api/v1/admin/dossiers/{ma_ho_so}/timeline"): READ,
    ("GET", "/api/v1/admin/overdue"): READ,
}
# Routes open to anyone (the console's login form itself, health, metrics, the API description).
PUBLIC_ROUTES = {
    ("GET", "/health/live"), ("GET", "/health/ready"), ("GET", "/metrics"),
    ("GET", "/openapi.json"), ("GET", "/docs"), ("GET", "/docs/oauth2-redirect"), ("GET", "/redoc"),
    ("GET", "/admin/login"), ("POST", "/admin/login"), ("GET", "/admin/static"),
}
BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/api/v1/admin/messages/replay"): {"all": True},
    ("POST", "/api/v1/admin/messages/{message_id}/cancel"): {"reason": "test"},
    ("POST", "/api/v1/admin/dossiers/{ma_ho_so}/release"): {"reason": "test"},
    ("POST", "/api/v1/admin/dossiers/{ma_ho_so}/conflict"): {"action": "accept", "reason": "test"},
}
PATH_VALUES = {"ma_ho_so": "000.00.12.H56-240115-0001", "message_id": "1",
               "ma_ho_so_lien_thong": "000.00.12.H56-241002-0007"}


def all_routes(settings: Settings) -> list[tuple[str, str]]:
    """Every (method, path) the app answers, included routers and mounts flattened."""
    found: list[tuple[str, str]] = []
    for context in iter_route_contexts(create_app(settings).routes):
        methods = getattr(context, "methods", None) or {"GET"}
        found.extend((method, context.path) for method in sorted(methods) if method != "HEAD")
    return found


def concrete(path: str) -> str:
    """A path template with its parameters filled in."""
    return re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: PATH_VALUES[m.group(1)], path)


@pytest.fixture
def client(sqlite_settings: Settings) -> Iterator[TestClient]:
    """The app (no worker), redirects not followed."""
    with TestClient(create_app(sqlite_settings), follow_redirects=False) as http:
        yield http


def test_every_route_is_classified(sqlite_settings: Settings) -> None:
    routes = all_routes(sqlite_settings)
    assert len(routes) > 20
    unclassified = [
        r for r in routes
        if r not in API_ROUTES and r not in PUBLIC_ROUTES and not r[1].startswith("/admin")
    ]
    assert unclassified == [], "new route: add it to API_ROUTES or PUBLIC_ROUTES of this test"
    api = {r for r in routes if r[1].startswith("/api/")}
    assert api == set(API_ROUTES), "every /api route needs an entry (its scope) in API_ROUTES"


def test_api_matrix_for_every_route(sqlite_settings: Settings, client: TestClient) -> None:
    api = [r for r in all_routes(sqlite_settings) if r[1].startswith("/api/")]
    assert api
    for method, template in api:
        allowed = set(API_ROUTES[(method, template)].split("|"))
        path, body = concrete(template), BODIES.get((method, template))
        anonymous = client.request(method, path, json=body)
        assert anonymous.status_code == 401, (method, path)
        assert anonymous.headers["content-type"].startswith(PROBLEM)
        assert anonymous.headers["www-authenticate"].startswith("Bearer")
        for header in ({"Authorization": "Bearer not-a-key"}, {"Authorization": f"Basic {PROVINCE_KEY}"},
                       {"Authorization": "Bearer "}, {"Authorization": f"Bearer {ADMIN_KEY}x"}):
            unknown = client.request(method, path, json=body, headers=header)
            assert unknown.status_code == 401, (method, path, header)
            assert unknown.headers["content-type"].startswith(PROBLEM)
        for key, scopes in KEY_SCOPES.items():
            answer = client.request(method, path, json=body, headers=auth(key))
            if allowed & scopes:
                assert answer.status_code not in (401, 403), (method, path, key, answer.text)
            else:
                assert answer.status_code == 403, (method, path, key)
                assert answer.headers["content-type"].startswith(PROBLEM)
                assert answer.json()["code"] == "forbidden"


def test_console_pages_need_a_session(sqlite_settings: Settings, client: TestClient) -> None:
    console = [r for r in all_routes(sqlite_settings)
               if r[1].startswith("/admin") and r not in PUBLIC_ROUTES]
    assert console
    for method, template in console:
        path = concrete(template)
        # Even a valid admin API key is no session: the console answers with the login page.
        for headers in ({}, auth(ADMIN_KEY)):
            answer = client.request(method, path, headers=headers)
            if method == "GET":
                assert answer.status_code in (302, 303, 307), (method, path, answer.status_code)
                assert "/admin/login" in answer.headers["location"]
            else:  # a form post without session (and without CSRF token) is refused or sent to login
                assert answer.status_code in (302, 303, 307, 401, 403), (method, path, answer.status_code)
                if answer.status_code in (302, 303, 307):
                    assert "/admin/login" in answer.headers["location"]


# Console posts that anyone logged in may make; every other console post is an action, for admin only.
CONSOLE_POSTS_FOR_EVERY_ROLE = {("POST", "/admin/logout")}


def test_console_matrix_a_monitor_reads_every_page_and_is_refused_every_action(
        sqlite_settings: Settings, client: TestClient) -> None:
    console = [r for r in all_routes(sqlite_settings)
               if r[1].startswith("/admin") and r not in PUBLIC_ROUTES and r not in CONSOLE_POSTS_FOR_EVERY_ROLE]
    assert console_login(client, MONITOR_KEY).status_code == 303
    csrf = hidden(client.get("/admin").text, "csrf_token")
    for method, template in console:
        path = concrete(template)
        if method == "GET":
            answer = client.get(path)
            assert answer.status_code in (200, 404), (path, answer.status_code)  # 404: the sample id is not there
            assert 'id="user-role">giám sát' in answer.text, path
        else:
            answer = client.request(method, path, data={"csrf_token": csrf, "reason": "test", "action": "accept"})
            assert answer.status_code == 403, (method, path, answer.status_code)
            assert "Vai trò giám sát (monitor) chỉ được xem" in answer.text, path


def test_health_and_metrics_are_public(client: TestClient) -> None:
    for path in ("/health/live", "/health/ready", "/metrics"):
        assert client.get(path).status_code == 200, path


def _client_with_keys(settings: Settings, keys: str) -> TestClient:
    return TestClient(create_app(Settings(**{**settings.model_dump(), "api_keys": keys})), follow_redirects=False)


def test_a_key_given_as_its_sha256_works(sqlite_settings: Settings) -> None:
    plain = "a-key-that-never-sits-in-the-environment"
    digest = hashlib.sha256(plain.encode()).hexdigest()
    with _client_with_keys(sqlite_settings, f"province:sha256={digest}:dossiers:read") as http:
        assert http.get("/api/v1/dossiers", headers=auth(plain)).status_code == 200
        # The hash itself is not a key.
        assert http.get("/api/v1/dossiers", headers=auth(digest)).status_code == 401
        assert http.get("/api/v1/dossiers", headers=auth(f"sha256={digest}")).status_code == 401
    with pytest.raises(ValueError, match="64 hex"):
        parse_api_keys("p:sha256=abcd:dossiers:read")


def test_key_rotation_two_keys_for_one_client(sqlite_settings: Settings) -> None:
    new_digest = hashlib.sha256(b"new-key").hexdigest()
    keys = f"province:old-key:dossiers:read,province:sha256={new_digest}:dossiers:read"
    with _client_with_keys(sqlite_settings, keys) as http:
        for key in ("old-key", "new-key"):
            assert http.get("/api/v1/dossiers", headers=auth(key)).status_code == 200, key
        assert http.get("/api/v1/dossiers", headers=auth("other-key")).status_code == 401
    # Once the old entry is removed, only the new key works.
    with _client_with_keys(sqlite_settings, f"province:sha256={new_digest}:dossiers:read") as http:
        assert http.get("/api/v1/dossiers", headers=auth("old-key")).status_code == 401
        assert http.get("/api/v1/dossiers", headers=auth("new-key")).status_code == 200


def test_keys_are_compared_in_constant_time_against_every_key(monkeypatch: pytest.MonkeyPatch) -> None:
    clients = parse_api_keys("a:key-a:admin,b:key-b:dossiers:read,c:key-c:dossiers:write")
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(auth_module.hmac, "compare_digest", spy)
    for token, expected in (("key-a", "a"), ("key-c", "c"), ("nope", None)):
        calls.clear()
        principal = auth_module.authenticate(f"Bearer {token}", clients)
        assert (principal.name if principal else None) == expected
        # Every configured key is compared (no early exit on the first match), always with
        # hmac.compare_digest, and on fixed-length digests (so the key's length leaks nothing).
        assert [b for _, b in calls] == [c.key_sha256 for c in clients]
        assert all(len(a) == len(b) == 32 for a, b in calls)
