"""The ministry bodies (ministry-api.md §5), field by field."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from adapters.province.samples import sample_dossier, sample_funeral_dossier
from mappings.ministry import birth_date_for_ministry, to_ministry_body, to_supplement_body
from mappings.model import Dossier, PartialDate

from .helpers import parse_ok

FILE_IDS = {"f1": "TT-0001", "f2": "TT-0002", "f3": "TT-0003", "f4": "TT-0004"}


def dossier(**overrides: Any) -> Dossier:
    return parse_ok(sample_dossier(**overrides))


def disability_dossier() -> Dossier:
    raw = sample_dossier()
    raw["DuLieuToKhai"]["NhomDoiTuong"] = "NKT_NANG"
    raw["TaiLieuNop"] = [
        {"TepDinhKemId": "f1", "TenTepDinhKem": "gxn-1.pdf", "MaThanhPhanHoSo": "GXN_KHUYET_TAT"},
        {"TepDinhKemId": "f2", "TenTepDinhKem": "to-khai-1d.pdf", "MaThanhPhanHoSo": "TK_1D"},
        {"TepDinhKemId": "f3", "TenTepDinhKem": "gxn-2.pdf", "MaThanhPhanHoSo": "GXN_KHUYET_TAT"},
        {"TepDinhKemId": "f4", "TenTepDinhKem": "cccd.pdf", "MaThanhPhanHoSo": "BAN_SAO_GIAY_TO_TUY_THAN"},
    ]
    return parse_ok(raw)


def test_the_contract_example() -> None:
    body = to_ministry_body(dossier(), {"f1": "TT-abc"})
    assert body == {
        "maHoSoTinh": "000.00.12.H56-240115-0001",
        "maThuTuc": "1.001776",
        "ngayNop": "2024-01-15T08:30:00+07:00",
        "ngayHenTra": "2024-02-05T17:00:00+07:00",
        "kenhNop": "TRUC_TUYEN",
        "maDonViTiepNhan": "16171",
        "nguoiNop": {
            "hoTen": "Trần Văn Nam",
            "soDinhDanh": "038075004321",
            "soDienThoai": "0912345678",
            "quanHeVoiDoiTuong": "CON",
        },
        "doiTuong": {
            "hoTen": "Nguyễn Thị Hoa",
            "ngaySinh": "1941-03-02",
            "gioiTinh": "NU",
            "soDinhDanh": "038141001234",
            "maDanToc": "01",
            "noiThuongTru": {"maTinh": "38", "maXa": "16171", "diaChiChiTiet": "Thôn 3"},
            "nhomDoiTuong": "NCT_80_KHONG_LUONG",
        },
        "thanhPhanHoSo": [
            {
                "maThanhPhan": "TK_1C",
                "tenThanhPhan": "Tờ khai đề nghị trợ giúp xã hội (Mẫu số 1c)",
                "tepTinIds": ["TT-abc"],
            }
        ],
        "ghiChu": None,
    }


def test_body_is_json_serialisable() -> None:
    body = to_ministry_body(disability_dossier(), FILE_IDS, note="Ghi chú")
    assert json.loads(json.dumps(body, ensure_ascii=False)) == body


def test_times_are_iso_8601_at_plus_seven_whatever_zone_the_dossier_holds() -> None:
    base = dossier()
    utc = dataclasses.replace(
        base,
        received_at=datetime(2024, 1, 15, 1, 30, tzinfo=UTC),
        due_at=datetime(2024, 2, 5, 10, 0, tzinfo=UTC),
    )
    body = to_ministry_body(utc, {"f1": "TT-1"})
    assert body["ngayNop"] == "2024-01-15T08:30:00+07:00"
    assert body["ngayHenTra"] == "2024-02-05T17:00:00+07:00"


def test_absent_due_date_is_null() -> None:
    raw = sample_dossier()
    del raw["NgayHenTra"]
    body = to_ministry_body(parse_ok(raw), {"f1": "TT-1"})
    assert "ngayHenTra" in body and body["ngayHenTra"] is None


@pytest.mark.parametrize(("channel", "code"), [(1, "TRUC_TIEP"), (2, "TRUC_TUYEN"), (3, "BUU_CHINH")])
def test_channel(channel: int, code: str) -> None:
    assert to_ministry_body(dossier(KenhThucHien=channel), {"f1": "TT-1"})["kenhNop"] == code


@pytest.mark.parametrize(("gender", "pid", "code"), [(1, "038041001234", "NAM"), (2, "038141001234", "NU")])
def test_gender(gender: int, pid: str, code: str) -> None:
    raw = sample_dossier()
    raw["DuLieuToKhai"].update(GioiTinh=gender, SoDinhDanh=pid)
    assert to_ministry_body(parse_ok(raw), {"f1": "TT-1"})["doiTuong"]["gioiTinh"] == code


def test_processing_unit_is_the_receiving_unit_in_force() -> None:
    # Received 2024: 26734 is the pre-2025 Phường Tân Định (Quận 1), now 26737; an agency code passes as is.
    assert to_ministry_body(dossier(MaDonViXuLy="26734"), {"f1": "TT-1"})["maDonViTiepNhan"] == "26737"
    assert to_ministry_body(dossier(MaDonViXuLy="000.00.12.H56"), {"f1": "TT-1"})["maDonViTiepNhan"] == "000.00.12.H56"


def test_address_codes_are_the_ones_in_force() -> None:
    raw = sample_dossier()
    raw["DuLieuToKhai"]["NoiThuongTru"] = {"MaTinh": "2", "MaXa": 703}  # 2024: Hà Giang, Xã Kim Thạch, unpadded
    residence = to_ministry_body(parse_ok(raw), {"f1": "TT-1"})["doiTuong"]["noiThuongTru"]
    assert residence == {"maTinh": "08", "maXa": "00706", "diaChiChiTiet": None}


def test_applicant_without_optional_fields() -> None:
    raw = sample_dossier()
    raw["ChuHoSo"] = {"HoTen": "Trần Văn Nam", "Email": "nam@example.vn"}
    del raw["DuLieuToKhai"]["QuanHeVoiChuHoSo"]
    applicant = to_ministry_body(parse_ok(raw), {"f1": "TT-1"})["nguoiNop"]
    # No e-mail field in the contract's nguoiNop: the strict ministry side would refuse an unknown one.
    assert applicant == {"hoTen": "Trần Văn Nam", "soDinhDanh": None, "soDienThoai": None, "quanHeVoiDoiTuong": None}


def test_components_grouped_by_code_in_document_order() -> None:
    body = to_ministry_body(disability_dossier(), FILE_IDS)
    assert body["thanhPhanHoSo"] == [
        {"maThanhPhan": "GXN_KHUYET_TAT", "tenThanhPhan": "Giấy xác nhận khuyết tật",
         "tepTinIds": ["TT-0001", "TT-0003"]},
        {"maThanhPhan": "TK_1D", "tenThanhPhan": "Tờ khai đề nghị trợ giúp xã hội (Mẫu số 1d)",
         "tepTinIds": ["TT-0002"]},
        {"maThanhPhan": "BAN_SAO_GIAY_TO_TUY_THAN", "tenThanhPhan": "Bản sao giấy tờ tùy thân",
         "tepTinIds": ["TT-0004"]},
    ]  # fmt: skip


def test_funeral_components() -> None:
    body = to_ministry_body(parse_ok(sample_funeral_dossier()), FILE_IDS)
    assert body["maThuTuc"] == "1.001731"
    assert [(c["maThanhPhan"], c["tepTinIds"]) for c in body["thanhPhanHoSo"]] == [
        ("TK_MAI_TANG", ["TT-0001"]),
        ("TRICH_LUC_KHAI_TU", ["TT-0002"]),
    ]
    assert body["thanhPhanHoSo"][1]["tenThanhPhan"] == "Giấy báo tử hoặc trích lục khai tử"


def test_a_document_without_a_ministry_file_id_is_an_error() -> None:
    with pytest.raises(ValueError, match="f3"):
        to_ministry_body(disability_dossier(), {"f1": "TT-1", "f2": "TT-2", "f4": "TT-4"})


def test_extra_file_ids_are_ignored() -> None:
    body = to_ministry_body(dossier(), {"f1": "TT-1", "f9": "TT-9"})
    assert body["thanhPhanHoSo"][0]["tepTinIds"] == ["TT-1"]


@pytest.mark.parametrize(
    ("birth", "iso", "in_note"),
    [
        ("03/1941", "1941-03-01", ["03/1941", "01/03/1941", "ngày đầu tháng"]),
        ("1941", "1941-01-01", ["1941", "01/01/1941", "ngày đầu năm"]),
    ],
)
def test_partial_birth_date_is_the_first_day_and_ghi_chu_says_so(birth: str, iso: str, in_note: list[str]) -> None:
    raw = sample_dossier()
    raw["DuLieuToKhai"]["NgaySinh"] = birth
    body = to_ministry_body(parse_ok(raw), {"f1": "TT-1"})
    assert body["doiTuong"]["ngaySinh"] == iso
    note = body["ghiChu"]
    assert isinstance(note, str)
    for text in in_note:
        assert text in note
    assert note.endswith(".")


def test_birth_date_notes_come_from_the_data_file() -> None:
    assert birth_date_for_ministry(PartialDate(1941, 3, 2)) == ("1941-03-02", None)
    iso, note = birth_date_for_ministry(PartialDate(1941, 3))
    assert iso == "1941-03-01"
    assert note == (
        "Giấy tờ chỉ ghi tháng và năm sinh của đối tượng (03/1941), không rõ ngày; "
        "ngày sinh 01/03/1941 trong hồ sơ là ngày đầu tháng, ghi để đúng định dạng."
    )


def test_caller_note_and_birth_date_note_are_both_kept() -> None:
    raw = sample_dossier()
    raw["DuLieuToKhai"]["NgaySinh"] = "1941"
    body = to_ministry_body(parse_ok(raw), {"f1": "TT-1"}, note="  Hồ sơ chuyển lại sau sự cố.  ")
    first, second = body["ghiChu"].split("\n")
    assert first == "Hồ sơ chuyển lại sau sự cố."
    assert "1941" in second


@pytest.mark.parametrize(("note", "expected"), [(None, None), ("", None), ("   ", None), ("Ghi chú.", "Ghi chú.")])
def test_caller_note_alone(note: str | None, expected: str | None) -> None:
    assert to_ministry_body(dossier(), {"f1": "TT-1"}, note=note)["ghiChu"] == expected


def test_the_body_is_deterministic() -> None:
    assert json.dumps(to_ministry_body(disability_dossier(), FILE_IDS)) == json.dumps(
        to_ministry_body(disability_dossier(), dict(reversed(list(FILE_IDS.items()))))
    )


# --- supplement (bo-sung) ----------------------------------------------------------------------


def test_supplement_has_only_the_given_components() -> None:
    body = to_supplement_body(disability_dossier(), {"f1": "TT-1", "f3": "TT-3"}, ["GXN_KHUYET_TAT"])
    assert body == {
        "thanhPhanHoSo": [
            {"maThanhPhan": "GXN_KHUYET_TAT", "tenThanhPhan": "Giấy xác nhận khuyết tật", "tepTinIds": ["TT-1", "TT-3"]}
        ],
        "ghiChu": "Bổ sung thành phần hồ sơ theo yêu cầu: Giấy xác nhận khuyết tật (GXN_KHUYET_TAT).",
    }


def test_supplement_keeps_document_order_whatever_the_order_asked() -> None:
    one = to_supplement_body(disability_dossier(), FILE_IDS, ["BAN_SAO_GIAY_TO_TUY_THAN", "TK_1D"])
    two = to_supplement_body(disability_dossier(), FILE_IDS, ("TK_1D", "BAN_SAO_GIAY_TO_TUY_THAN", "TK_1D"))
    assert one == two
    assert [c["maThanhPhan"] for c in one["thanhPhanHoSo"]] == ["TK_1D", "BAN_SAO_GIAY_TO_TUY_THAN"]


def test_supplement_note() -> None:
    body = to_supplement_body(disability_dossier(), FILE_IDS, {"TK_1D"}, note="Bổ sung tờ khai đã ký.")
    assert body["ghiChu"] == "Bổ sung tờ khai đã ký."


def test_supplement_accepts_a_single_code_string() -> None:
    body = to_supplement_body(disability_dossier(), FILE_IDS, "TK_1D")
    assert [c["maThanhPhan"] for c in body["thanhPhanHoSo"]] == ["TK_1D"]


def test_supplement_does_not_add_the_birth_date_note() -> None:
    raw = sample_dossier()
    raw["DuLieuToKhai"]["NgaySinh"] = "1941"
    body = to_supplement_body(parse_ok(raw), {"f1": "TT-1"}, ["TK_1C"])
    assert "1941" not in body["ghiChu"]


@pytest.mark.parametrize("codes", [[], ["TK_1C"], ["GXN_KHUYET_TAT", "TRICH_LUC_KHAI_TU"]])
def test_supplement_of_nothing_or_of_components_not_in_the_dossier_is_an_error(codes: list[str]) -> None:
    with pytest.raises(ValueError):
        to_supplement_body(disability_dossier(), FILE_IDS, codes)


def test_supplement_needs_file_ids_of_its_components_only() -> None:
    to_supplement_body(disability_dossier(), {"f2": "TT-2"}, ["TK_1D"])
    with pytest.raises(ValueError, match="f3"):
        to_supplement_body(disability_dossier(), {"f1": "TT-1"}, ["GXN_KHUYET_TAT"])
