"""parse_death_notice (province-api.md §5): the sample is valid; each rule gives its fault at its path,
every fault at once; the tolerant reader; the fingerprint; the funeral dossier it gives rise to."""

from __future__ import annotations

import copy
from datetime import date
from typing import Any

import pytest

from adapters.province.samples import DECEASED, sample_death_notice, sample_death_notice_of, sample_pdf_bytes
from mappings.admin_units import Rule
from mappings.death_notice import (
    NOTICE_FIELDS,
    funeral_dossier,
    normalise_notice,
    notice_fingerprint,
    notice_from_json,
    notice_to_json,
    parse_death_notice,
)
from mappings.errors import FieldError
from mappings.ministry import to_ministry_body
from mappings.model import Address, AttachmentFacts, DeathNotice, DeathRegistration, Document, FuneralRecipient
from mappings.model import PartialDate as PD
from mappings.reader import Kind

from .helpers import attachments_for, facts

TODAY = date(2026, 6, 1)
Raw = dict[str, Any]
DELETE = object()


def parse(raw: Any, attachments: dict[str, AttachmentFacts] | None = None) -> tuple[DeathNotice | None,
                                                                                   list[FieldError]]:
    return parse_death_notice(raw, attachments_for(raw) if attachments is None else attachments, today=TODAY)


def parse_ok(raw: Any) -> DeathNotice:
    notice, errors = parse(raw)
    assert errors == []
    assert notice is not None
    return notice


def faults(raw: Any, attachments: dict[str, AttachmentFacts] | None = None) -> list[tuple[str, str]]:
    notice, errors = parse(raw, attachments)
    assert notice is None
    return [(e.field, e.code) for e in errors]


def edited(**changes: Any) -> Raw:
    """The sample with dotted paths (``NguoiMat.NoiThuongTru.MaXa``) set, or deleted with :data:`DELETE`."""
    raw = sample_death_notice()
    for dotted, value in changes.items():
        *parents, last = dotted.split("__")
        node: Any = raw
        for key in parents:
            node = node[key]
        if value is DELETE:
            del node[last]
        else:
            node[last] = value
    return raw


# --- valid notices --------------------------------------------------------------------------------


def test_the_sample_parses() -> None:
    notice = parse_ok(sample_death_notice())
    assert notice.code == "000.00.12.H56-241002-0007"
    assert notice.received_at.isoformat() == "2024-10-02T09:00:00+07:00"
    assert notice.processing_unit == "16171"
    dec = notice.deceased
    assert (dec.full_name, dec.personal_id, dec.birth_date, dec.gender) == ("Nguyễn Thị Hoa", "038141001234",
                                                                             PD(1941, 3, 2), 2)
    assert (dec.ethnic_code, dec.group_code) == ("01", "NCT_80_KHONG_LUONG")
    assert dec.residence == Address("38", "16171", "Thôn 3", "38", "16171")
    assert notice.died_on == date(2024, 9, 28)
    assert notice.registration == DeathRegistration("123/TLKT-BS", date(2024, 10, 1), "UBND xã Ba Đình")
    assert notice.recipient == FuneralRecipient("Trần Văn Nam", "038075004321", "0912345678", "CON")
    assert notice.documents == (Document("k1", "trich-luc-khai-tu.pdf", "TRICH_LUC_KHAI_TU", None),
                                Document("k2", "to-khai-mai-tang.pdf", "TK_MAI_TANG", None))
    # 2024: the codes are read in the pre-2025 list (16171 was Xã Nga Trường) and the reading recorded.
    assert [(t.field, t.received, t.code) for t in notice.translations] == [
        ("province", "38", "38"), ("commune", "16171", "16171"), ("processing_unit", "16171", "16171")]


@pytest.mark.parametrize("person", sorted(DECEASED))
def test_the_samples_of_other_people_parse(person: str) -> None:
    notice = parse_ok(sample_death_notice_of(person))
    assert notice.code == DECEASED[person]["code"]


def test_other_people_differ_where_the_table_says() -> None:
    lan = parse_ok(sample_death_notice_of("lan")).deceased
    assert (lan.full_name, lan.personal_id, lan.birth_date) == ("Phạm Thị Lan", "038130005678", PD(1930))
    binh = parse_ok(sample_death_notice_of("binh")).deceased
    assert binh.group_code is None  # not declared: the ministry's record (none here) would give it
    assert len({n["MaHoSoLienThong"] for n in map(sample_death_notice_of, DECEASED)}) == len(DECEASED)


