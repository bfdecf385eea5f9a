"""The admin API (scope admin): transaction log, replay, cancel, audit, stats; on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from starlette.testclient import TestClient

from gateway.admin import service
from gateway.db import Database
from gateway.models import AuditEntry
from outbox.columns import utcnow
from tests.conftest import ADMIN_KEY, PROVINCE_KEY, READER_KEY
from tests.support.admin import audit_entries, count, seed, states
from tests.support.intake import auth

PROBLEM = "application/problem+json"
ADMIN = auth(ADMIN_KEY)
CODE_A = "000.00.12.H56-240115-0001"
CODE_B = "000.00.12.H56-240115-0002"


def fields_at_fault(response: Any) -> set[str]:
    assert response.headers["content-type"].startswith(PROBLEM), response.text
    return {e["field"] for e in response.json()["errors"]}


def test_every_admin_route_needs_the_admin_scope(client: TestClient, db: Database) -> None:
    dead = seed(db, state="dead")
    pending = seed(db, state="pending")
    routes: list[tuple[str, str, dict[str, Any] | None, int]] = [
        ("GET", "/api/v1/admin/messages", None, 200),
        ("GET", f"/api/v1/admin/messages/{dead}", None, 200),
        ("POST", f"/api/v1/admin/messages/{dead}/replay", None, 200),
        ("POST", "/api/v1/admin/messages/replay", {"all": True}, 200),
        ("POST", f"/api/v1/admin/messages/{pending}/cancel", {"reason": "test"}, 200),
        ("GET", "/api/v1/admin/audit", None, 200),
        ("GET", "/api/v1/admin/stats", None, 200),
    ]
    for method, path, body, _ok in routes:
        anonymous = client.request(method, path, json=body)
        assert anonymous.status_code == 401, (method, path)
        assert anonymous.headers["content-type"].startswith(PROBLEM)
        assert anonymous.headers["www-authenticate"].startswith("Bearer")
        for key in (PROVINCE_KEY, READER_KEY):
            refused = client.request(method, path, json=body, headers=auth(key))
            assert refused.status_code == 403, (method, path, key)
            assert refused.json()["code"] == "forbidden"
        assert client.request(method, path, json=body, headers=auth("not-a-key")).status_code == 401
    # Nothing was done by the refused calls: only the admin's own actions are in the audit log.
    assert {e.actor for e in audit_entries(db)} == set()
    for method, path, body, ok in routes:
        answer = client.request(method, path, json=body, headers=ADMIN)
        assert answer.status_code == ok, (method, path, answer.text)
    assert {e.actor for e in audit_entries(db)} == {"api:admin"}


def test_filters_and_cursor_pages_give_every_message_once(client: TestClient, db: Database) -> None:
    now = utcnow()
    old = now - timedelta(days=3)
    dead_a = [seed(db, key=CODE_A, state="dead", error=f"HTTP 422: DU_LIEU_KHONG_HOP_LE (maDonVi {i})")
              for i in range(7)]
    dead_old = [seed(db, key=CODE_B, state="dead", created_at=old, error="timeout") for _ in range(4)]
    callbacks = [seed(db, kind="province_callback", key=f"callback:{CODE_A}", state=s)
                 for s in ("done", "dead", "pending")]
    done = [seed(db, key=CODE_B, state="done") for _ in range(3)]

    def ids(**params: Any) -> list[int]:
        answer = client.get("/api/v1/admin/messages", params={"limit": 500, **params}, headers=ADMIN)
        assert answer.status_code == 200, answer.text
        return [m["id"] for m in answer.json()["items"]]

    every_dead = sorted([*dead_a, *dead_old, callbacks[1]], reverse=True)
    seen: list[int] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, Any] = {"state": "dead", "limit": 5}
        if cursor:
            params["cursor"] = cursor
        page = client.get("/api/v1/admin/messages", params=params, headers=ADMIN).json()
        seen += [m["id"] for m in page["items"]]
        assert all(m["state"] == "dead" for m in page["items"])
        pages += 1
        cursor = page["next"]
        if cursor is None:
            break
    assert seen == every_dead  # newest first, no duplicate, no gap
    assert pages == 3

    assert ids(kind="province_callback") == sorted(callbacks, reverse=True)
    assert set(ids(MaHoSo=CODE_A)) == {*dead_a, *callbacks}  # its deliveries and its callbacks
    assert set(ids(MaHoSo=CODE_B, state="done")) == set(done)
    assert set(ids(until="1d")) == set(dead_old)
    assert set(ids(since="1d", MaHoSo=CODE_B)) == set(done)
    assert set(ids(since=(old - timedelta(minutes=1)).isoformat(), until=(old + timedelta(minutes=1)).isoformat())) \
        == set(dead_old)
    assert set(ids(error="MADONVI")) == set(dead_a)  # case-insensitive (ASCII letters) on both engines
    assert ids(error="100%") == []  # a wildcard in the text is taken literally

    detail = client.get(f"/api/v1/admin/messages/{dead_a[0]}", headers=ADMIN).json()
    assert detail["attemptsLog"] == [] and detail["payload"]["revision"] == 1

    for params, field in (({"cursor": "garbage!"}, "cursor"), ({"cursor": "eyJpZCI6ICJ4In0"}, "cursor"),
                          ({"since": "yesterday"}, "since"), ({"until": "2026-13-40"}, "until"),
                          ({"limit": 501}, "limit"), ({"limit": 0}, "limit"), ({"state": "lost"}, "state")):
        refused = client.get("/api/v1/admin/messages", params=params, headers=ADMIN)
        assert refused.status_code == 422, params
        assert fields_at_fault(refused) == {field}
    missing = client.get("/api/v1/admin/messages/999999", headers=ADMIN)
    assert missing.status_code == 404 and missing.json()["code"] == "message_not_found"


def test_replay_one_dead_message_and_refuse_the_others(client: TestClient, db: Database) -> None:
    dead = seed(db, state="dead", with_attempt=True)
    done = seed(db, state="done")

    shown = client.get(f"/api/v1/admin/messages/{dead}", headers=ADMIN).json()
    [attempt] = shown["attemptsLog"]
    assert attempt["outcome"] == "dead" and attempt["httpStatus"] == 422
    assert attempt["errorClass"] == "PermanentMinistryError"

    answer = client.post(f"/api/v1/admin/messages/{dead}/replay", headers=ADMIN)
    assert answer.status_code == 200, answer.text
    assert answer.json()["replayed"] == 1
    assert answer.json()["message"]["state"] == "pending" and answer.json()["message"]["attempts"] == 0
    [entry] = audit_entries(db)
    assert (entry.actor, entry.action, entry.target["ids"], entry.result) == \
        ("api:admin", "replay", [dead], {"replayed": 1})

    for message_id, status, code in ((dead, 409, "not_replayable"), (done, 409, "not_replayable"),
                                     (424242, 404, "message_not_found")):
        refused = client.post(f"/api/v1/admin/messages/{message_id}/replay", headers=ADMIN)
        assert refused.status_code == status
        assert refused.headers["content-type"].startswith(PROBLEM)
        assert refused.json()["code"] == code
    assert len(audit_entries(db)) == 1  # refused actions leave no entry


def test_bulk_replay_by_filter_in_batches_is_safe_to_repeat(
    client: TestClient, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    deliveries = [seed(db, key=f"000.00.12.H56-240115-{i:04d}", state="dead") for i in range(7)]
    callbacks = [seed(db, kind="province_callback", key=f"callback:{CODE_A}", state="dead") for _ in range(2)]
    done = seed(db, state="done")

    for body, code in (({}, "filter_required"), ({"all": False}, "filter_required"),
                       ({"stat": "dead"}, "validation_failed"), ({"state": "done"}, "validation_failed"),
                       ({"since": "soon"}, "validation_failed")):
        refused = client.post("/api/v1/admin/messages/replay", json=body, headers=ADMIN)
        assert refused.status_code == 422, body
        assert refused.json()["code"] == code
    assert audit_entries(db) == []

    monkeypatch.setattr(service, "BATCH", 3)
    progress: list[tuple[int, int]] = []
    replayed = service.bulk_replay(db, service.MessageFilter(kind="deliver_dossier"), "os:tester",
                                   progress=lambda done, total: progress.append((done, total)))
    assert replayed == 7
    assert progress == [(3, 7), (6, 7), (7, 7)]
    entries = audit_entries(db)
    assert [e.action for e in entries] == ["bulk_replay"] * 3  # one per batch, in its transaction
    assert sorted(i for e in entries for i in e.target["ids"]) == deliveries
    assert entries[0].target["filter"] == {"kind": "deliver_dossier"}

    again = client.post("/api/v1/admin/messages/replay", json={"kind": "deliver_dossier"}, headers=ADMIN)
    assert again.json() == {"replayed": 0}  # nothing dead is left for that filter
    everything = client.post("/api/v1/admin/messages/replay", json={"all": True}, headers=ADMIN)
    assert everything.json() == {"replayed": 2}
    assert set(states(db, [*deliveries, *callbacks]).values()) == {"pending"}
    assert states(db, [done]) == {done: "done"}
    assert client.post("/api/v1/admin/messages/replay", json={"all": True}, headers=ADMIN).json() == {"replayed": 0}
    assert [e.actor for e in audit_entries(db)][-1] == "api:admin"
    assert len(audit_entries(db)) == 4  # the no-op replays changed nothing and wrote nothing


def test_cancel_with_a_reason_then_replay_brings_it_back(client: TestClient, db: Database) -> None:
    pending = seed(db, state="pending")
    done = seed(db, state="done")

    assert client.post(f"/api/v1/admin/messages/{pending}/cancel", json={}, headers=ADMIN).status_code == 422
    answer = client.post(f"/api/v1/admin/messages/{pending}/cancel", json={"reason": "hồ sơ nộp nhầm"},
                         headers=ADMIN)
    assert answer.status_code == 200, answer.text
    assert answer.json()["message"]["state"] == "cancelled"
    assert answer.json()["message"]["lastError"] == "cancelled: hồ sơ nộp nhầm"
    [entry] = audit_entries(db)
    assert (entry.action, entry.target, entry.result) == \
        ("cancel", {"ids": [pending], "reason": "hồ sơ nộp nhầm"}, {"cancelled": 1})

    for message_id, status in ((pending, 409), (done, 409), (777777, 404)):
        refused = client.post(f"/api/v1/admin/messages/{message_id}/cancel", json={"reason": "x"}, headers=ADMIN)
        assert refused.status_code == status
    assert len(audit_entries(db)) == 1

    assert client.post(f"/api/v1/admin/messages/{pending}/replay", headers=ADMIN).status_code == 200
    assert states(db, [pending]) == {pending: "pending"}


def test_an_action_and_its_audit_entry_commit_together(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    dead = seed(db, state="dead")
    pending = seed(db, state="pending")
    real_audit = service.audit

    def audit_then_fail(*args: Any, **kwargs: Any) -> None:
        real_audit(*args, **kwargs)
        raise RuntimeError("the audit write failed")

    monkeypatch.setattr(service, "audit", audit_then_fail)
    with pytest.raises(RuntimeError):
        service.replay(db, [dead], "os:tester")
    with pytest.raises(RuntimeError):
        service.bulk_replay(db, service.MessageFilter(state="dead"), "os:tester")
    with pytest.raises(RuntimeError):
        service.cancel(db, pending, "os:tester", "test")
    assert states(db, [dead, pending]) == {dead: "dead", pending: "pending"}  # every action rolled back
    assert count(db, AuditEntry) == 0


def test_stats_and_the_audit_log_pages(client: TestClient, db: Database) -> None:
    ids = [seed(db, state="dead") for _ in range(3)]
    seed(db, state="pending", created_at=utcnow() - timedelta(minutes=5))
    seed(db, kind="province_callback", key=f"callback:{CODE_A}", state="done")
    for message_id in ids:
        assert client.post(f"/api/v1/admin/messages/{message_id}/replay", headers=ADMIN).status_code == 200

    stats = client.get("/api/v1/admin/stats", headers=ADMIN).json()
    assert stats["byState"] == {"pending": 4, "done": 1}
    assert stats["byKind"]["province_callback"] == {"done": 1}
    assert stats["oldestUndeliveredAgeS"] >= 299
    assert set(stats["oldestUndeliveredAgeSByKind"]) == {"deliver_dossier"}
    assert stats["ministryCircuit"] == "not_running_here" and stats["circuits"] == {}

    first = client.get("/api/v1/admin/audit", params={"limit": 2}, headers=ADMIN).json()
    assert [e["target"]["ids"] for e in first["items"]] == [[ids[2]], [ids[1]]]
    rest = client.get("/api/v1/admin/audit", params={"limit": 2, "before": first["next"]}, headers=ADMIN).json()
    assert [e["target"]["ids"] for e in rest["items"]] == [[ids[0]]] and rest["next"] is None
    assert all(e["actor"] == "api:admin" and e["action"] == "replay" for e in first["items"] + rest["items"])
    assert client.get("/api/v1/admin/audit", params={"action": "cancel"}, headers=ADMIN).json()["items"] == []
