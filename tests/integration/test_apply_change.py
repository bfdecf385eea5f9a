"""One change of the ministry feed applied to a stored dossier: unknown statuses, older changes, repeats."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import structlog
from sqlalchemy import select

from gateway.callbacks.events import ANNOUNCE
from gateway.db import Database, create_database
from gateway.models import Dossier, DossierEvent
from gateway.reconcile.apply import apply_change
from gateway.workflow import Step
from outbox.columns import utcnow
from outbox.models import OutboxMessage


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = create_database(db_url)
    with database.session(write=True) as session:
        session.add(Dossier(id="d1", ma_ho_so="000.00.12.H56-240115-0001", procedure_code="1.001776",
                            current_revision=1, delivered_revision=1, delivery_state="delivered",
                            ministry_id="HS-1", ministry_status="CHO_TIEP_NHAN", national_status=2,
                            announced=True, client_name="province", created_at=utcnow(), updated_at=utcnow()))
    yield database
    database.dispose()


def change(status: str, at: str, **extra: Any) -> dict[str, Any]:
    return {"id": "HS-1", "maHoSoTinh": "000.00.12.H56-240115-0001", "trangThai": status, "thoiDiem": at, **extra}


def callbacks(db: Database) -> list[dict[str, Any]]:
    with db.session() as session:
        rows = session.execute(select(OutboxMessage).order_by(OutboxMessage.id)).scalars().all()  # type: ignore[arg-type]
        return [r.payload["body"] for r in rows if r.kind == "province_callback"]


def dossier(db: Database) -> Dossier:
    with db.session() as session:
        found = session.get(Dossier, "d1")
        assert found is not None
        session.expunge(found)
        return found


def test_an_unknown_ministry_status_is_recorded_warned_and_sent_with_a_null_national_status(db: Database) -> None:
    with structlog.testing.capture_logs() as logs, db.session(write=True) as session:
        assert apply_change(session, change("TAM_DUNG_XU_LY", "2024-01-16T09:00:00+07:00"), notify=True) == "applied"
    assert any(entry["event"] == "ministry_status_unknown" and entry["log_level"] == "warning" for entry in logs)
    assert dossier(db).ministry_status == "TAM_DUNG_XU_LY"
    assert dossier(db).national_status is None
    [body] = callbacks(db)
    assert (body["SuKien"], body["TrangThaiBo"], body["TrangThaiHoSo"]) == (
        "CAP_NHAT_TRANG_THAI", "TAM_DUNG_XU_LY", None)


def test_the_same_change_twice_is_applied_once(db: Database) -> None:
    for _ in range(2):
        with db.session(write=True) as session:
            outcome = apply_change(session, change("DA_TIEP_NHAN", "2024-01-16T09:00:00+07:00", canBo="A"),
                                   notify=True)
    assert outcome == "duplicate"
    assert len(callbacks(db)) == 1
    with db.session() as session:
        assert len(session.execute(select(DossierEvent)).scalars().all()) == 1


def test_an_older_change_is_recorded_but_does_not_overwrite_a_newer_status(db: Database) -> None:
    with db.session(write=True) as session:
        apply_change(session, change("DANG_THAM_DINH", "2024-01-17T09:00:00+07:00"), notify=False)
        apply_change(session, change("DA_TIEP_NHAN", "2024-01-16T09:00:00+07:00"), notify=False)
    assert dossier(db).ministry_status == "DANG_THAM_DINH"
    assert callbacks(db) == []  # callbacks off: none enqueued


def test_a_change_for_an_unknown_dossier_is_kept_and_skipped(db: Database) -> None:
    with db.session(write=True) as session:
        other = {**change("DA_TIEP_NHAN", "2024-01-16T09:00:00+07:00"), "id": "HS-9", "maHoSoTinh": "X-240101-0001"}
        assert apply_change(session, other, notify=True) == "unknown_dossier"
    assert callbacks(db) == []


def test_the_feed_first_announces_with_the_same_event_id_the_delivery_would_have_used(db: Database) -> None:
    """The reconciler finishing the announce step for a dossier whose delivery answer is not recorded yet:
    the DA_CHUYEN_BO's EventId is the step's, derived from the dossier, as the delivery's would be."""
    with db.session(write=True) as session:
        session.add(Dossier(id="d2", ma_ho_so="000.00.12.H56-240115-0002", procedure_code="1.001776",
                            current_revision=1, delivery_state="delivering", client_name="province",
                            created_at=utcnow(), updated_at=utcnow()))
    with db.session(write=True) as session:
        feed = {"id": "HS-2", "maHoSoTinh": "000.00.12.H56-240115-0002", "trangThai": "DA_TIEP_NHAN",
                "thoiDiem": "2024-01-16T09:00:00+07:00"}
        assert apply_change(session, feed, notify=True) == "applied"
    announce, status = callbacks(db)
    assert (announce["SuKien"], announce["MaHoSoBo"]) == ("DA_CHUYEN_BO", "HS-2")
    assert announce["EventId"] == Step("d2", ANNOUNCE).event_id
    assert status["SuKien"] == "CAP_NHAT_TRANG_THAI" and status["EventId"] != announce["EventId"]