def test_optional_members_may_be_left_out() -> None:
    notice = parse_ok(edited(NguoiMat__NhomDoiTuong=DELETE, NguoiNhanMaiTang__SoDinhDanh=DELETE,
                             NguoiNhanMaiTang__SoDienThoai=" ", NguoiNhanMaiTang__QuanHeVoiNguoiMat=DELETE))
    assert notice.deceased.group_code is None
    assert notice.recipient == FuneralRecipient("Trần Văn Nam", None, None, None)


def test_dates_in_order_on_the_same_day_are_valid() -> None:
    notice = parse_ok(edited(NguoiMat__NgaySinh="02/10/1941", NguoiMat__NgayMat="2/10/2024",
                             KhaiTu__NgayDangKy="02/10/2024"))
    assert notice.died_on == notice.registration.registered_on == date(2024, 10, 2)
    # A death in the year of a birth known to the year only is not before it.
    assert parse_ok(edited(NguoiMat__NgaySinh="1941", NguoiMat__NgayMat="01/01/1941", KhaiTu__NgayDangKy="01/10/2024"))


# --- each rule: its fault at its path ---------------------------------------------------------------

RULES: list[tuple[str, dict[str, Any], list[tuple[str, str]]]] = [
    ("id vs birth year", {"NguoiMat__NgaySinh": "02/03/1942"}, [("NguoiMat.SoDinhDanh", "id_birth_year_mismatch")]),
    ("id vs partial birth year", {"NguoiMat__NgaySinh": "1951"}, [("NguoiMat.SoDinhDanh", "id_birth_year_mismatch")]),
    ("id vs gender", {"NguoiMat__GioiTinh": 1}, [("NguoiMat.SoDinhDanh", "id_gender_mismatch")]),
    ("unknown gender", {"NguoiMat__GioiTinh": 3}, [("NguoiMat.GioiTinh", "unknown_gender")]),
    ("id format", {"NguoiMat__SoDinhDanh": "03814100123"}, [("NguoiMat.SoDinhDanh", "id_format")]),
    ("death before birth", {"NguoiMat__NgaySinh": "1941", "NguoiMat__NgayMat": "31/12/1940"},
     [("NguoiMat.NgayMat", "death_before_birth")]),
    ("death after registration", {"NguoiMat__NgayMat": "02/10/2024"},
     [("KhaiTu.NgayDangKy", "death_after_registration")]),
    ("registration after received", {"KhaiTu__NgayDangKy": "03/10/2024"},
     [("NgayTiepNhan", "registration_after_received")]),
    ("death after received", {"NguoiMat__NgayMat": "03/10/2024", "KhaiTu__NgayDangKy": DELETE},
     [("KhaiTu.NgayDangKy", "required"), ("NgayTiepNhan", "death_after_received")]),
    ("death and registration after received", {"NguoiMat__NgayMat": "03/10/2024", "KhaiTu__NgayDangKy": "04/10/2024"},
     [("NgayTiepNhan", "death_after_received"), ("NgayTiepNhan", "registration_after_received")]),
    ("death not a real date", {"NguoiMat__NgayMat": "31/02/2024"}, [("NguoiMat.NgayMat", "invalid_date")]),
    ("death a partial date", {"NguoiMat__NgayMat": "09/2024"}, [("NguoiMat.NgayMat", "invalid_date")]),
    ("registration in the future", {"KhaiTu__NgayDangKy": "01/10/2099"},
     [("KhaiTu.NgayDangKy", "future_date")]),  # a date at fault takes part in no order
    ("birth not a real date", {"NguoiMat__NgaySinh": "30/02/1941"}, [("NguoiMat.NgaySinh", "invalid_date")]),
    ("MaDanToc missing", {"NguoiMat__MaDanToc": DELETE}, [("NguoiMat.MaDanToc", "required")]),
    ("MaDanToc unknown", {"NguoiMat__MaDanToc": "55"}, [("NguoiMat.MaDanToc", "unknown_ethnic_group")]),
    ("group unknown", {"NguoiMat__NhomDoiTuong": "KHONG_CO"}, [("NguoiMat.NhomDoiTuong", "unknown_beneficiary_group")]),
    ("unknown commune", {"NguoiMat__NoiThuongTru": {"MaTinh": "38", "MaXa": "99999"}},
     [("NguoiMat.NoiThuongTru.MaXa", "unknown_commune")]),
    ("commune not in province", {"NguoiMat__NoiThuongTru": {"MaTinh": "02", "MaXa": "02269"}},
     [("NguoiMat.NoiThuongTru.MaXa", "commune_not_in_province")]),
    ("notice code", {"MaHoSoLienThong": "HS 7"}, [("MaHoSoLienThong", "invalid_dossier_code")]),
    ("received", {"NgayTiepNhan": "20241302090000"}, [("NgayTiepNhan", "invalid_timestamp")]),
    ("extract number", {"KhaiTu__SoTrichLuc": DELETE}, [("KhaiTu.SoTrichLuc", "required")]),
    ("authority", {"KhaiTu__CoQuanDangKy": ""}, [("KhaiTu.CoQuanDangKy", "required")]),
    ("no registration", {"KhaiTu": DELETE}, [("KhaiTu", "required")]),
    ("recipient name", {"NguoiNhanMaiTang__HoTen": DELETE}, [("NguoiNhanMaiTang.HoTen", "required")]),
    ("recipient id", {"NguoiNhanMaiTang__SoDinhDanh": "999075004321"},
     [("NguoiNhanMaiTang.SoDinhDanh", "id_province")]),
    ("recipient phone", {"NguoiNhanMaiTang__SoDienThoai": "12345"},
     [("NguoiNhanMaiTang.SoDienThoai", "invalid_phone")]),
    ("deceased missing", {"NguoiMat": DELETE}, [("NguoiMat", "required")]),
]


