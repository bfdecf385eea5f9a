"""The console's plain-Vietnamese reasons and labels: data files complete, lookups right, no crash on odd details."""

from __future__ import annotations

import pytest

import adapters.ministry.errors as ministry_errors
from gateway.admin.console_render import age, vn_time
from gateway.admin.reasons import _reasons, explain, field_label, label


def _ministry_codes() -> set[str]:
    return {value for name, value in vars(ministry_errors).items()
            if name.isupper() and isinstance(value, str) and not name.startswith("_")}


def test_every_ministry_code_has_a_reason_and_an_action() -> None:
    codes = _reasons()["codes"]
    assert _ministry_codes() <= set(codes)
    entries = [*codes.values(), *_reasons()["callback"].values(), *_reasons()["http"].values(),
               _reasons()["internal"], _reasons()["missing_attachment"], _reasons()["unknown"]]
    for entry in entries:
        assert entry["reason"].strip() and entry["action"].strip()


def test_a_refusal_lists_each_field_by_the_name_officers_know() -> None:
    explained = explain("deliver_dossier", {
        "status": 400, "maLoi": "DU_LIEU_KHONG_HOP_LE", "thongDiep": "Dữ liệu không hợp lệ",
        "chiTiet": [
            {"truong": "maDonViTiepNhan", "thongDiep": "Không có trong danh mục"},
            {"truong": "doiTuong.noiThuongTru.maXa", "thongDiep": "Mã xã không tồn tại"},
            {"truong": "thanhPhanHoSo[0].tepTinIds[1]", "thongDiep": "Tệp chưa tải lên"},
        ],
    }, attempts=1)
    assert explained.reason.startswith("Phần mềm trợ giúp xã hội của Bộ từ chối hồ sơ")
    assert explained.code == "DU_LIEU_KHONG_HOP_LE"
    assert [(f.label, f.message) for f in explained.faults] == [
        ("Mã đơn vị tiếp nhận", "Không có trong danh mục"),
        ("Xã nơi thường trú", "Mã xã không tồn tại"),
        ("Thành phần hồ sơ", "Tệp chưa tải lên"),
    ]


@pytest.mark.parametrize(("path", "expected"), [
    ("doiTuong.soDinhDanh", "Số định danh của đối tượng"),
    ("doiTuong.somethingNew", "Thông tin đối tượng hưởng trợ giúp"),
    ("nguoiNop.hoTen", "Họ tên người nộp"),
    ("thanhPhanHoSo[2].maThanhPhan", "Thành phần hồ sơ"),
    ("khongBiet", "khongBiet"),
    ("", ""),
])
def test_field_labels(path: str, expected: str) -> None:
    assert field_label(path) == expected


@pytest.mark.parametrize(("kind", "detail", "words"), [
    ("deliver_dossier", {"status": None, "maLoi": "TIMEOUT", "chiTiet": []}, "không trả lời trong thời gian chờ"),
    ("deliver_dossier", {"status": None, "maLoi": "CONNECTION"}, "Không kết nối được tới phần mềm của Bộ"),
    ("deliver_dossier", {"status": 503, "maLoi": "LOI_HE_THONG", "retry_after": 1.0}, "HTTP 503"),
    ("deliver_dossier", {"status": 502, "maLoi": None}, "đang gặp sự cố (HTTP 502)"),
    ("deliver_dossier", {"status": 418}, "từ chối yêu cầu (HTTP 418)"),
    ("deliver_dossier", {"exception": "KeyError"}, "Lỗi nội bộ của cổng kết nối (KeyError)"),
    ("deliver_dossier", {"TepDinhKemId": "TT-1", "sha256": "ab"}, "tệp đính kèm TT-1"),
    ("supplement_dossier", {"maLoi": "nothing_to_supplement"}, "không có thành phần hồ sơ mới"),
    ("province_callback", {"error": "timeout"}, "Hệ thống một cửa của tỉnh không trả lời kịp"),
    ("province_callback", {"error": "connection"}, "Không kết nối được tới hệ thống một cửa của tỉnh"),
    ("province_callback", {"status": 500, "body": "<html>"}, "từ chối thông báo trạng thái (HTTP 500)"),
    ("deliver_dossier", None, "không xác định được nguyên nhân"),
    ("deliver_dossier", {"maLoi": "SOMETHING_NEW", "chiTiet": "not a list"}, "không xác định được nguyên nhân"),
])
def test_reasons_by_detail(kind: str, detail: dict | None, words: str) -> None:  # type: ignore[type-arg]
    assert words in explain(kind, detail, attempts=3).reason


def test_the_action_says_how_often_the_gateway_tried() -> None:
    assert "Cổng đã thử 25 lần" in explain("deliver_dossier", {"maLoi": "TIMEOUT"}, attempts=25).action


def test_labels_and_formatting() -> None:
    assert label("states", "dead") == "Thất bại"
    assert label("kinds", "province_callback") == "Báo trạng thái về tỉnh"
    assert label("kinds", "new_kind") == "new_kind"
    assert label("circuit", "open").startswith("Tạm ngừng gửi")
    assert vn_time("2024-01-15T01:30:00+00:00") == "15/01/2024 08:30:00"
    assert vn_time(None) == "—"
    assert age(None) == "—"
    assert age(0.4) == "0 giây"
    assert age(59) == "59 giây"
    assert age(3725) == "1 giờ 2 phút"
    assert age(2 * 86400 + 7200 + 5) == "2 ngày 2 giờ"
