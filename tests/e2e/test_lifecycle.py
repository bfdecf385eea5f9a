"""The whole flow over real sockets with both sandboxes: province → gateway → ministry → back to the province."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from tests.conftest import PROVINCE_KEY
from tests.contract.ministry_support import SandboxHandle
from tests.e2e.conftest import CALLBACK_SECRET as SECRET
from tests.e2e.conftest import Province, dossier_state, wait_until

DECISION = {"so": "45/QĐ-UBND", "ngay": "2024-02-20", "mucHuongThang": 500000, "thangBatDauHuong": "2024-02"}


@pytest.fixture
def wired(gateway_factory: Callable[..., str], province: Province) -> str:
    """A gateway whose callbacks go to the province sandbox, which posts to it."""
    url = gateway_factory(province_callback_url=f"{province.base_url}/callbacks", province_callback_secret=SECRET)
    province.point_at(url)
    return url


def _ministry_id(url: str, code: str) -> str:
    with httpx.Client(base_url=url, timeout=10) as http:
        state = wait_until(lambda: (s := dossier_state(http, code, PROVINCE_KEY))["state"] == "delivered" and s)
    return str(state["ministry"]["id"])


def _act(ministry: SandboxHandle, ministry_id: str) -> None:
    for status, extras in (("DA_TIEP_NHAN", {"canBo": "Cán bộ B"}), ("DANG_THAM_DINH", {}),
                           ("DA_PHE_DUYET", {"quyetDinh": DECISION}), ("DA_TRA_KET_QUA", {})):
        assert ministry.officer(ministry_id, status, **extras).status_code == 200


EXPECTED = [
    ("DA_CHUYEN_BO", "CHO_TIEP_NHAN", 2),
    ("CAP_NHAT_TRANG_THAI", "DA_TIEP_NHAN", 4),
    ("CAP_NHAT_TRANG_THAI", "DANG_THAM_DINH", 4),
    ("CAP_NHAT_TRANG_THAI", "DA_PHE_DUYET", 9),
    ("CAP_NHAT_TRANG_THAI", "DA_TRA_KET_QUA", 10),
]


def _seen(province: Province, code: str) -> list[tuple[str, str, int | None]]:
    return [(c["SuKien"], c["TrangThaiBo"], c["TrangThaiHoSo"]) for c in province.callbacks(code)]


def test_full_lifecycle(wired: str, province: Province, ministry: SandboxHandle) -> None:
    code = province.post_sample(encoding="multipart")["MaHoSo"]
    _act(ministry, _ministry_id(wired, code))

    wait_until(lambda: len(province.callbacks(code)) == len(EXPECTED))
    callbacks = province.callbacks(code)
    assert _seen(province, code) == EXPECTED
    assert all(c["signature_ok"] and not c["out_of_order"] for c in callbacks)
    assert callbacks[3]["QuyetDinh"]["MucHuongThang"] == 500000
    with httpx.Client(base_url=wired, timeout=10) as http:
        final = dossier_state(http, code, PROVINCE_KEY)
    assert final["ministry"]["status"] == "DA_TRA_KET_QUA"
    assert final["decision"]["number"] == "45/QĐ-UBND"
    assert final["overdue"] is False


def test_the_province_down_for_a_while_then_back_gets_every_callback_in_order(
    wired: str, province: Province, ministry: SandboxHandle
) -> None:
    code = province.post_sample(encoding="json")["MaHoSo"]
    ministry_id = _ministry_id(wired, code)
    province.faults(down=True, status=503)
    _act(ministry, ministry_id)
    refused = wait_until(lambda: [a for a in province.http.get("/_sandbox/attempts").json()["attempts"]
                                  if a.get("status") == 503], timeout=20)
    assert refused
    province.faults()  # back

    wait_until(lambda: len(province.callbacks(code)) == len(EXPECTED), timeout=30)
    assert _seen(province, code) == EXPECTED  # in order, no gap, nothing twice
    assert all(not c["out_of_order"] for c in province.callbacks(code))


def test_a_delivery_refused_for_good_is_reported_with_the_ministrys_reasons(
    wired: str, province: Province, ministry: SandboxHandle
) -> None:
    from adapters.province.client import post_dossier
    from adapters.province.samples import numbered_dossier
    from tests.support.intake import sample_files

    dossier = numbered_dossier(901)
    dossier["MaDonViXuLy"] = "16171/phong-LĐTBXH"  # accepted by the gateway, refused by the ministry
    with httpx.Client(base_url=wired, timeout=30) as http:
        assert post_dossier(http, PROVINCE_KEY, dossier, sample_files(dossier)).status_code == 202
    [callback] = wait_until(lambda: province.callbacks(dossier["MaHoSo"]))
    assert callback["SuKien"] == "LOI_DONG_BO"
    assert callback["TrangThaiHoSo"] is None
    assert "maDonViTiepNhan" in callback["NoiDung"]
