"""parse_dossier: valid samples parse; every fault is listed at once, with its field path and stable code."""

from __future__ import annotations

import copy
import hashlib
import unicodedata
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest

from adapters.province.samples import sample_dossier, sample_funeral_dossier, sample_pdf_bytes
from mappings.dates import VN_TZ
from mappings.model import Address, Applicant, Document, PartialDate
from mappings.province import parse_dossier

from .helpers import attachments_for, facts, faults, parse, parse_ok

Raw = dict[str, Any]

_DELETE = object()


def edit(raw: Raw, path: str, value: Any) -> Raw:
    """A copy of ``raw`` with the dotted ``path`` (``TaiLieuNop.0.MaBam``) set, or deleted with ``_DELETE``."""
    out = copy.deepcopy(raw)
    *parents, last = path.split(".")
    node: Any = out
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node[key]
    if value is _DELETE:
        del node[last]
    elif isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return out


def docs(*items: tuple[str, str]) -> list[dict[str, str]]:
    """TaiLieuNop entries (file id, component code)."""
    return [{"TepDinhKemId": fid, "TenTepDinhKem": f"{fid}.pdf", "MaThanhPhanHoSo": code} for fid, code in items]


def with_group(group: str, *items: tuple[str, str]) -> Raw:
    raw = edit(sample_dossier(), "DuLieuToKhai.NhomDoiTuong", group)
    raw["TaiLieuNop"] = docs(*items)
    return raw


# --- valid dossiers ---------------------------------------------------------------------------


def test_the_monthly_allowance_sample_parses() -> None:
    dossier = parse_ok(sample_dossier())
    assert dossier.code == "000.00.12.H56-240115-0001"
    assert dossier.procedure_code == "1.001776"
    assert dossier.channel == 2
    assert dossier.received_at == datetime(2024, 1, 15, 8, 30, tzinfo=dossier.received_at.tzinfo)
    assert dossier.received_at.utcoffset() == timedelta(hours=7)
    assert dossier.due_at is not None and dossier.due_at.isoformat() == "2024-02-05T17:00:00+07:00"
    assert dossier.processing_unit == "16171"
    assert dossier.applicant == Applicant("Trần Văn Nam", "038075004321", "0912345678", None)
    ben = dossier.beneficiary
    assert ben.full_name == "Nguyễn Thị Hoa"
    assert ben.birth_date == PartialDate(1941, 3, 2)
    assert (ben.gender, ben.personal_id, ben.ethnic_code) == (2, "038141001234", "01")
    assert ben.residence == Address("38", "16171", "Thôn 3", "38", "16171")
    assert (ben.group_code, ben.relation_to_applicant) == ("NCT_80_KHONG_LUONG", "CON")
    assert dossier.documents == (Document("f1", "to-khai-1c.pdf", "TK_1C", None),)


def test_the_funeral_sample_parses() -> None:
    dossier = parse_ok(sample_funeral_dossier())
    assert dossier.procedure_code == "1.001731"
    assert [d.component_code for d in dossier.documents] == ["TK_MAI_TANG", "TRICH_LUC_KHAI_TU"]


@pytest.mark.parametrize(
    ("group", "items"),
    [
        ("TE_DUOI_4", [("f1", "TK_1A")]),
        ("TN_16_22", [("f1", "TK_1A")]),
        ("TE_DUOI_3_DTTS_NGHEO", [("f1", "TK_1A")]),
        ("HIV_TE_NGHEO", [("f1", "TK_1B")]),
        ("HIV_NGHEO", [("f1", "TK_1B")]),
        ("DON_THAN_NGHEO", [("f1", "TK_1B")]),
        ("NCT_75_DTTS", [("f1", "TK_1C")]),
        ("NCT_KHONG_NOI_NUONG_TUA", [("f1", "TK_1C"), ("f2", "BAN_SAO_GIAY_TO_TUY_THAN"), ("f3", "GIAY_TO_KHAC")]),
        ("NKT_NANG", [("f1", "TK_1D"), ("f2", "GXN_KHUYET_TAT")]),
        ("NKT_DAC_BIET_NANG", [("f2", "GXN_KHUYET_TAT"), ("f1", "TK_1D")]),
    ],
)
def test_each_group_with_its_declaration_form_parses(group: str, items: list[tuple[str, str]]) -> None:
    dossier = parse_ok(with_group(group, *items))
    assert dossier.beneficiary.group_code == group
    assert [(d.file_id, d.component_code) for d in dossier.documents] == items