@pytest.mark.parametrize(("changes", "expected"), [(c, e) for _, c, e in RULES], ids=[n for n, _, _ in RULES])
def test_each_rule_gives_its_fault_at_its_path(changes: dict[str, Any], expected: list[tuple[str, str]]) -> None:
    assert faults(edited(**changes)) == expected


@pytest.mark.parametrize(("kept", "missing"), [("k1", "TK_MAI_TANG"), ("k2", "TRICH_LUC_KHAI_TU")])
def test_both_components_are_required(kept: str, missing: str) -> None:
    raw = sample_death_notice()
    raw["TaiLieuNop"] = [item for item in raw["TaiLieuNop"] if item["TepDinhKemId"] == kept]
    notice, errors = parse(raw)
    assert notice is None
    [error] = errors
    assert (error.field, error.code) == ("TaiLieuNop", "component_missing")
    assert missing in error.message


def test_files_are_matched_as_for_a_dossier() -> None:
    raw = sample_death_notice()
    attachments = attachments_for(raw)
    del attachments["k2"]
    attachments["x9"] = facts(b"%PDF-1.4 other")
    assert faults(raw, attachments) == [("TaiLieuNop[1].TepDinhKemId", "attachment_missing"),
                                        ("x9", "attachment_undeclared")]
    raw["TaiLieuNop"][0]["MaBam"] = "0" * 64
    assert faults(raw) == [("TaiLieuNop[0].MaBam", "hash_mismatch")]
    raw = sample_death_notice()
    raw["TaiLieuNop"].append({"TepDinhKemId": "k3", "TenTepDinhKem": "1c.pdf", "MaThanhPhanHoSo": "TK_1C"})
    assert faults(raw) == [("TaiLieuNop[2].MaThanhPhanHoSo", "declaration_mismatch")]


def test_date_messages_are_vietnamese_and_name_the_dates() -> None:
    _, errors = parse(edited(NguoiMat__NgayMat="03/10/2024", KhaiTu__NgayDangKy="04/10/2024"))
    assert [e.message for e in errors] == [
        "Ngày tiếp nhận 02/10/2024 sớm hơn ngày mất 03/10/2024.",
        "Ngày tiếp nhận 02/10/2024 sớm hơn ngày đăng ký khai tử 04/10/2024.",
    ]
    _, errors = parse(edited(NguoiMat__NgaySinh="1941", NguoiMat__NgayMat="31/12/1940"))
    assert errors[0].message == "Ngày mất 31/12/1940 sớm hơn ngày sinh 1941."
    _, errors = parse(edited(NguoiMat__NgayMat="02/10/2024"))
    assert errors[0].message == "Ngày đăng ký khai tử 01/10/2024 sớm hơn ngày mất 02/10/2024."
    _, errors = parse(edited(NguoiMat__NgayMat="31/02/2024"))
    assert "Ngày sinh" not in errors[0].message and "31/02/2024" in errors[0].message


# --- the 2025 reform: codes read by the notice's NgayTiepNhan ----------------------------------------


def test_a_pre2025_commune_on_a_2024_notice_is_translated() -> None:
    # 16096 was Xã Ba Đình (Nga Sơn); since 1 July 2025 it is part of the Xã Ba Đình coded 16171.
    notice = parse_ok(edited(NguoiMat__NoiThuongTru={"MaTinh": "38", "MaXa": "16096", "DiaChiChiTiet": "Thôn 3"},
                             MaDonViXuLy="16096"))
    assert notice.deceased.residence == Address("38", "16171", "Thôn 3", "38", "16096")
    assert notice.processing_unit == "16171"
    assert [(t.field, t.received, t.code, t.rule) for t in notice.translations[1:]] == [
        ("commune", "16096", "16171", Rule.ONE_TO_ONE), ("processing_unit", "16096", "16171", Rule.ONE_TO_ONE)]


