"""A page of the ministry feed applied at once leaves exactly what applying its changes one by one leaves."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import delete, select
from sqlmodel import col

from gateway.db import Database, create_database
from gateway.models import Dossier, DossierEvent, MinistryChange
from gateway.reconcile.apply import apply_change, apply_changes
from outbox.columns import utcnow
from outbox.models import OutboxMessage

DECISION = {"so": "12/QĐ-UBND", "ngay": "2024-02-01", "mucHuongThang": 500000, "thangBatDauHuong": "2024-02"}


def _change(ministry_id: str, code: str | None, status: str, at: str, **extra: Any) -> dict[str, Any]:
    change: dict[str, Any] = {"id": ministry_id, "trangThai": status, "thoiDiem": at, **extra}
    if code is not None:
        change["maHoSoTinh"] = code
    return change


PRE_RECORDED = _change("HS-1", "C-1", "DA_TIEP_NHAN", "2024-01-15T09:00:00+07:00", canBo="A")
PAGE = [
    PRE_RECORDED,  # recorded before the page: a duplicate
    _change("HS-1", "C-1", "DANG_THAM_DINH", "2024-01-16T09:00:00+07:00"),
    _change("HS-1", "C-1", "DANG_THAM_DINH", "2024-01-16T09:00:00+07:00"),  # repeated within the page
    {"id": "HS-1", "trangThai": "DA_PHE_DUYET"},  # malformed: no thoiDiem
    _change("HS-1", "C-1", "DA_PHE_DUYET", "2024-01-20T09:00:00+07:00", quyetDinh=DECISION),
    _change("HS-1", "C-1", "DA_TIEP_NHAN", "2024-01-14T09:00:00+07:00", canBo="B"),  # older: recorded only
    _change("HS-9", "C-9", "DA_TIEP_NHAN", "2024-01-16T09:00:00+07:00"),  # unknown dossier
    _change("HS-2", "C-2", "DA_TIEP_NHAN", "2024-01-16T10:00:00+07:00", canBo="C"),  # known by code only
    _change("HS-2", None, "YEU_CAU_BO_SUNG", "2024-01-17T10:00:00+07:00", lyDo="Thiếu giấy"),  # by the id just set
    _change("HS-3", "C-3", "CHO_TIEP_NHAN", "2024-01-16T11:00:00+07:00"),  # delivered: no event, no callback
    _change("HS-4", "C-4", "TAM_DUNG_XU_LY", "2024-01-16T12:00:00+07:00"),  # a status nobody told us about
]


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = create_database(db_url)
    yield database
    database.dispose()


def _start(db: Database) -> None:
    """Four dossiers (one delivered without the ministry's answer), one change already recorded."""
    now = utcnow()
    with db.session(write=True) as session:
        for table in (OutboxMessage, DossierEvent, MinistryChange, Dossier):
            session.execute(delete(table))
        for n, ministry_id, announced in ((1, "HS-1", True), (2, None, False), (3, "HS-3", True), (4, "HS-4", True)):
            session.add(Dossier(id=f"d{n}", ma_ho_so=f"C-{n}", procedure_code="1.001776", current_revision=1,
                                delivered_revision=1, delivery_state="delivered", ministry_id=ministry_id,
                                ministry_status="CHO_TIEP_NHAN" if ministry_id else None,
                                national_status=2 if ministry_id else None, announced=announced,
                                client_name="province", created_at=now, updated_at=now))
    with db.session(write=True) as session:
        assert apply_change(session, PRE_RECORDED, notify=True) == "applied"


def _state(db: Database) -> dict[str, Any]:
    """Everything applying changes writes, without what differs by nature (ids, clocks, fresh EventIds)."""
    with db.session() as session:
        dossiers = [d.model_dump(exclude={"created_at", "updated_at"})
                    for d in session.execute(select(Dossier).order_by(col(Dossier.id))).scalars()]
        changes = [(c.change_key, c.ministry_id, c.ma_ho_so, c.status, c.at, c.raw, c.dossier_id)
                   for c in session.execute(select(MinistryChange).order_by(col(MinistryChange.change_key))).scalars()]
        events = [(e.dossier_id, e.kind, e.revision, e.detail, e.note, e.at)
                  for e in session.execute(select(DossierEvent).order_by(col(DossierEvent.id))).scalars()]
        callbacks = [(m.kind, m.key, m.state, m.attempts, m.last_error_detail,
                      {k: v for k, v in m.payload["body"].items() if k != "EventId"})
                     for m in session.execute(select(OutboxMessage).order_by(col(OutboxMessage.id))).scalars()]
    return {"dossiers": dossiers, "changes": changes, "events": events, "callbacks": callbacks}


def test_a_page_at_once_equals_its_changes_one_by_one(db: Database) -> None:
    _start(db)
    with db.session(write=True) as session:
        one_by_one = [apply_change(session, change, notify=True) for change in PAGE]
    expected = _state(db)

    _start(db)
    with db.session(write=True) as session:
        at_once = apply_changes(session, PAGE, notify=True)
    assert at_once == one_by_one == [
        "duplicate", "applied", "duplicate", "malformed", "applied", "applied", "unknown_dossier", "applied",
        "applied", "applied", "applied"]
    assert _state(db) == expected

    moved = {d["id"]: d for d in expected["dossiers"]}
    assert (moved["d1"]["ministry_status"], moved["d1"]["decision_number"]) == ("DA_PHE_DUYET", "12/QĐ-UBND")
    assert (moved["d2"]["ministry_id"], moved["d2"]["ministry_status"]) == ("HS-2", "YEU_CAU_BO_SUNG")
    assert [c[5]["SuKien"] for c in expected["callbacks"] if c[1] == "callback:C-2"] == [
        "DA_CHUYEN_BO", "CAP_NHAT_TRANG_THAI", "CAP_NHAT_TRANG_THAI"]
    assert not [e for e in expected["events"] if e[0] == "d3"]


def test_a_page_applied_again_changes_nothing(db: Database) -> None:
    _start(db)
    with db.session(write=True) as session:
        apply_changes(session, PAGE, notify=True)
    before = _state(db)
    with db.session(write=True) as session:
        again = apply_changes(session, PAGE, notify=True)
    assert set(again) == {"duplicate", "malformed"}
    assert _state(db) == before


def test_two_dossiers_sharing_a_ministry_id_fail_as_a_lookup_of_one_would(db: Database) -> None:
    _start(db)
    with db.session(write=True) as session:
        session.execute(Dossier.__table__.update().where(col(Dossier.id) == "d4").values(ministry_id="HS-1"))  # type: ignore[attr-defined]
    with pytest.raises(Exception, match=r"ministry id HS-1|Multiple rows"), db.session(write=True) as session:
        apply_changes(session, [PAGE[1]], notify=True)
