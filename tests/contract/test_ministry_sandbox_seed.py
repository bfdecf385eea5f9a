"""The sandbox's bulk seeding (``POST /_sandbox/seed``): benchmarks' dossiers, their feed, and its cursor."""

from __future__ import annotations

from adapters.ministry.sandbox import codes
from tests.contract.conftest import OTHER_CLIENT_ID
from tests.contract.ministry_support import SandboxHandle

FEED = "/api/v1/ho-so/thay-doi"


def test_seeded_dossiers_wait_in_pending_reception_and_the_cursor_skips_their_arrival(sandbox: SandboxHandle) -> None:
    seeded = sandbox.http.post("/_sandbox/seed", json={"soHoSo": 3, "tienTo": "BENCH"})
    assert seeded.status_code == 200, seeded.text
    answer = seeded.json()
    assert answer["soHoSo"] == 3
    assert [d["maHoSoTinh"] for d in answer["hoSo"]] == ["BENCH-000001", "BENCH-000002", "BENCH-000003"]
    assert {d["trangThai"] for d in sandbox.pending()} == {codes.CHO_TIEP_NHAN}

    auth = {"Authorization": f"Bearer {sandbox.token()}"}
    arrivals = sandbox.http.get(FEED, params={"gioiHan": 10}, headers=auth).json()
    assert [c["id"] for c in arrivals["thayDoi"]] == [d["id"] for d in answer["hoSo"]]
    assert arrivals["conTro"] == answer["conTro"]

    ids = [d["id"] for d in answer["hoSo"]]
    for dossier_id in ids:
        assert sandbox.officer(dossier_id, codes.DA_TIEP_NHAN).status_code == 200
    after = sandbox.http.get(FEED, params={"gioiHan": 10, "sau": answer["conTro"]}, headers=auth).json()
    assert [(c["id"], c["trangThai"]) for c in after["thayDoi"]] == [(i, codes.DA_TIEP_NHAN) for i in ids]


def test_seeding_refuses_bad_counts_unknown_clients_and_taken_codes(sandbox: SandboxHandle) -> None:
    for body in ({"soHoSo": 0}, {"soHoSo": "3"}, {"soHoSo": True}, {"soHoSo": 2, "clientId": "nobody"},
                 {"soHoSo": 2, "tienTo": ""}):
        refused = sandbox.http.post("/_sandbox/seed", json=body)
        assert (refused.status_code, refused.json()["maLoi"]) == (400, "DU_LIEU_KHONG_HOP_LE"), body
    assert sandbox.http.post("/_sandbox/seed", json={"soHoSo": 2}).status_code == 200
    taken = sandbox.http.post("/_sandbox/seed", json={"soHoSo": 3})
    assert (taken.status_code, taken.json()["maLoi"]) == (409, "HO_SO_DA_TON_TAI")
    assert len(sandbox.all_dossiers()) == 2  # nothing of the refused batch was kept


def test_seeding_for_another_client_fills_only_that_clients_feed(sandbox: SandboxHandle) -> None:
    assert sandbox.http.post("/_sandbox/seed", json={"soHoSo": 2, "clientId": OTHER_CLIENT_ID}).status_code == 200
    auth = {"Authorization": f"Bearer {sandbox.token()}"}
    assert sandbox.http.get(FEED, params={"gioiHan": 10}, headers=auth).json()["thayDoi"] == []
    assert {d["clientId"] for d in sandbox.all_dossiers()} == {OTHER_CLIENT_ID}