@pytest.mark.parametrize(
    ("text", "expected"),
    [("03/1941", PartialDate(1941, 3)), ("1941", PartialDate(1941)), ("2/3/1941", PartialDate(1941, 3, 2))],
)
def test_partial_birth_dates_parse(text: str, expected: PartialDate) -> None:
    assert parse_ok(edit(sample_dossier(), "DuLieuToKhai.NgaySinh", text)).beneficiary.birth_date == expected


def test_tolerated_spellings() -> None:
    raw = sample_dossier(KenhThucHien="2", NgayTiepNhan=20240115083000, MaDonViXuLy=16171)
    raw["DuLieuToKhai"].update(GioiTinh="2", MaDanToc=1, NoiThuongTru={"MaTinh": 38, "MaXa": 16171})
    raw["DuLieuToKhai"]["HoTen"] = "  " + unicodedata.normalize("NFD", "Nguyễn   Thị  Hoa") + " "
    raw["ChuHoSo"].update(SoDienThoai="091 234.5678", Email="")
    raw["TaiLieuNop"][0]["TepDinhKemId"] = 1
    dossier = parse_ok(raw, {"1": facts(b"x")})
    assert dossier.channel == 2
    assert dossier.processing_unit == "16171"
    ben = dossier.beneficiary
    assert (ben.gender, ben.ethnic_code, ben.full_name) == (2, "01", "Nguyễn Thị Hoa")
    assert (ben.residence.province_code, ben.residence.commune_code, ben.residence.detail) == ("38", "16171", None)
    assert (dossier.applicant.phone, dossier.applicant.email) == ("0912345678", None)
    assert dossier.documents[0].file_id == "1"


def test_unknown_keys_are_ignored() -> None:
    parse_ok(sample_dossier(TruongLa="x", DuLieuToKhai={**sample_dossier()["DuLieuToKhai"], "Khac": 1}))


def test_optional_fields_may_be_absent() -> None:
    raw = sample_dossier()
    for key in ("NgayHenTra", "TenTTHC"):
        del raw[key]
    raw["ChuHoSo"] = {"HoTen": "Trần Văn Nam"}
    for key in ("QuanHeVoiChuHoSo",):
        del raw["DuLieuToKhai"][key]
    del raw["DuLieuToKhai"]["NoiThuongTru"]["DiaChiChiTiet"]
    dossier = parse_ok(raw)
    assert dossier.due_at is None
    assert dossier.procedure_name == "Thực hiện, điều chỉnh, thôi hưởng trợ cấp xã hội hằng tháng, hỗ trợ kinh phí " \
        "chăm sóc, nuôi dưỡng hằng tháng"
    assert dossier.applicant == Applicant("Trần Văn Nam", None, None, None)
    assert dossier.beneficiary.relation_to_applicant is None


def test_pre2025_province_code_is_translated_and_kept() -> None:
    # Received 2024: Hà Giang (02), Xã Kim Thạch of Vị Xuyên (00703) -> Tuyên Quang, Xã Phú Linh.
    raw = edit(sample_dossier(), "DuLieuToKhai.NoiThuongTru", {"MaTinh": "02", "MaXa": "00703"})
    residence = parse_ok(raw).beneficiary.residence
    assert (residence.province_code, residence.commune_code) == ("08", "00706")
    assert (residence.submitted_province_code, residence.submitted_commune_code) == ("02", "00703")


def test_declared_hash_is_checked_case_insensitively() -> None:
    raw = sample_dossier()
    data = sample_pdf_bytes("to khai")
    raw["TaiLieuNop"][0]["MaBam"] = hashlib.sha256(data).hexdigest().upper()
    dossier = parse_ok(raw, {"f1": facts(data)})
    assert dossier.documents[0].declared_sha256 == hashlib.sha256(data).hexdigest()


def test_same_input_same_result() -> None:
    assert parse(sample_dossier()) == parse(sample_dossier())


# --- one fault at a time: field path and stable code --------------------------------------------