NOTICE_2026 = {"NgayTiepNhan": "20260115090000", "NguoiMat__NgayMat": "10/01/2026", "KhaiTu__NgayDangKy": "12/01/2026"}


def test_an_old_only_code_on_a_2026_notice_is_refused_with_the_code_in_force_suggested() -> None:
    notice, errors = parse(edited(**NOTICE_2026, NguoiMat__NoiThuongTru={"MaTinh": "38", "MaXa": "16096"},
                                  MaDonViXuLy="16096"))
    assert notice is None
    assert [(e.field, e.code) for e in errors] == [("NguoiMat.NoiThuongTru.MaXa", "old_commune_code"),
                                                   ("MaDonViXuLy", "old_commune_code")]
    assert all([code for code, _ in e.choices] == ["16171"] for e in errors)


def test_a_2026_notice_with_codes_in_force_records_no_translation() -> None:
    notice = parse_ok(edited(**NOTICE_2026))
    assert notice.translations == ()
    assert notice.received_at.year == 2026


# --- every fault at once ---------------------------------------------------------------------------


def test_every_fault_is_reported_at_once() -> None:
    raw = edited(MaHoSoLienThong="sai", NguoiMat__GioiTinh=1, NguoiMat__MaDanToc=DELETE,
                 NguoiMat__NoiThuongTru={"MaTinh": "38", "MaXa": "99999"}, NguoiMat__NgayMat="02/10/2024",
                 KhaiTu__NgayDangKy="01/10/2024", KhaiTu__CoQuanDangKy=DELETE,
                 NguoiNhanMaiTang__SoDienThoai="12", TaiLieuNop=[sample_death_notice()["TaiLieuNop"][0]])
    assert faults(raw) == [
        ("MaHoSoLienThong", "invalid_dossier_code"),
        ("NguoiMat.SoDinhDanh", "id_gender_mismatch"),
        ("NguoiMat.MaDanToc", "required"),
        ("NguoiMat.NoiThuongTru.MaXa", "unknown_commune"),
        ("KhaiTu.NgayDangKy", "death_after_registration"),
        ("KhaiTu.CoQuanDangKy", "required"),
        ("NguoiNhanMaiTang.SoDienThoai", "invalid_phone"),
        ("TaiLieuNop", "component_missing"),
    ]


def test_not_an_object_is_one_fault() -> None:
    assert faults([]) == [("$", "invalid_type")]
    assert faults(edited(NguoiMat="Nguyễn Thị Hoa")) == [("NguoiMat", "invalid_type")]


# --- the tolerant reader ---------------------------------------------------------------------------


def test_every_member_of_the_sample_is_in_the_shape() -> None:
    for person in DECEASED:
        raw = sample_death_notice_of(person)
        assert normalise_notice(raw) == raw
    assert NOTICE_FIELDS["NguoiMat.SoDinhDanh"] is Kind.TEXT  # a number would lose its leading zero
    assert NOTICE_FIELDS["NguoiMat.GioiTinh"] is Kind.INTEGER
    assert NOTICE_FIELDS["NguoiMat.NoiThuongTru.MaXa"] is Kind.CODE


def respelled() -> Raw:
    """The sample as another export might write it: the same content."""
    raw = sample_death_notice()
    raw["NgayTiepNhan"] = 20241002090000
    raw["MaDonViXuLy"] = 16171
    raw["Extra"] = {"anything": [1, 2]}
    dead = raw["NguoiMat"]
    dead.update(GioiTinh="2", MaDanToc=1, HoTen="  Nguyễn   Thị Hoa ", NgayMat=" 28/09/2024", TuoiKhiMat=83)
    dead["NoiThuongTru"].update(MaTinh=38, MaXa=16171)
    raw["KhaiTu"]["CoQuanDangKy"] = "UBND xã Ba Đình\n"
    raw["NguoiNhanMaiTang"]["SoDienThoai"] = "091 234 5678"
    raw["TaiLieuNop"] = [{**item, "Ghi": "x"} for item in reversed(raw["TaiLieuNop"])]
    return raw


def test_numbers_as_strings_codes_as_numbers_and_unknown_members_read_the_same() -> None:
    notice = parse_ok(respelled())
    expected = parse_ok(sample_death_notice())
    assert notice.deceased == expected.deceased
    assert notice.recipient == expected.recipient
    assert (notice.code, notice.received_at, notice.processing_unit) == (
        expected.code, expected.received_at, expected.processing_unit)
    assert set(notice.documents) == set(expected.documents)


