"""Outbox rows in any state, written straight into the database, for the admin tests."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlmodel import col

from gateway.db import Database
from gateway.models import AuditEntry
from outbox.columns import utcnow
from outbox.models import OutboxAttempt, OutboxMessage

FINISHED = ("done", "dead", "cancelled")


def seed(db: Database, *, kind: str = "deliver_dossier", key: str = "000.00.12.H56-240115-0001",
         state: str = "dead", error: str | None = None, created_at: datetime | None = None,
         finished_at: datetime | None = None, attempts: int = 1, with_attempt: bool = False) -> int:
    """One message; returns its id. Dead messages get a default error; ``with_attempt`` logs one attempt."""
    now = utcnow()
    created = created_at or now
    with db.session(write=True) as session:
        message = OutboxMessage(
            kind=kind, key=key, payload={"dossier_id": "d" * 32, "revision": 1}, state=state, attempts=attempts,
            next_attempt_at=created, created_at=created, updated_at=created,
            last_error=error if error is not None else ("HTTP 422: DU_LIEU_KHONG_HOP_LE" if state == "dead" else None),
            finished_at=finished_at or (created if state in FINISHED else None),
        )
        session.add(message)
        session.flush()
        if with_attempt:
            session.add(OutboxAttempt(message_id=message.id, attempt=1, owner="test", started_at=created,
                                      duration_ms=12, outcome="dead" if state == "dead" else "done",
                                      error_class="PermanentMinistryError" if state == "dead" else None,
                                      error=message.last_error, detail={"status": 422} if state == "dead" else None))
        return int(message.id or 0)


def states(db: Database, ids: list[int]) -> dict[int, str]:
    """The state of each message."""
    with db.session() as session:
        rows = session.execute(select(col(OutboxMessage.id), col(OutboxMessage.state))
                               .where(col(OutboxMessage.id).in_(ids))).all()
    return {int(i): s for i, s in rows}


def audit_entries(db: Database) -> list[AuditEntry]:
    """Every audit entry, oldest first."""
    with db.session() as session:
        return list(session.execute(select(AuditEntry).order_by(col(AuditEntry.id))).scalars())


def count(db: Database, model: Any) -> int:
    """Rows of a table."""
    with db.session() as session:
        return int(session.execute(select(func.count()).select_from(model)).scalar_one())


def hidden(html: str, name: str) -> str:
    """The value of a page's hidden form field ``name``."""
    found = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert found, f"no hidden field {name}"
    return found.group(1)


def console_login(client: Any, key: str, **headers: str) -> Any:
    """Post ``key`` to the console's login form (fetched first, for its token); the answer, not followed."""
    page = client.get("/admin/login", headers=headers)
    assert page.status_code == 200, page.status_code
    return client.post("/admin/login", data={"api_key": key, "login_token": hidden(page.text, "login_token")},
                       headers=headers)
