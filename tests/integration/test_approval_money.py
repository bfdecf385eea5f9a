"""An approval applied from the feed: its amount checked, its months owed computed, the back-payment step
enqueued in the same transaction, QuyetDinh.TruyLinh in the callback (issue 17), on both engines."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from starlette.testclient import TestClient

from adapters.province.samples import sample_dossier
from gateway.db import Database
from gateway.models import Dossier, DossierEvent
from gateway.reconcile.apply import apply_change
from outbox.models import OutboxMessage
from tests.conftest import PROVINCE_KEY
from tests.support.intake import post_json, sample_files

CODE = sample_dossier()["MaHoSo"]
DECISION = {"so": "123/QĐ-UBND", "ngay": "2024-09-05", "mucHuongThang": 500_000, "thangBatDauHuong": "2024-05"}


def delivered(client: TestClient, db: Database) -> None:
    dossier = sample_dossier()
    assert post_json(client, PROVINCE_KEY, dossier, sample_files(dossier)).status_code == 202
    with db.session(write=True) as session:
        session.execute(update(Dossier).values(delivered_revision=1, delivery_state="delivered", ministry_id="HS-9",
                                               ministry_status="DANG_THAM_DINH", announced=True))
        session.execute(update(OutboxMessage).values(state="done"))


def approve(db: Database, decision: dict[str, Any] | None = None, **extra: Any) -> str:
    change = {"id": "HS-9", "maHoSoTinh": CODE, "trangThai": "DA_PHE_DUYET", "thoiDiem": "2024-09-06T09:00:00+07:00",
              "quyetDinh": decision or DECISION, **extra}
    with db.session(write=True) as session:
        return apply_change(session, change, notify=True)


def messages(db: Database, kind: str) -> list[OutboxMessage]:
    with db.session() as session:
        return list(session.execute(select(OutboxMessage).where(OutboxMessage.kind == kind)  # type: ignore[arg-type]
                                    .where(OutboxMessage.state == "pending")).scalars())  # type: ignore[arg-type]


def test_months_owed_are_sent_once_and_told_to_the_province(client: TestClient, db: Database) -> None:
    delivered(client, db)
    assert approve(db, doiTuongId="DT-9", thangChiTraDauTien="2024-09") == "applied"
    assert approve(db, doiTuongId="DT-9", thangChiTraDauTien="2024-09") == "duplicate"  # the feed repeats it
    [step] = messages(db, "send_back_payment")
    assert step.key == CODE
    assert step.payload["beneficiary_id"] == "DT-9" and step.payload["first_paid_month"] == "2024-09"
    [body] = [m.payload["body"] for m in messages(db, "province_callback")]
    assert body["QuyetDinh"]["TruyLinh"] == {
        "TuThang": "2024-05", "DenThang": "2024-08", "SoTien": 1_720_000,
        "ChiTiet": [{"Thang": "2024-05", "SoTien": 360_000}, {"Thang": "2024-06", "SoTien": 360_000},
                    {"Thang": "2024-07", "SoTien": 500_000}, {"Thang": "2024-08", "SoTien": 500_000}]}
    assert "Lưu ý" not in (body["NoiDung"] or "")  # 500,000 is the amount of 2024-09


def test_an_approval_with_nothing_owed_says_null_and_starts_no_step(client: TestClient, db: Database) -> None:
    delivered(client, db)
    approve(db, doiTuongId="DT-9", thangChiTraDauTien="2024-05")
    assert messages(db, "send_back_payment") == []
    [body] = [m.payload["body"] for m in messages(db, "province_callback")]
    assert body["QuyetDinh"]["TruyLinh"] is None


def test_a_wrong_monthly_amount_is_recorded_and_reported_never_replaced(client: TestClient, db: Database) -> None:
    delivered(client, db)
    approve(db, {**DECISION, "mucHuongThang": 360_000}, doiTuongId="DT-9", thangChiTraDauTien="2024-09")
    [body] = [m.payload["body"] for m in messages(db, "province_callback")]
    assert "360,000" in body["NoiDung"] and "500,000" in body["NoiDung"]
    assert body["QuyetDinh"]["MucHuongThang"] == 360_000  # the ministry's word, as it said it
    with db.session() as session:
        [checked] = session.execute(select(DossierEvent).where(
            DossierEvent.kind == "decision_checked")).scalars().all()  # type: ignore[arg-type]
        stored = session.execute(select(Dossier.monthly_amount)).scalar_one()  # type: ignore[call-overload]
    assert checked.detail["agrees"] is False and checked.detail["expected"] == 500_000
    assert stored == 360_000
    # The months owed are the law's, whatever the decision says: each month's own amount.
    [step] = messages(db, "send_back_payment")
    assert step.payload["decision"]["mucHuongThang"] == 360_000
