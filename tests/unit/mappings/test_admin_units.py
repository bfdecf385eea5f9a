"""Administrative units: the post-2025 list in force, pre-2025 province codes translated."""

from __future__ import annotations

import pytest

from mappings import admin_units
from mappings._data import read_csv
from mappings.admin_units import commune, normalise_code, province, translate_unit
from mappings.tables import pre2025_province

# The 34 provinces in force from 1 July 2025 (Resolution 202/2025/QH15).
POST_2025_PROVINCES = [
    "01", "04", "08", "11", "12", "14", "15", "19", "20", "22", "24", "25", "31", "33", "37", "38", "40",
    "42", "44", "46", "48", "51", "52", "56", "66", "68", "75", "79", "80", "82", "86", "91", "92", "96",
]  # fmt: skip

# Pre-2025 code -> the post-2025 province it merged into (Resolution 202/2025/QH15).
MERGED = {
    "02": "08",  # Hà Giang -> Tuyên Quang
    "06": "19",  # Bắc Kạn -> Thái Nguyên
    "10": "15",  # Lào Cai + Yên Bái -> Lào Cai (15)
    "17": "25",  # Hòa Bình -> Phú Thọ
    "26": "25",  # Vĩnh Phúc -> Phú Thọ
    "27": "24",  # Bắc Ninh + Bắc Giang -> Bắc Ninh (24)
    "30": "31",  # Hải Dương -> Hải Phòng
    "34": "33",  # Thái Bình -> Hưng Yên
    "35": "37",  # Hà Nam -> Ninh Bình
    "36": "37",  # Nam Định -> Ninh Bình
    "45": "44",  # Quảng Trị + Quảng Bình -> Quảng Trị (44)
    "49": "48",  # Quảng Nam -> Đà Nẵng
    "54": "66",  # Phú Yên -> Đắk Lắk
    "58": "56",  # Ninh Thuận -> Khánh Hòa
    "60": "68",  # Bình Thuận -> Lâm Đồng
    "62": "51",  # Kon Tum -> Quảng Ngãi
    "64": "52",  # Gia Lai + Bình Định -> Gia Lai (52)
    "67": "68",  # Đắk Nông -> Lâm Đồng
    "70": "75",  # Bình Phước -> Đồng Nai
    "72": "80",  # Tây Ninh + Long An -> Tây Ninh (80)
    "74": "79",  # Bình Dương -> Hồ Chí Minh
    "77": "79",  # Bà Rịa - Vũng Tàu -> Hồ Chí Minh
    "83": "86",  # Bến Tre -> Vĩnh Long
    "84": "86",  # Trà Vinh -> Vĩnh Long
    "87": "82",  # Đồng Tháp + Tiền Giang -> Đồng Tháp (82)
    "89": "91",  # An Giang + Kiên Giang -> An Giang (91)
    "93": "92",  # Hậu Giang -> Cần Thơ
    "94": "92",  # Sóc Trăng -> Cần Thơ
    "95": "96",  # Bạc Liêu -> Cà Mau
}


def test_the_list_in_force_has_34_provinces() -> None:
    assert sorted(code for code in POST_2025_PROVINCES if province(code)) == sorted(POST_2025_PROVINCES)
    assert len(admin_units._provinces()) == 34
    thanh_hoa = province("38")
    assert thanh_hoa is not None and thanh_hoa.name == "Thanh Hóa"


def test_the_pre2025_list_has_63_provinces_each_mapped_into_the_list_in_force() -> None:
    rows = read_csv("provinces_pre2025.csv")
    assert len(rows) == 63
    for row in rows:
        assert province(row["new_code"]) is not None, row


@pytest.mark.parametrize(("old", "new"), sorted(MERGED.items()))
def test_pre2025_province_translation(old: str, new: str) -> None:
    found = pre2025_province(old)
    assert found is not None and found.new_code == new
    assert province(old) is None  # the code is no longer in force


@pytest.mark.parametrize("code", POST_2025_PROVINCES)
def test_a_province_code_in_force_keeps_its_code(code: str) -> None:
    found = pre2025_province(code)
    assert found is not None and found.new_code == code


