"""The tolerant reader (issue 14, item 3): numbers as digit strings, codes as numbers, unknown members
ignored at every level, surrounding whitespace trimmed, booleans never numbers.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from adapters.province.samples import sample_dossier, sample_funeral_dossier
from mappings.canonical import fingerprint
from mappings.province import FIELDS, INTEGER_FIELDS, NUMBER_CODE_FIELDS, Kind, normalise_dossier

from .helpers import attachments_for, faults, parse, parse_ok

# The sample's beneficiary: ID 038141001234, digit 4 = 1, a woman born in the 1900s; GioiTinh 2.


def gender(value: Any) -> dict[str, Any]:
    raw = sample_dossier()
    raw["DuLieuToKhai"]["GioiTinh"] = value
    return raw


# --- the one list of numeric fields -----------------------------------------------------------


def test_the_numeric_fields_are_listed_once() -> None:
    assert INTEGER_FIELDS == ("KenhThucHien", "DuLieuToKhai.GioiTinh")
    assert set(NUMBER_CODE_FIELDS) == {
        "NgayTiepNhan", "NgayHenTra", "MaDonViXuLy", "DuLieuToKhai.MaDanToc",
        "DuLieuToKhai.NoiThuongTru.MaTinh", "DuLieuToKhai.NoiThuongTru.MaXa", "TaiLieuNop[].TepDinhKemId",
    }
    # SoDinhDanh is text: as a JSON number it would have lost its leading zero.
    assert FIELDS["DuLieuToKhai.SoDinhDanh"] is Kind.TEXT and FIELDS["ChuHoSo.SoDinhDanh"] is Kind.TEXT


def test_every_member_of_the_samples_is_in_the_shape() -> None:
    """The shape knows every member the contract's example carries (plus the optional MaBam)."""
    for raw in (sample_dossier(), sample_funeral_dossier()):
        assert normalise_dossier(raw) == raw


# --- GioiTinh / KenhThucHien: a number or a string of digits ----------------------------------


@pytest.mark.parametrize("value", ["2", " 2 ", "\t2\n", "02", 2])
def test_gender_as_a_digit_string_is_read_as_the_number(value: Any) -> None:
    dossier = parse_ok(gender(value))
    assert dossier.beneficiary.gender == 2
    assert parse(gender(value)) == parse(gender(2))


def test_gender_as_a_string_is_still_checked_against_the_id() -> None:
    assert faults(gender("1")) == faults(gender(1)) == [("DuLieuToKhai.SoDinhDanh", "id_gender_mismatch")]
    assert faults(gender("3")) == faults(gender(3)) == [("DuLieuToKhai.GioiTinh", "unknown_gender")]


@pytest.mark.parametrize("value", ["nam", "nữ", "2a", "-2", "2.0", "+2", "２", "٢", 2.0, [2], {"v": 2}])
def test_gender_that_is_no_number_is_refused_as_today(value: Any) -> None:
    assert faults(gender(value)) == [("DuLieuToKhai.GioiTinh", "invalid_type")]
    _, errors = parse(gender(value))
    assert errors[0].message == "Trường DuLieuToKhai.GioiTinh phải là số nguyên."


@pytest.mark.parametrize("value", [True, False])
def test_a_boolean_is_not_a_number(value: bool) -> None:
    assert faults(gender(value)) == [("DuLieuToKhai.GioiTinh", "invalid_type")]
    assert faults(sample_dossier(KenhThucHien=value)) == [("KenhThucHien", "invalid_type")]
    raw = sample_dossier()
    raw["DuLieuToKhai"]["NoiThuongTru"]["MaTinh"] = value
    assert ("DuLieuToKhai.NoiThuongTru.MaTinh", "invalid_type") in faults(raw)


@pytest.mark.parametrize("value", ["", "   ", None])
def test_blank_gender_is_missing(value: Any) -> None:
    assert faults(gender(value)) == [("DuLieuToKhai.GioiTinh", "required")]


def test_channel_as_a_digit_string() -> None:
    assert parse_ok(sample_dossier(KenhThucHien=" 3 ")).channel == 3
    assert faults(sample_dossier(KenhThucHien="4")) == faults(sample_dossier(KenhThucHien=4)) == [
        ("KenhThucHien", "unknown_channel")]
    assert faults(sample_dossier(KenhThucHien="qua mạng")) == [("KenhThucHien", "invalid_type")]


def test_a_huge_digit_string_is_a_fault_not_a_crash() -> None:
    """Python refuses int() of more than 4300 digits; that must not escape as a ValueError (a 500)."""
    assert faults(gender("9" * 5000)) == [("DuLieuToKhai.GioiTinh", "invalid_type")]
    assert faults(sample_dossier(KenhThucHien=" " + "1" * 10_000)) == [("KenhThucHien", "invalid_type")]
    # Leading zeros do not count towards the limit, and a long number is simply not a known code.
    assert parse_ok(gender("0" * 5000 + "2")).beneficiary.gender == 2
    assert parse(gender("9" * 40)) == parse(gender(int("9" * 40)))


# --- code fields: a string or a number --------------------------------------------------------


