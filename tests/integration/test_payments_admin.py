"""Payment adjustments for the month's payment list: the admin route (filters, CSV, bad month) and the console page."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient
from typer.testing import CliRunner

from gateway.app import create_app
from gateway.cli import app as cli_app
from gateway.db import Database, create_database
from gateway.payments import repository
from gateway.payments.repository import AdjustmentKind, NewAdjustment
from gateway.settings import Settings, get_settings
from mappings.money import span
from outbox.columns import utcnow
from tests.conftest import ADMIN_KEY
from tests.integration.test_admin_console import _login, _with
from tests.integration.test_approval_money import CODE, DECISION, approve, delivered


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


def seed(db: Database) -> None:
    with db.session(write=True) as session:
        repository.record(session, NewAdjustment(
            AdjustmentKind.RECOVERY, "000.00.12.H56-241002-0007",
            span("NCT_80_KHONG_LUONG", "1941-03-02", "2024-10", "2024-12"), beneficiary_id="DT-1",
            commune_code="16171", list_month="2024-10"), utcnow())
        repository.record(session, NewAdjustment(
            AdjustmentKind.BACK_PAYMENT, "000.00.12.H56-240115-0001",
            span("NCT_80_KHONG_LUONG", "1941-03-02", "2024-05", "2024-08"), list_month="2024-10"), utcnow())
        repository.record(session, NewAdjustment(
            AdjustmentKind.RECOVERY, "000.00.12.H56-241102-0001",
            span("NCT_80_KHONG_LUONG", "1941-03-02", "2024-11", "2024-11"), list_month="2024-11"), utcnow())


def test_the_route_filters_by_month_and_kind_and_answers_csv(client: TestClient, db: Database) -> None:
    seed(db)
    admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
    october = client.get("/api/v1/admin/payment-adjustments", params={"month": "2024-10"}, headers=admin).json()
    assert october["count"] == 2 and october["total"] == 1_500_000 + 360_000 * 2 + 500_000 * 2
    recoveries = client.get("/api/v1/admin/payment-adjustments", params={"month": "2024-10", "kind": "truy_thu"},
                            headers=admin).json()
    [only] = recoveries["items"]
    assert (only["amount"], only["firstMonth"], only["lastMonth"], len(only["months"])) == (
        1_500_000, "2024-10", "2024-12", 3)
    as_csv = client.get("/api/v1/admin/payment-adjustments", params={"month": "2024-11", "format": "csv"},
                        headers=admin)
    lines = as_csv.text.strip().splitlines()
    assert lines[0].startswith("kind,MaHoSo") and len(lines) == 2 and "2024-11:500000" in lines[1]
    bad = client.get("/api/v1/admin/payment-adjustments", params={"month": "2024-13"}, headers=admin)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "month"


def test_the_console_page_lists_the_months_adjustments_with_their_total(client: TestClient, db: Database) -> None:
    seed(db)
    _login(client)
    page = client.get("/admin/payments", params={"month": "2024-10", "kind": "truy_thu"})
    assert page.status_code == 200
    assert "000.00.12.H56-241002-0007" in page.text and "000.00.12.H56-240115-0001" not in page.text
    assert '<strong id="payments-total">1,500,000</strong>' in page.text
    assert "2024-11: 500,000" in page.text


def test_the_commune_filter_and_totals_per_commune(client: TestClient, db: Database) -> None:
    seed(db)
    admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
    found = client.get("/api/v1/admin/payment-adjustments", params={"maXa": "16171"}, headers=admin).json()
    assert [a["MaHoSo"] for a in found["items"]] == ["000.00.12.H56-241002-0007"]
    everything = client.get("/api/v1/admin/payment-adjustments", headers=admin).json()
    assert {(t["maXa"], t["kind"], t["count"]) for t in everything["byCommune"]} == {
        ("16171", "truy_thu", 1), (None, "truy_thu", 1), (None, "truy_linh", 1)}
    bad = client.get("/api/v1/admin/payment-adjustments", params={"maXa": "abc", "month": "x"}, headers=admin)
    assert {e["field"] for e in bad.json()["errors"]} == {"maXa", "month"}


def test_the_cli_lists_a_months_adjustments_with_totals_per_commune(
    client: TestClient, db: Database, console_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(db)
    monkeypatch.setenv("GATEWAY_DATABASE_URL", console_settings.database_url)
    monkeypatch.setenv("GATEWAY_BLOB_DIR", str(console_settings.blob_dir))
    monkeypatch.setenv("COLUMNS", "200")
    get_settings.cache_clear()
    runner = CliRunner()
    try:
        table = runner.invoke(cli_app, ["payments", "list", "--month", "2024-10"])
        as_csv = runner.invoke(cli_app, ["payments", "list", "--month", "2024-10", "--kind", "truy_thu", "--csv"])
        bad = runner.invoke(cli_app, ["payments", "list", "--month", "10/2024"])
    finally:
        get_settings.cache_clear()
    assert table.exit_code == 0, table.output
    assert "payment adjustments (2)" in table.output and "totals per commune" in table.output
    assert "1,500,000" in table.output and "3,220,000" in table.output  # the recovery; the month's total
    assert as_csv.stdout.count("\n") == 2 and "truy_thu" in as_csv.stdout
    assert bad.exit_code == 2 and "--month" in bad.output


def test_the_console_shows_approvals_whose_amount_disagrees(client: TestClient, db: Database) -> None:
    delivered(client, db)
    approve(db, {**DECISION, "mucHuongThang": 360_000}, doiTuongId="DT-9", thangChiTraDauTien="2024-09")
    _login(client)
    page = client.get("/admin/payments")
    assert page.text.count("Quyết định có mức hưởng khác mức tính") == 1
    assert "<title>Truy thu, truy lĩnh" in page.text
    assert CODE in page.text and "360,000" in page.text and "500,000" in page.text