@pytest.mark.parametrize("value", [True, 2.0, "nữ", [2]])
def test_a_gender_of_another_type_is_reported(value: Any) -> None:
    assert faults(edited(NguoiMat__GioiTinh=value)) == [("NguoiMat.GioiTinh", "invalid_type")]


def test_the_extract_number_may_be_a_json_number() -> None:
    assert parse_ok(edited(KhaiTu__SoTrichLuc=123)).registration.number == "123"


# --- canonical form and fingerprint ----------------------------------------------------------------


def test_the_json_form_round_trips() -> None:
    for raw in (sample_death_notice(), sample_death_notice_of("lan"),
                edited(NguoiMat__NoiThuongTru={"MaTinh": "38", "MaXa": "16096"})):
        notice = parse_ok(raw)
        assert notice_from_json(copy.deepcopy(notice_to_json(notice))) == notice


def test_the_fingerprint_is_the_same_whatever_the_spelling() -> None:
    raw = sample_death_notice()
    first = notice_fingerprint(parse_ok(raw), attachments_for(raw))
    other = respelled()
    other["TaiLieuNop"][0]["MaBam"] = attachments_for(other)["k2"].sha256.upper()
    assert notice_fingerprint(parse_ok(other), attachments_for(other)) == first


def test_the_fingerprint_changes_with_the_content_or_the_bytes() -> None:
    raw = sample_death_notice()
    first = notice_fingerprint(parse_ok(raw), attachments_for(raw))
    later = edited(NguoiMat__NgayMat="27/09/2024")
    assert notice_fingerprint(parse_ok(later), attachments_for(later)) != first
    attachments = {**attachments_for(raw), "k1": facts(sample_pdf_bytes("another extract"))}
    assert notice_fingerprint(parse_ok(raw), attachments) != first


# --- the funeral dossier ---------------------------------------------------------------------------

FILE_IDS = {"k1": "TT-1", "k2": "TT-2"}


def test_the_funeral_dossier_maps_to_the_ministry_body() -> None:
    notice = parse_ok(sample_death_notice())
    dossier = funeral_dossier(notice, group_code="NCT_80_KHONG_LUONG")
    assert (dossier.procedure_code, dossier.channel, dossier.due_at) == ("1.001731", 2, None)
    body = to_ministry_body(dossier, FILE_IDS)
    assert body["maThuTuc"] == "1.001731"
    assert body["maHoSoTinh"] == "000.00.12.H56-241002-0007"
    assert body["ngayNop"] == "2024-10-02T09:00:00+07:00"
    assert body["kenhNop"] == "TRUC_TUYEN"
    assert body["maDonViTiepNhan"] == "16171"
    assert body["nguoiNop"] == {"hoTen": "Trần Văn Nam", "soDinhDanh": "038075004321", "soDienThoai": "0912345678",
                                "quanHeVoiDoiTuong": "CON"}
    ben = body["doiTuong"]
    assert (ben["hoTen"], ben["soDinhDanh"], ben["ngaySinh"], ben["gioiTinh"]) == (
        "Nguyễn Thị Hoa", "038141001234", "1941-03-02", "NU")
    assert (ben["maDanToc"], ben["nhomDoiTuong"]) == ("01", "NCT_80_KHONG_LUONG")
    assert ben["noiThuongTru"] == {"maTinh": "38", "maXa": "16171", "diaChiChiTiet": "Thôn 3"}
    assert [(c["maThanhPhan"], c["tepTinIds"]) for c in body["thanhPhanHoSo"]] == [
        ("TRICH_LUC_KHAI_TU", ["TT-1"]), ("TK_MAI_TANG", ["TT-2"])]
    assert dossier.translations == notice.translations


def test_the_funeral_dossier_takes_the_group_the_caller_gives() -> None:
    notice = parse_ok(sample_death_notice_of("binh"))
    body = to_ministry_body(funeral_dossier(notice, group_code="NKT_NANG"), FILE_IDS)
    assert body["doiTuong"]["nhomDoiTuong"] == "NKT_NANG"
    lan = to_ministry_body(funeral_dossier(parse_ok(sample_death_notice_of("lan")), group_code="NCT_80_KHONG_LUONG"),
                           FILE_IDS)
    assert lan["doiTuong"]["ngaySinh"] == "1930-01-01" and "1930" in lan["ghiChu"]
    with pytest.raises(ValueError, match="KHONG_CO"):
        funeral_dossier(notice, group_code="KHONG_CO")