def test_commune_of_the_example() -> None:
    found = commune("16171")
    assert found is not None
    assert found.province_code == "38"
    assert found.code == "16171"


@pytest.mark.parametrize(
    ("code", "width", "expected"),
    [("8", 2, "08"), ("08", 2, "08"), (" 38 ", 2, "38"), (4, 5, "00004"), ("00004", 5, "00004"),
     ("038", 2, None), ("3a", 2, None), ("", 2, None), ("３８", 2, None), ("-1", 2, None)],
)  # fmt: skip
def test_normalise_code(code: str | int, width: int, expected: str | None) -> None:
    assert normalise_code(code, width) == expected


def test_post2025_codes_are_accepted_as_is() -> None:
    unit = translate_unit("38", "16171")
    assert unit.ok
    assert (unit.province_code, unit.commune_code) == ("38", "16171")
    assert not unit.translated


def test_codes_without_leading_zeros_are_padded_not_translated() -> None:
    unit = translate_unit("8", "2269")  # Tuyên Quang, Xã Thượng Lâm
    assert unit.ok
    assert (unit.province_code, unit.commune_code) == ("08", "02269")
    assert (unit.submitted_province_code, unit.submitted_commune_code) == ("08", "02269")
    assert not unit.translated


def test_pre2025_province_code_is_translated() -> None:
    unit = translate_unit("02", "02269")  # Hà Giang (pre-2025) + a commune of today's Tuyên Quang
    assert unit.ok
    assert unit.province_code == "08"
    assert unit.submitted_province_code == "02"
    assert unit.translated


@pytest.mark.parametrize("code", ["03", "99", "00", "abc", "038", ""])
def test_unknown_province_is_refused(code: str) -> None:
    unit = translate_unit(code, "16171")
    assert not unit.ok
    assert [(e.field, e.code) for e in unit.errors] == [("province", "unknown_province")]
    assert unit.province_code is None


@pytest.mark.parametrize("code", ["99999", "123456", "xa", ""])
def test_unknown_commune_is_refused(code: str) -> None:
    unit = translate_unit("38", code)
    assert [(e.field, e.code) for e in unit.errors] == [("commune", "unknown_commune")]
    assert unit.commune_code is None


def test_commune_not_in_province_is_refused() -> None:
    unit = translate_unit("01", "16171")  # Hà Nội + a Thanh Hóa commune
    assert [(e.field, e.code) for e in unit.errors] == [("commune", "commune_not_in_province")]


def test_commune_not_in_the_translated_province_is_refused() -> None:
    unit = translate_unit("36", "16171")  # Nam Định became part of Ninh Bình, not Thanh Hóa
    assert unit.province_code == "37"
    assert [(e.field, e.code) for e in unit.errors] == [("commune", "commune_not_in_province")]


def test_both_faults_are_reported() -> None:
    unit = translate_unit("99", "99999")
    assert [(e.field, e.code) for e in unit.errors] == [
        ("province", "unknown_province"),
        ("commune", "unknown_commune"),
    ]


def test_pre2025_commune_codes_translate_through_the_data_file(monkeypatch: pytest.MonkeyPatch) -> None:
    # Rows fed as the file would give them (99001/99002 are not real codes).
    monkeypatch.setattr(
        admin_units, "_commune_translations", lambda: {"99001": ("16171",), "99002": ("16171", "02269")}
    )
    unit = translate_unit("38", "99001")
    assert unit.ok
    assert unit.commune_code == "16171"
    assert unit.translated

    split = translate_unit("38", "99002")
    assert [(e.field, e.code) for e in split.errors] == [("commune", "commune_split_ambiguous")]
    assert split.commune_code is None


def test_commune_translation_file_is_well_formed() -> None:
    translations = admin_units._commune_translations()
    assert translations  # the file lists every old commune (test_communes_pre2025.py)
    for old, news in translations.items():
        assert len(old) == 5 and commune(old) is None, old  # translate_unit keeps a code in force as is
        assert news and all(commune(new) is not None for new in news), old