def test_codes_as_numbers_and_strings_read_alike() -> None:
    numbers = sample_dossier(NgayTiepNhan=20240115083000, NgayHenTra=20240205170000, MaDonViXuLy=16171)
    numbers["DuLieuToKhai"].update(MaDanToc=1, NoiThuongTru={"MaTinh": 38, "MaXa": 16171, "DiaChiChiTiet": "Thôn 3"})
    strings = sample_dossier(NgayTiepNhan=" 20240115083000 ", MaDonViXuLy="16171 ")
    strings["DuLieuToKhai"].update(MaDanToc=" 1", NoiThuongTru={"MaTinh": "38 ", "MaXa": " 16171",
                                                                "DiaChiChiTiet": "Thôn 3"})
    assert parse_ok(numbers) == parse_ok(strings) == parse_ok(sample_dossier())


# --- unknown members are ignored at every level -----------------------------------------------


def test_an_unknown_top_level_member_is_ignored() -> None:
    raw = sample_dossier(TrangThaiHoSo=4, DonViXuLy={"Ma": "X"}, GioiTinh="không phải của cấp này", LoaiDoiTuong=[])
    assert parse(raw) == parse(sample_dossier())


def test_an_unknown_member_inside_the_declaration_is_ignored() -> None:
    raw = sample_dossier()
    raw["DuLieuToKhai"].update(NoiSinh={"MaTinh": "99"}, SoSoHoKhau=None, MaHoSo=True, GhiChu="  ")
    raw["DuLieuToKhai"]["NoiThuongTru"]["MaHuyen"] = "16171"  # pre-2025 district: not read any more
    raw["ChuHoSo"]["DiaChi"] = {"x": [1, 2]}
    assert parse(raw) == parse(sample_dossier())


def test_an_unknown_member_inside_a_document_is_ignored() -> None:
    raw = sample_funeral_dossier()
    raw["TaiLieuNop"][0].update(KichThuoc=12345, LoaiTep="application/pdf", DuocSoHoa=True)
    raw["TaiLieuNop"][1]["ThongTinKhac"] = {"GioiTinh": "x"}
    assert parse(raw) == parse(sample_funeral_dossier())


def test_normalising_does_not_change_the_submitted_document() -> None:
    raw = sample_dossier(Khac=1, KenhThucHien=" 2 ")
    raw["TaiLieuNop"][0]["NoiDungBase64"] = " JVBERi0= "
    before = copy.deepcopy(raw)
    normal = normalise_dossier(raw)
    assert raw == before
    assert isinstance(normal, dict) and "Khac" not in normal and normal["KenhThucHien"] == 2
    assert normalise_dossier(normal) == normal  # idempotent


# --- surrounding whitespace -------------------------------------------------------------------


def test_whitespace_around_dossier_code_and_ids_is_trimmed() -> None:
    raw = sample_dossier(MaHoSo="  000.00.12.H56-240115-0001\t", MaTTHC=" 1.001776 ")
    raw["ChuHoSo"]["SoDinhDanh"] = " 038075004321 "
    raw["DuLieuToKhai"].update(SoDinhDanh="\n038141001234  ", NhomDoiTuong=" NCT_80_KHONG_LUONG ",
                               NgaySinh=" 02/03/1941 ")
    raw["TaiLieuNop"][0].update(MaThanhPhanHoSo=" TK_1C ", TenTepDinhKem=" to-khai-1c.pdf ")
    dossier = parse_ok(raw)
    assert dossier == parse_ok(sample_dossier())
    assert dossier.code == "000.00.12.H56-240115-0001"
    assert (dossier.applicant.personal_id, dossier.beneficiary.personal_id) == ("038075004321", "038141001234")


def test_whitespace_inside_a_value_is_not_trimmed() -> None:
    assert faults(sample_dossier(MaHoSo="000.00.12.H56 -240115-0001")) == [("MaHoSo", "invalid_dossier_code")]
    raw = sample_dossier()
    raw["DuLieuToKhai"]["SoDinhDanh"] = "038141 001234"
    assert faults(raw) == [("DuLieuToKhai.SoDinhDanh", "id_format")]
    raw = sample_dossier()
    raw["DuLieuToKhai"]["NoiThuongTru"]["DiaChiChiTiet"] = "  Thôn 3,  xóm  Đông "
    assert parse_ok(raw).beneficiary.residence.detail == "Thôn 3,  xóm  Đông"


def test_a_declared_file_id_with_whitespace_matches_its_file() -> None:
    raw = sample_dossier()
    raw["TaiLieuNop"][0].update(TepDinhKemId=" f1 ", MaBam=None)
    attachments = attachments_for(sample_dossier())
    assert parse_ok(raw, attachments).documents[0].file_id == "f1"


# --- the fingerprint is of the normalised dossier ---------------------------------------------


def test_number_spellings_unknown_members_and_padding_give_the_same_fingerprint() -> None:
    base = sample_dossier()
    attachments = attachments_for(base)
    variant = sample_dossier(KenhThucHien=" 2", MaHoSo=" 000.00.12.H56-240115-0001 ", NgayTiepNhan=20240115083000,
                             PhienBanXuatKhau="3.1")
    variant["DuLieuToKhai"].update(GioiTinh="2", MaDanToc=1, TruongMoi={"a": 1})
    variant["TaiLieuNop"][0]["KichThuoc"] = 999
    assert fingerprint(parse_ok(variant, attachments), attachments) == fingerprint(parse_ok(base, attachments),
                                                                                   attachments)
    assert fingerprint(parse_ok(gender(" 2 "), attachments), attachments) == fingerprint(
        parse_ok(base, attachments), attachments)