SINGLE_FAULTS: list[tuple[str, Callable[[], Raw], list[tuple[str, str]]]] = [
    ("procedure", lambda: sample_dossier(MaTTHC="9.999999"), [("MaTTHC", "unknown_procedure")]),
    ("procedure missing", lambda: sample_dossier(MaTTHC=None), [("MaTTHC", "required")]),
    ("dossier code", lambda: sample_dossier(MaHoSo="HS 1"), [("MaHoSo", "invalid_dossier_code")]),
    ("dossier code digits", lambda: sample_dossier(MaHoSo="000.00.12.H56-２４０115-0001"),
     [("MaHoSo", "invalid_dossier_code")]),
    ("channel", lambda: sample_dossier(KenhThucHien=4), [("KenhThucHien", "unknown_channel")]),
    ("channel type", lambda: sample_dossier(KenhThucHien=True), [("KenhThucHien", "invalid_type")]),
    ("timestamp", lambda: sample_dossier(NgayTiepNhan="2024-01-15 08:30"), [("NgayTiepNhan", "invalid_timestamp")]),
    ("timestamp unreal", lambda: sample_dossier(NgayHenTra="20240230170000"), [("NgayHenTra", "invalid_timestamp")]),
    ("due before received", lambda: sample_dossier(NgayHenTra="20240114170000"),
     [("NgayHenTra", "due_before_received")]),
    ("unit", lambda: sample_dossier(MaDonViXuLy=""), [("MaDonViXuLy", "required")]),
    ("applicant", lambda: sample_dossier(ChuHoSo="Nam"), [("ChuHoSo", "invalid_type")]),
    ("applicant id", lambda: edit(sample_dossier(), "ChuHoSo.SoDinhDanh", "12345"),
     [("ChuHoSo.SoDinhDanh", "id_format")]),
    ("applicant phone", lambda: edit(sample_dossier(), "ChuHoSo.SoDienThoai", "12345"),
     [("ChuHoSo.SoDienThoai", "invalid_phone")]),
    ("applicant email", lambda: edit(sample_dossier(), "ChuHoSo.Email", "nam@"), [("ChuHoSo.Email", "invalid_email")]),
    ("beneficiary", lambda: sample_dossier(DuLieuToKhai=None), [("DuLieuToKhai", "required")]),
    ("name", lambda: edit(sample_dossier(), "DuLieuToKhai.HoTen", " "), [("DuLieuToKhai.HoTen", "required")]),
    ("name too long", lambda: edit(sample_dossier(), "DuLieuToKhai.HoTen", "A" * 101),
     [("DuLieuToKhai.HoTen", "too_long")]),
    ("birth 31/02", lambda: edit(sample_dossier(), "DuLieuToKhai.NgaySinh", "31/02/1941"),
     [("DuLieuToKhai.NgaySinh", "invalid_date")]),
    ("birth future", lambda: edit(sample_dossier(), "DuLieuToKhai.NgaySinh", "02/06/2024"),
     [("DuLieuToKhai.NgaySinh", "future_date")]),
    ("gender", lambda: edit(sample_dossier(), "DuLieuToKhai.GioiTinh", 3),
     [("DuLieuToKhai.GioiTinh", "unknown_gender")]),
    ("gender vs id", lambda: edit(sample_dossier(), "DuLieuToKhai.GioiTinh", 1),
     [("DuLieuToKhai.SoDinhDanh", "id_gender_mismatch")]),
    ("birth year vs id", lambda: edit(sample_dossier(), "DuLieuToKhai.NgaySinh", "02/03/1942"),
     [("DuLieuToKhai.SoDinhDanh", "id_birth_year_mismatch")]),
    ("partial birth year vs id", lambda: edit(sample_dossier(), "DuLieuToKhai.NgaySinh", "1942"),
     [("DuLieuToKhai.SoDinhDanh", "id_birth_year_mismatch")]),
    ("id format", lambda: edit(sample_dossier(), "DuLieuToKhai.SoDinhDanh", "38141001234"),
     [("DuLieuToKhai.SoDinhDanh", "id_format")]),
    ("id province", lambda: edit(sample_dossier(), "DuLieuToKhai.SoDinhDanh", "003141001234"),
     [("DuLieuToKhai.SoDinhDanh", "id_province")]),
    ("id missing", lambda: edit(sample_dossier(), "DuLieuToKhai.SoDinhDanh", _DELETE),
     [("DuLieuToKhai.SoDinhDanh", "required")]),
    ("ethnic", lambda: edit(sample_dossier(), "DuLieuToKhai.MaDanToc", "55"),
     [("DuLieuToKhai.MaDanToc", "unknown_ethnic_group")]),
    ("province", lambda: edit(sample_dossier(), "DuLieuToKhai.NoiThuongTru.MaTinh", "99"),
     [("DuLieuToKhai.NoiThuongTru.MaTinh", "unknown_province")]),
    ("commune", lambda: edit(sample_dossier(), "DuLieuToKhai.NoiThuongTru.MaXa", "99999"),
     [("DuLieuToKhai.NoiThuongTru.MaXa", "unknown_commune")]),
    ("commune elsewhere", lambda: edit(sample_dossier(), "DuLieuToKhai.NoiThuongTru.MaTinh", "01"),
     [("DuLieuToKhai.NoiThuongTru.MaXa", "commune_not_in_province")]),
    ("address missing", lambda: edit(sample_dossier(), "DuLieuToKhai.NoiThuongTru", _DELETE),
     [("DuLieuToKhai.NoiThuongTru", "required")]),
    ("group", lambda: edit(sample_dossier(), "DuLieuToKhai.NhomDoiTuong", "NCT"),
     [("DuLieuToKhai.NhomDoiTuong", "unknown_beneficiary_group")]),
    ("no documents", lambda: sample_dossier(TaiLieuNop=[]),
     [("TaiLieuNop", "empty_list"), ("TaiLieuNop", "component_missing")]),
    ("documents type", lambda: sample_dossier(TaiLieuNop={"f1": "TK_1C"}),
     [("TaiLieuNop", "invalid_type"), ("TaiLieuNop", "component_missing")]),
    ("document type", lambda: sample_dossier(TaiLieuNop=["f1"]),
     [("TaiLieuNop[0]", "invalid_type"), ("TaiLieuNop", "component_missing")]),
    ("file name", lambda: edit(sample_dossier(), "TaiLieuNop.0.TenTepDinhKem", None),
     [("TaiLieuNop[0].TenTepDinhKem", "required")]),
    ("unknown component", lambda: edit(sample_dossier(), "TaiLieuNop.0.MaThanhPhanHoSo", "TK_9"),
     [("TaiLieuNop[0].MaThanhPhanHoSo", "unknown_component"), ("TaiLieuNop", "component_missing")]),
    ("bad hash", lambda: edit(sample_dossier(), "TaiLieuNop.0.MaBam", "abc"),
     [("TaiLieuNop[0].MaBam", "invalid_hash")]),
    ("hash mismatch", lambda: edit(sample_dossier(), "TaiLieuNop.0.MaBam", "0" * 64),
     [("TaiLieuNop[0].MaBam", "hash_mismatch")]),
    ("missing declaration", lambda: with_group("NCT_80_KHONG_LUONG", ("f1", "GIAY_TO_KHAC")),
     [("TaiLieuNop", "component_missing")]),
    ("wrong declaration", lambda: with_group("HIV_NGHEO", ("f1", "TK_1C")),
     [("TaiLieuNop[0].MaThanhPhanHoSo", "declaration_mismatch")]),
    ("funeral form in monthly dossier", lambda: with_group("NCT_80_KHONG_LUONG", ("f1", "TK_MAI_TANG")),
     [("TaiLieuNop[0].MaThanhPhanHoSo", "declaration_mismatch")]),
    ("two declarations", lambda: with_group("NCT_80_KHONG_LUONG", ("f1", "TK_1C"), ("f2", "TK_1A")),
     [("TaiLieuNop", "declaration_multiple")]),
    ("1d without certificate", lambda: with_group("NKT_NANG", ("f1", "TK_1D")), [("TaiLieuNop", "component_missing")]),
    ("funeral without death extract", lambda: sample_funeral_dossier(TaiLieuNop=docs(("f1", "TK_MAI_TANG"))),
     [("TaiLieuNop", "component_missing")]),
    ("funeral with monthly form", lambda: sample_funeral_dossier(
        TaiLieuNop=docs(("f1", "TK_MAI_TANG"), ("f2", "TRICH_LUC_KHAI_TU"), ("f3", "TK_1C"))),
     [("TaiLieuNop[2].MaThanhPhanHoSo", "declaration_mismatch")]),
]  # fmt: skip


