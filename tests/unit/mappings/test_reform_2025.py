"""The 1 July 2025 reform: a dossier's NgayTiepNhan decides which list its unit codes are read in.

Real codes throughout (Decision 19/2025/QĐ-TTg as published in ``communes_pre2025_to_new.csv``).
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from adapters.province.samples import sample_dossier
from mappings.admin_units import REFORM_DAY, Rule, place_processing_unit, place_residence
from mappings.canonical import dossier_from_json, dossier_to_json, fingerprint
from mappings.ministry import to_ministry_body
from tests.unit.mappings.helpers import attachments_for, parse, parse_ok

OLD_DAY = "20240115083000"
NEW_DAY = "20260115083000"


def dossier(received: str, province: str | int, commune: str | int, unit: str | int = "000.00.12.H56") -> Any:
    raw = sample_dossier(NgayTiepNhan=received, NgayHenTra=None, MaDonViXuLy=unit)
    raw["DuLieuToKhai"]["NoiThuongTru"].update(MaTinh=province, MaXa=commune)
    return raw


def residence_sent(raw: Any) -> dict[str, Any]:
    body = to_ministry_body(parse_ok(raw), {"f1": "TT-1"})
    return {"maTinh": body["doiTuong"]["noiThuongTru"]["maTinh"], "maXa": body["doiTuong"]["noiThuongTru"]["maXa"],
            "maDonViTiepNhan": body["maDonViTiepNhan"]}


def faults_of(raw: Any) -> list[tuple[str, str]]:
    found, errors = parse(raw)
    assert found is None
    return [(e.field, e.code) for e in errors]


# One real pre-2025 commune per province the tests name, with the commune in force it became part of.
ONE_TO_ONE = [
    ("38", "14755", "38", "14758"),  # Thanh Hóa: Phường Hàm Rồng (TP Thanh Hóa) -> Phường Hàm Rồng
    ("25", "07888", "25", "07900"),  # Phú Thọ: Phường Dữu Lâu (Việt Trì) -> Phường Việt Trì
    ("08", "02200", "08", "02215"),  # Tuyên Quang: Phường Phan Thiết -> Phường Minh Xuân
    ("02", "00703", "08", "00706"),  # Hà Giang (merged into Tuyên Quang): Xã Kim Thạch -> Xã Phú Linh
    ("56", "22327", "56", "22333"),  # Khánh Hòa: Phường Vĩnh Hòa (Nha Trang) -> Phường Bắc Nha Trang
    ("14", "03649", "14", "03646"),  # Sơn La: Phường Tô Hiệu (TP Sơn La) -> Phường Tô Hiệu, new code
]


@pytest.mark.parametrize(("old_province", "old_commune", "province", "commune"), ONE_TO_ONE)
def test_a_pre2025_dossier_reaches_the_ministry_with_the_codes_in_force(
    old_province: str, old_commune: str, province: str, commune: str
) -> None:
    sent = residence_sent(dossier(OLD_DAY, old_province, old_commune))
    assert (sent["maTinh"], sent["maXa"]) == (province, commune)


@pytest.mark.parametrize(("old_province", "old_commune", "province", "commune"), ONE_TO_ONE)
def test_the_same_old_code_on_a_2026_dossier_is_refused_with_the_new_code_suggested(
    old_province: str, old_commune: str, province: str, commune: str
) -> None:
    found, errors = parse(dossier(NEW_DAY, province, old_commune))
    assert found is None
    [error] = errors
    assert (error.field, error.code) == ("DuLieuToKhai.NoiThuongTru.MaXa", "old_commune_code")
    assert commune in error.message and old_commune in error.message
    assert [code for code, _ in error.choices] == [commune]


def test_a_code_of_both_lists_means_the_old_commune_before_the_reform_and_the_new_one_after() -> None:
    # 16096 was Xã Ba Đình (Nga Sơn); 16171 was Xã Nga Trường and is now the code of the new Xã Ba Đình.
    assert residence_sent(dossier(OLD_DAY, "38", "16096"))["maXa"] == "16171"
    assert faults_of(dossier(NEW_DAY, "38", "16096")) == [("DuLieuToKhai.NoiThuongTru.MaXa", "old_commune_code")]
    assert residence_sent(dossier(NEW_DAY, "38", "16171"))["maXa"] == "16171"
    # 14758 was Phường Đông Thọ (split); today it is Phường Hàm Rồng: read in the list of the dossier's date.
    assert residence_sent(dossier(NEW_DAY, "38", "14758"))["maXa"] == "14758"
    assert faults_of(dossier(OLD_DAY, "38", "14758")) == [
        ("DuLieuToKhai.NoiThuongTru.MaXa", "commune_split_ambiguous")]


def test_the_reform_day_is_read_in_vietnam_time() -> None:
    assert date(2025, 7, 1) == REFORM_DAY
    assert residence_sent(dossier("20250630235959", "38", "16096"))["maXa"] == "16171"
    assert faults_of(dossier("20250701000000", "38", "16096")) == [
        ("DuLieuToKhai.NoiThuongTru.MaXa", "old_commune_code")]


def test_an_old_province_code_on_a_2026_dossier_is_refused_naming_the_province_in_force() -> None:
    found, errors = parse(dossier(NEW_DAY, "02", "00706"))  # Hà Giang's code, a commune in force
    assert found is None
    [error] = errors
    assert (error.field, error.code) == ("DuLieuToKhai.NoiThuongTru.MaTinh", "old_province_code")
    assert "08 (Tuyên Quang)" in error.message and error.choices == (("08", "Tuyên Quang"),)


def test_a_pre2025_commune_must_lie_in_the_pre2025_province() -> None:
    # Xã Thượng Lâm (02269) was in Tuyên Quang's Lâm Bình, not in Hà Giang (02), though both are 08 today.
    assert faults_of(dossier(OLD_DAY, "02", "02269")) == [
        ("DuLieuToKhai.NoiThuongTru.MaXa", "commune_not_in_province")]
    assert residence_sent(dossier(OLD_DAY, "08", "02269"))["maXa"] == "02269"


def test_an_unknown_old_code_says_which_list_it_was_looked_up_in() -> None:
    found, errors = parse(dossier(OLD_DAY, "38", "99999"))
    assert found is None
    [error] = errors
    assert (error.field, error.code) == ("DuLieuToKhai.NoiThuongTru.MaXa", "unknown_commune")
    assert "trước ngày 01/07/2025" in error.message


class TestSplitCommune:
    """Xã Cam Tân (Cam Lâm, Khánh Hòa, 22435) went to Xã Cam Hiệp (22435), Xã Cam Lâm (22453), Xã Suối Dầu (22708)."""

    def test_without_a_telling_processing_unit_it_is_refused_listing_every_candidate(self) -> None:
        found, errors = parse(dossier(OLD_DAY, "56", "22435"))
        assert found is None
        [error] = errors
        assert (error.field, error.code) == ("DuLieuToKhai.NoiThuongTru.MaXa", "commune_split_ambiguous")
        assert error.choices == (("22435", "Xã Cam Hiệp"), ("22453", "Xã Cam Lâm"), ("22708", "Xã Suối Dầu"))
        for code, name in error.choices:
            assert f"{code} ({name})" in error.message

    def test_a_processing_unit_that_is_a_candidate_chooses_it(self) -> None:
        sent = residence_sent(dossier(OLD_DAY, "56", "22435", unit="22708"))
        assert sent["maXa"] == "22708"

    def test_a_processing_unit_that_translates_to_a_candidate_chooses_it(self) -> None:
        # Thanh Hóa: Phường Đông Thọ (14758) split into Hàm Rồng (14758) and Hạc Thành (14797);
        # the processing unit 14755 (old Phường Hàm Rồng) became the new Hàm Rồng, 14758.
        raw = dossier(OLD_DAY, "38", "14758", unit="14755")
        assert residence_sent(raw) == {"maTinh": "38", "maXa": "14758", "maDonViTiepNhan": "14758"}
        commune = next(t for t in parse_ok(raw).translations if t.field == "commune")
        assert commune.rule == Rule.SPLIT_BY_PROCESSING_UNIT

    def test_the_split_commune_as_its_own_processing_unit_is_ambiguous_in_both_fields(self) -> None:
        assert faults_of(dossier(OLD_DAY, "56", "22435", unit="22435")) == [
            ("DuLieuToKhai.NoiThuongTru.MaXa", "commune_split_ambiguous"),
            ("MaDonViXuLy", "commune_split_ambiguous"),
        ]

    def test_a_split_processing_unit_follows_the_residence(self) -> None:
        # The residence's commune in force (22453, Xã Cam Lâm) picks among the unit's candidates.
        unit = place_processing_unit("22435", received_on=date(2024, 1, 15), residence_commune="22453")
        assert unit.code == "22453" and unit.translation is not None
        assert unit.translation.rule == Rule.SPLIT_BY_RESIDENCE


def test_the_processing_unit_is_translated_when_it_is_a_commune_code_and_left_alone_otherwise() -> None:
    assert residence_sent(dossier(OLD_DAY, "38", "16171", unit="26734"))["maDonViTiepNhan"] == "26737"
    assert residence_sent(dossier(OLD_DAY, "38", "16171", unit="389"))["maDonViTiepNhan"] == "389"  # a district
    assert residence_sent(dossier(NEW_DAY, "38", "16171", unit="000.00.12.H56"))["maDonViTiepNhan"] == "000.00.12.H56"
    assert faults_of(dossier(NEW_DAY, "38", "16171", unit="26734")) == [("MaDonViXuLy", "old_commune_code")]


def test_the_revision_keeps_the_codes_received_and_the_translations_made() -> None:
    raw = dossier(OLD_DAY, "02", "703", unit=26734)
    parsed = parse_ok(raw)
    assert (parsed.beneficiary.residence.submitted_province_code,
            parsed.beneficiary.residence.submitted_commune_code) == ("02", "00703")
    content = dossier_to_json(parsed)
    assert [(t["field"], t["received"], t["code"], t["rule"]) for t in content["translations"]] == [
        ("province", "02", "08", "one_to_one"),
        ("commune", "00703", "00706", "one_to_one"),
        ("processing_unit", "26734", "26737", "one_to_one"),
    ]
    assert content["translations"][1]["received_name"] == "Xã Kim Thạch, Huyện Vị Xuyên"
    assert dossier_from_json(content) == parsed


def test_a_revision_stored_before_translations_were_recorded_still_reads_and_fingerprints_alike() -> None:
    parsed = parse_ok(dossier(OLD_DAY, "38", "16171"))
    content = dossier_to_json(parsed)
    del content["translations"]
    assert dossier_from_json(content).translations == ()
    files = attachments_for(dossier(OLD_DAY, "38", "16171"))
    assert fingerprint(dossier_from_json(content), files) == fingerprint(parsed, files)


def test_a_2026_dossier_in_force_codes_records_no_translation() -> None:
    assert parse_ok(dossier(NEW_DAY, "38", "16171", unit="16171")).translations == ()


def test_the_personal_id_province_digits_are_never_translated() -> None:
    # Born in Hà Giang (002…), living today in Tuyên Quang: the ID goes out exactly as received.
    raw = dossier(NEW_DAY, "08", "00706")
    raw["DuLieuToKhai"]["SoDinhDanh"] = "002141001234"
    body = to_ministry_body(parse_ok(raw), {"f1": "TT-1"})
    assert body["doiTuong"]["soDinhDanh"] == "002141001234"
    assert body["doiTuong"]["noiThuongTru"]["maTinh"] == "08"


def test_place_residence_reports_both_codes_at_once() -> None:
    placed = place_residence("02", "16096", received_on=date(2026, 1, 15))
    assert [(f.field, f.code) for f in placed.faults] == [("province", "old_province_code"),
                                                          ("commune", "old_commune_code")]
    assert placed.province_code is None and placed.commune_code is None


def test_without_a_valid_reception_date_codes_in_neither_list_are_still_reported() -> None:
    raw = dossier("20241315083000", "38", "99999")  # month 13: which list applies is unknown
    assert set(faults_of(raw)) == {("NgayTiepNhan", "invalid_timestamp"),
                                   ("DuLieuToKhai.NoiThuongTru.MaXa", "unknown_commune")}
    split = dossier("20241315083000", "38", "15328")  # Xã Hà Bình, split in two
    assert ("DuLieuToKhai.NoiThuongTru.MaXa", "commune_split_ambiguous") in faults_of(split)
