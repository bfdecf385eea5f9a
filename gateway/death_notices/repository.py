"""The sole owner of the ``death_notice`` table."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm.attributes import flag_modified
from sqlmodel import Session

from gateway.models import DeathNotice
from outbox.columns import utcnow


def find(session: Session, code: str) -> DeathNotice | None:
    """The notice ``MaHoSoLienThong`` = ``code``, if any."""
    return session.execute(
        select(DeathNotice).where(DeathNotice.ma_ho_so_lien_thong == code)  # type: ignore[arg-type]
    ).scalar_one_or_none()


def create(session: Session, *, code: str, fingerprint: str, content: dict[str, Any], files: list[dict[str, Any]],
           client_name: str) -> DeathNotice:
    """A new notice, its steps all pending (flushed: its id is known)."""
    now = utcnow()
    notice = DeathNotice(ma_ho_so_lien_thong=code, fingerprint=fingerprint, content=content, files=files,
                         steps={"lookup": {"state": "pending"}, "stop": {"state": "pending"},
                                "funeral_dossier": {"state": "pending"}},
                         client_name=client_name, created_at=now, updated_at=now)
    session.add(notice)
    session.flush()
    return notice


def lock(session: Session, notice_id: str) -> DeathNotice | None:
    """The notice, locked (on PostgreSQL) for the step that records its outcome."""
    return session.execute(
        select(DeathNotice).where(DeathNotice.id == notice_id).with_for_update()  # type: ignore[arg-type]
    ).scalar_one_or_none()


def get(session: Session, notice_id: str) -> DeathNotice | None:
    """The notice, read only."""
    return session.get(DeathNotice, notice_id)


def set_step(session: Session, notice: DeathNotice, name: str, value: dict[str, Any], at: datetime | None = None,
             *, dossier_id: str | None = None) -> None:
    """Record what step ``name`` did (replacing what it said before)."""
    now = at or utcnow()
    notice.steps = {**notice.steps, name: {**value, "at": now.isoformat()}}
    flag_modified(notice, "steps")
    if dossier_id is not None:
        notice.dossier_id = dossier_id
    notice.updated_at = now
    session.add(notice)
    session.flush()


def referenced_blobs(session: Session, digests: Collection[str]) -> set[str]:
    """Those of ``digests`` that a notice's files name (read in pages: the files are a JSON list per notice)."""
    wanted = set(digests)
    found: set[str] = set()
    if not wanted:
        return found
    rows = session.execute(select(DeathNotice.files).execution_options(yield_per=500))  # type: ignore[call-overload]
    for files in rows.scalars():
        found.update(f["sha256"] for f in files or () if isinstance(f, dict) and f.get("sha256") in wanted)
    return found