@pytest.mark.parametrize(("make", "expected"), [case[1:] for case in SINGLE_FAULTS], ids=[c[0] for c in SINGLE_FAULTS])
def test_single_fault(make: Callable[[], Raw], expected: list[tuple[str, str]]) -> None:
    assert faults(make()) == expected


def test_attachment_missing_and_undeclared() -> None:
    assert faults(sample_dossier(), {"stray": facts(b"x")}) == [
        ("TaiLieuNop[0].TepDinhKemId", "attachment_missing"),
        ("stray", "attachment_undeclared"),  # the multipart part name: the only place it appears
    ]


def test_an_undeclared_file_with_a_blank_name_is_named_by_the_list_it_missed() -> None:
    # Found by the property test: a blank TepDinhKemId declares nothing, and its file came as "".
    raw = sample_dossier(TaiLieuNop=[*docs(("f1", "TK_1C")), {"TepDinhKemId": "", "TenTepDinhKem": "x.pdf",
                                                              "MaThanhPhanHoSo": "GIAY_TO_KHAC"}])
    dossier, errors = parse(raw, {"f1": facts(b"x"), "": facts(b"y")})
    assert dossier is None
    undeclared = [e for e in errors if e.code == "attachment_undeclared"]
    assert [(e.field, e.message) for e in undeclared] == [
        ("TaiLieuNop", 'Tệp "" được gửi kèm nhưng không được khai báo trong TaiLieuNop.')]
    assert all(e.field for e in errors)


def test_duplicate_file_id() -> None:
    raw = sample_dossier(TaiLieuNop=docs(("f1", "TK_1C"), ("f1", "GIAY_TO_KHAC")))
    assert faults(raw) == [("TaiLieuNop[1].TepDinhKemId", "duplicate_file_id")]


@pytest.mark.parametrize("raw", [None, [], "hoso", 1])
def test_not_an_object(raw: Any) -> None:
    assert faults(raw, {}) == [("$", "invalid_type")]


def test_an_empty_object_lists_every_required_field() -> None:
    assert faults({}, {}) == [
        ("MaHoSo", "required"),
        ("MaTTHC", "required"),
        ("KenhThucHien", "required"),
        ("NgayTiepNhan", "required"),
        ("MaDonViXuLy", "required"),
        ("ChuHoSo", "required"),
        ("DuLieuToKhai", "required"),
        ("TaiLieuNop", "required"),
    ]


def test_disability_group_needs_its_form_and_certificate_at_once() -> None:
    raw = with_group("NKT_DAC_BIET_NANG", ("f1", "GIAY_TO_KHAC"))
    _, errors = parse(raw)
    assert [(e.field, e.code) for e in errors] == [
        ("TaiLieuNop", "component_missing"),
        ("TaiLieuNop", "component_missing"),
    ]
    assert "TK_1D" in errors[0].message
    assert "GXN_KHUYET_TAT" in errors[1].message


def test_missing_declaration_without_a_known_group_names_every_form() -> None:
    raw = with_group("KHONG_CO", ("f1", "GIAY_TO_KHAC"))
    _, errors = parse(raw)
    assert [(e.field, e.code) for e in errors] == [
        ("DuLieuToKhai.NhomDoiTuong", "unknown_beneficiary_group"),
        ("TaiLieuNop", "component_missing"),
    ]
    assert "TK_1A/TK_1B/TK_1C/TK_1D" in errors[1].message


# --- every fault at once -----------------------------------------------------------------------


def test_every_fault_is_listed_at_once_in_field_order() -> None:
    raw = sample_dossier(MaTTHC="9.999999", KenhThucHien=7, NgayTiepNhan="20241315083000")
    raw["ChuHoSo"]["SoDienThoai"] = "abc"
    raw["DuLieuToKhai"].update(
        GioiTinh=1,
        NgaySinh="1950",
        MaDanToc="99",
        NoiThuongTru={"MaTinh": "01", "MaXa": "16171"},
    )
    raw["TaiLieuNop"] = [
        {"TepDinhKemId": "f1", "TenTepDinhKem": "a.pdf", "MaThanhPhanHoSo": "TK_1C", "MaBam": "f" * 64},
        {"TepDinhKemId": "f2", "TenTepDinhKem": "b.pdf", "MaThanhPhanHoSo": "TK_X"},
    ]
    attachments = {"f1": facts(b"one"), "f9": facts(b"stray")}
    dossier, errors = parse(raw, attachments)
    assert dossier is None
    assert [(e.field, e.code) for e in errors] == [
        ("MaTTHC", "unknown_procedure"),
        ("KenhThucHien", "unknown_channel"),
        ("NgayTiepNhan", "invalid_timestamp"),
        ("ChuHoSo.SoDienThoai", "invalid_phone"),
        ("DuLieuToKhai.SoDinhDanh", "id_gender_mismatch"),
        ("DuLieuToKhai.SoDinhDanh", "id_birth_year_mismatch"),
        ("DuLieuToKhai.MaDanToc", "unknown_ethnic_group"),
        ("DuLieuToKhai.NoiThuongTru.MaXa", "commune_not_in_province"),
        ("TaiLieuNop[0].MaBam", "hash_mismatch"),
        ("TaiLieuNop[1].MaThanhPhanHoSo", "unknown_component"),
        ("TaiLieuNop[1].TepDinhKemId", "attachment_missing"),
        ("f9", "attachment_undeclared"),
    ]


def test_cross_field_rules_still_run_when_other_fields_fail() -> None:
    raw = sample_dossier(MaHoSo="", KenhThucHien=None)
    raw["DuLieuToKhai"]["GioiTinh"] = 1
    raw["TaiLieuNop"] = docs(("f1", "TK_1A"))
    assert faults(raw) == [
        ("MaHoSo", "required"),
        ("KenhThucHien", "required"),
        ("DuLieuToKhai.SoDinhDanh", "id_gender_mismatch"),
        ("TaiLieuNop[0].MaThanhPhanHoSo", "declaration_mismatch"),
    ]


# --- messages ----------------------------------------------------------------------------------

_VIETNAMESE = set("ăâđêôơưàảãáạằẳẵắặầẩẫấậèẻẽéẹềểễếệìỉĩíịòỏõóọồổỗốộờởỡớợùủũúụừửữứựỳỷỹýỵ")


@pytest.mark.parametrize(("make", "expected"), [case[1:] for case in SINGLE_FAULTS], ids=[c[0] for c in SINGLE_FAULTS])
def test_every_message_is_a_specific_vietnamese_sentence(make: Callable[[], Raw], expected: Any) -> None:
    _, errors = parse(make())
    for error in errors:
        assert error.message
        assert not error.message.startswith("Dữ liệu không hợp lệ ("), error  # the fallback for unknown codes
        assert "{" not in error.message, error  # every placeholder filled
        assert _VIETNAMESE & set(error.message.lower()), error
        assert error.as_dict() == {"field": error.field, "code": error.code, "message": error.message}


def test_messages_quote_the_facts() -> None:
    _, errors = parse(edit(sample_dossier(), "DuLieuToKhai.NgaySinh", "1942"))
    assert "1942" in errors[0].message
    _, errors = parse(sample_dossier(MaTTHC="9.999999"))
    assert "9.999999" in errors[0].message
    _, errors = parse(sample_dossier(), {"stray": facts(b"x")})
    assert "f1" in errors[0].message and "stray" in errors[1].message


def test_funeral_declaration_mismatch_message_names_the_procedure() -> None:
    raw = sample_funeral_dossier(TaiLieuNop=docs(("f1", "TK_MAI_TANG"), ("f2", "TRICH_LUC_KHAI_TU"), ("f3", "TK_1C")))
    _, errors = parse(raw)
    assert "1.001731" in errors[0].message and "TK_MAI_TANG" in errors[0].message


def test_long_values_are_shortened_in_messages() -> None:
    _, errors = parse(sample_dossier(MaHoSo="X" * 60))
    assert errors[0].code == "invalid_dossier_code"
    assert len(errors[0].message) < 200


def test_today_defaults_to_vietnam_today() -> None:
    raw = sample_dossier()
    dossier, errors = parse_dossier(raw, attachments_for(raw))
    assert errors == [] and dossier is not None
    raw = edit(raw, "DuLieuToKhai.NgaySinh", str(datetime.now(VN_TZ).year + 1))
    dossier, errors = parse_dossier(raw, attachments_for(raw))
    assert dossier is None
    assert [(e.field, e.code) for e in errors] == [("DuLieuToKhai.NgaySinh", "future_date")]
